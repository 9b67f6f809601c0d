// Landlock kernel ABI as jitsec uses it: syscall numbers, structures and flags up to ABI 7,
// defined here so the build does not depend on the installed kernel headers (Debian 12's
// linux-libc-dev stops at ABI 2). Values from include/uapi/linux/landlock.h (Linux 6.15).
// Pure constants; usable on both sides of the fork. Do not include <linux/landlock.h> with it.
#pragma once

#include <sys/syscall.h>

#include <cstdint>

namespace jitsec::sandbox::landlock_abi {

// The three syscalls have the same number on every architecture (generic table).
inline constexpr long kSysCreateRuleset = 444;
inline constexpr long kSysAddRule = 445;
inline constexpr long kSysRestrictSelf = 446;

inline constexpr uint32_t kCreateRulesetVersion = 1U << 0;

// The newest ABI jitsec knows. A kernel reporting more is used at this level.
inline constexpr int kMaxKnownAbi = 7;

struct RulesetAttr {
  uint64_t handled_access_fs = 0;
  uint64_t handled_access_net = 0;  // ABI >= 4
  uint64_t scoped = 0;              // ABI >= 6
};

inline constexpr uint32_t kRulePathBeneath = 1;
inline constexpr uint32_t kRuleNetPort = 2;

struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access = 0;
  int32_t parent_fd = -1;
};

// File-system access rights.
inline constexpr uint64_t kFsExecute = 1ULL << 0;
inline constexpr uint64_t kFsWriteFile = 1ULL << 1;
inline constexpr uint64_t kFsReadFile = 1ULL << 2;
inline constexpr uint64_t kFsReadDir = 1ULL << 3;
inline constexpr uint64_t kFsRemoveDir = 1ULL << 4;
inline constexpr uint64_t kFsRemoveFile = 1ULL << 5;
inline constexpr uint64_t kFsMakeChar = 1ULL << 6;
inline constexpr uint64_t kFsMakeDir = 1ULL << 7;
inline constexpr uint64_t kFsMakeReg = 1ULL << 8;
inline constexpr uint64_t kFsMakeSock = 1ULL << 9;
inline constexpr uint64_t kFsMakeFifo = 1ULL << 10;
inline constexpr uint64_t kFsMakeBlock = 1ULL << 11;
inline constexpr uint64_t kFsMakeSym = 1ULL << 12;
inline constexpr uint64_t kFsRefer = 1ULL << 13;     // ABI >= 2
inline constexpr uint64_t kFsTruncate = 1ULL << 14;  // ABI >= 3
inline constexpr uint64_t kFsIoctlDev = 1ULL << 15;  // ABI >= 5

// Rights that only make sense on a directory (refused by the kernel on a file rule).
inline constexpr uint64_t kFsDirOnly = kFsReadDir | kFsRemoveDir | kFsRemoveFile | kFsMakeChar |
                                       kFsMakeDir | kFsMakeReg | kFsMakeSock | kFsMakeFifo |
                                       kFsMakeBlock | kFsMakeSym | kFsRefer;

// Network rights (ABI >= 4).
inline constexpr uint64_t kNetBindTcp = 1ULL << 0;
inline constexpr uint64_t kNetConnectTcp = 1ULL << 1;

// Scopes (ABI >= 6).
inline constexpr uint64_t kScopeAbstractUnixSocket = 1ULL << 0;
inline constexpr uint64_t kScopeSignal = 1ULL << 1;

// Every file-system right the kernel handles at `abi` (0 for abi < 1).
constexpr uint64_t HandledFsAccess(int abi) {
  if (abi < 1) return 0;
  uint64_t access = (kFsMakeSym << 1) - 1;  // ABI 1: bits 0..12
  if (abi >= 2) access |= kFsRefer;
  if (abi >= 3) access |= kFsTruncate;
  if (abi >= 5) access |= kFsIoctlDev;
  return access;
}

constexpr uint64_t HandledScopes(int abi) {
  return abi >= 6 ? (kScopeAbstractUnixSocket | kScopeSignal) : 0;
}

}  // namespace jitsec::sandbox::landlock_abi
