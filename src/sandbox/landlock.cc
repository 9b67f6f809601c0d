// Landlock: ABI probe and ruleset construction (parent), rule addition and restrict_self
// (child, async-signal-safe).
#include "sandbox/landlock.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string>

#include "base/log.h"
#include "sandbox/landlock_abi.h"

namespace jitsec::sandbox {
namespace {

namespace ll = landlock_abi;

// Host device nodes that the sandbox's minimal /dev bind-mounts: the binds keep their host
// inodes, so rules opened here still apply after pivot_root.
constexpr std::array<const char*, 8> kDeviceNodes = {
    "/dev/null", "/dev/zero", "/dev/full", "/dev/random",
    "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/pts",
};

int EffectiveAbi(int abi) { return std::clamp(abi, 0, ll::kMaxKnownAbi); }

uint64_t MaskForFd(uint64_t access, int fd, int abi) {
  access &= ll::HandledFsAccess(abi);
  struct stat st {};
  if (::fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) access &= ~ll::kFsDirOnly;
  return access;
}

int AddRule(int ruleset_fd, int path_fd, uint64_t access) {
  ll::PathBeneathAttr attr;
  attr.allowed_access = access;
  attr.parent_fd = path_fd;
  return static_cast<int>(::syscall(ll::kSysAddRule, ruleset_fd, ll::kRulePathBeneath, &attr, 0U));
}

// Opens `path` O_PATH; returns -1 with errno set. Write trees resolve without symlinks.
int OpenRulePath(const std::filesystem::path& path, bool no_symlinks) {
  if (!no_symlinks) return ::open(path.c_str(), O_PATH | O_CLOEXEC);
  struct open_how how {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof(how)));
}

// Adds one rule for `path`; a missing path is skipped.
Status AddPathRule(const LandlockRuleset& rs, const std::filesystem::path& path, uint64_t access,
                   bool no_symlinks) {
  UniqueFd fd(OpenRulePath(path, no_symlinks));
  if (!fd) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      log::Debug("landlock: skipping missing path \"{}\"", path.string());
      return Ok();
    }
    if (no_symlinks && (err == ELOOP || err == EXDEV)) {
      log::Warn("landlock: not granting write access to \"{}\": the path goes through a symlink",
                path.string());
      return Ok();
    }
    return FailErrno(ErrorCode::kIo, "open \"" + path.string() + "\" for a landlock rule", err);
  }
  if (AddRule(rs.fd.get(), fd.get(), MaskForFd(access, fd.get(), rs.abi)) != 0) {
    return FailErrno(ErrorCode::kIo, "landlock_add_rule \"" + path.string() + "\"");
  }
  return Ok();
}

}  // namespace

int ProbeLandlockAbi() {
  const long abi = ::syscall(ll::kSysCreateRuleset, nullptr, 0, ll::kCreateRulesetVersion);
  return abi > 0 ? static_cast<int>(abi) : 0;
}

uint64_t LandlockReadAccess(int abi) {
  return (ll::kFsExecute | ll::kFsReadFile | ll::kFsReadDir) & ll::HandledFsAccess(EffectiveAbi(abi));
}

uint64_t LandlockFullAccess(int abi) { return ll::HandledFsAccess(EffectiveAbi(abi)); }

Result<LandlockRuleset> PrepareLandlock(const SandboxPlan& plan, int abi) {
  LandlockRuleset rs;
  rs.abi = EffectiveAbi(abi);
  if (rs.abi == 0) return rs;

  // Only the fields up to the last one this ABI knows are passed: an older kernel rejects a
  // larger struct whose extra fields are non-zero, and we never set those.
  ll::RulesetAttr attr;
  attr.handled_access_fs = ll::HandledFsAccess(rs.abi);
  attr.scoped = ll::HandledScopes(rs.abi);
  const size_t attr_size = rs.abi >= 6   ? sizeof(attr)
                           : rs.abi >= 4 ? offsetof(ll::RulesetAttr, scoped)
                                         : offsetof(ll::RulesetAttr, handled_access_net);
  const long fd = ::syscall(ll::kSysCreateRuleset, &attr, attr_size, 0U);
  if (fd < 0) {
    const int err = errno;
    const ErrorCode code =
        (err == ENOSYS || err == EOPNOTSUPP || err == EINVAL) ? ErrorCode::kUnsupported : ErrorCode::kIo;
    return FailErrno(code, "landlock_create_ruleset (ABI " + std::to_string(rs.abi) + ")", err);
  }
  rs.fd.reset(static_cast<int>(fd));

  const uint64_t read = LandlockReadAccess(rs.abi);
  const uint64_t full = LandlockFullAccess(rs.abi);
  for (const auto& p : plan.read) JITSEC_TRY(AddPathRule(rs, p, read, /*no_symlinks=*/false));
  for (const auto& p : plan.write) JITSEC_TRY(AddPathRule(rs, p, full, /*no_symlinks=*/true));
  const uint64_t device = ll::kFsReadFile | ll::kFsWriteFile | ll::kFsIoctlDev | ll::kFsReadDir;
  for (const char* node : kDeviceNodes) {
    JITSEC_TRY(AddPathRule(rs, node, device, /*no_symlinks=*/false));
  }
  return rs;
}

namespace child {

bool AddLandlockRule(const LandlockRuleset& rs, int dir_fd, uint64_t access) noexcept {
  return AddLandlockRule(rs.abi, rs.fd.get(), dir_fd, access);
}

bool AddLandlockRule(int abi, int ruleset_fd, int dir_fd, uint64_t access) noexcept {
  if (abi == 0) return true;
  return AddRule(ruleset_fd, dir_fd, MaskForFd(access, dir_fd, abi)) == 0;
}

bool ApplyLandlock(const LandlockRuleset& rs) noexcept { return ApplyLandlock(rs.abi, rs.fd.get()); }

bool ApplyLandlock(int abi, int ruleset_fd) noexcept {
  if (abi == 0) return true;
  return ::syscall(ll::kSysRestrictSelf, ruleset_fd, 0U) == 0;
}

}  // namespace child
}  // namespace jitsec::sandbox
