// Landlock layer of the sandbox: probes the ABI, builds the ruleset in the parent (opening each
// plan path O_PATH and adding it), and restricts the command in the child just before seccomp
// and exec. It only ever grants what the plan says; it cannot subtract. jitsec_readonly,
// jitsec_hidden, deny and protect paths that lie under an allowed tree are enforced by the
// mounts (sbx), not here. Network is left to the network namespace (see PrepareLandlock).
// Parent side: ProbeLandlockAbi, PrepareLandlock. Child side (async-signal-safe): child::*.
#pragma once

#include <cstdint>

#include "base/error.h"
#include "base/unique_fd.h"
#include "sandbox/sandbox.h"

namespace jitsec::sandbox {

// The Landlock ABI version of this kernel, 0 when Landlock is unsupported or disabled.
int ProbeLandlockAbi();

struct LandlockRuleset {
  UniqueFd fd;  // O_CLOEXEC ruleset descriptor; empty when abi == 0
  int abi = 0;  // the ABI the ruleset was built for (0: Landlock not enforced)
};

// Access masks for rules, limited to what `abi` handles. Read: execute, read files, list
// directories. Full: every file-system right of the ABI (write trees, /tmp, /dev).
uint64_t LandlockReadAccess(int abi);
uint64_t LandlockFullAccess(int abi);

// Parent side: creates the ruleset for the plan. It handles every file-system right of `abi`
// (capped at landlock_abi::kMaxKnownAbi); `read` trees get LandlockReadAccess, `write` trees
// LandlockFullAccess, and the host device nodes the sandbox's /dev binds (null, zero, full,
// random, urandom, tty, ptmx, pts) read, write and ioctl. At ABI >= 6 it also scopes signals
// and abstract unix sockets: the command cannot signal or connect to anything outside its own
// Landlock domain (the init and jitsec included). Network rights (ABI >= 4) are not handled:
// Landlock can only allow listed ports, which would break `network: host`; `network: none` is
// enforced by the network namespace.
// Each path is opened O_PATH|O_CLOEXEC (read trees follow symlinks; write trees are opened with
// RESOLVE_NO_SYMLINKS so a link planted in the workspace cannot widen write access, and a write
// tree reached through a symlink is skipped with a warning). A missing path is skipped.
// abi == 0 returns an empty ruleset (nothing enforced; BuildPlan decides whether that is
// acceptable). Fails with kUnsupported if the kernel refuses the ruleset, kIo for other errors,
// naming the syscall and path.
[[nodiscard]] Result<LandlockRuleset> PrepareLandlock(const SandboxPlan& plan, int abi);

namespace child {

// Adds one path-beneath rule for an already open directory or file (O_PATH is enough), for
// things that only exist inside the new root and so cannot be opened by the parent: the init
// calls it after mounting, before forking the command, for the private /tmp and /dev
// (LandlockFullAccess), the new /proc (LandlockReadAccess plus write if needed) and each
// `file:` secret mount target (read: a bind-mounted memfd is not covered by any host rule once
// its mount point hides it). `access` is masked to the ruleset's ABI and, for a non-directory,
// to file rights. The ruleset fd must be shared with the parent's (inherited, not re-created).
// Returns false with errno set; true without doing anything when rs.abi == 0.
// Async-signal-safe.
bool AddLandlockRule(const LandlockRuleset& rs, int dir_fd, uint64_t access) noexcept;
// The same with the ruleset at a descriptor of its own (the init received it with its command).
bool AddLandlockRule(int abi, int ruleset_fd, int dir_fd, uint64_t access) noexcept;

// landlock_restrict_self on the ruleset. Needs PR_SET_NO_NEW_PRIVS first (or CAP_SYS_ADMIN).
// Returns false with errno set; true without doing anything when rs.abi == 0.
// Async-signal-safe.
bool ApplyLandlock(const LandlockRuleset& rs) noexcept;
// The same with the ruleset at another descriptor (the init raises it above the command's
// descriptor targets).
bool ApplyLandlock(int abi, int ruleset_fd) noexcept;

}  // namespace child
}  // namespace jitsec::sandbox
