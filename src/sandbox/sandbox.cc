// Plan building (pure), plan/feature JSON and the cached kernel probe. Parent side.
#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "base/fs.h"
#include "base/log.h"
#include "sandbox/landlock.h"

namespace jitsec::sandbox {
namespace fs = std::filesystem;

namespace {

// Bump when the probe or the meaning of a field changes: old caches are then re-probed.
constexpr int kProbeFormat = 1;

std::string PolicyNetworkName(policy::Network n) {
  switch (n) {
    case policy::Network::kNone: return "none";
    case policy::Network::kHost: return "host";
  }
  return "none";
}

nlohmann::json PathList(const std::vector<fs::path>& paths) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& p : paths) a.push_back(p.string());
  return a;
}

// Lexically normalised absolute path without a trailing slash ("/" stays "/").
fs::path Normalise(const fs::path& p) {
  fs::path n = p.lexically_normal();
  std::string s = n.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return fs::path(s);
}

Result<fs::path> Resolve(std::string_view written, const PlanInputs& in, std::string_view key) {
  if (written.empty()) {
    return Fail(ErrorCode::kPolicyInvalid, "sandbox." + std::string(key) + ": empty path");
  }
  fs::path out;
  if (written == "~" || written.starts_with("~/")) {
    if (in.home.empty() || !in.home.is_absolute()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "sandbox." + std::string(key) + " \"" + std::string(written) +
                      "\": the home directory is unknown");
    }
    out = written == "~" ? in.home : in.home / std::string(written.substr(2));
  } else if (written.starts_with("~")) {
    return Fail(ErrorCode::kPolicyInvalid, "sandbox." + std::string(key) + " \"" +
                                               std::string(written) +
                                               "\": only \"~\" and \"~/...\" are supported");
  } else if (written.starts_with("/")) {
    out = fs::path(std::string(written));
  } else {
    if (in.workspace.empty() || !in.workspace.is_absolute()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "sandbox." + std::string(key) + " \"" + std::string(written) +
                      "\": the workspace is unknown");
    }
    out = written == "." ? in.workspace : in.workspace / std::string(written);
  }
  return Normalise(out);
}

// Whether v holds p; both normalised (Normalise), so that equal paths are equal strings, which
// compare much faster than paths (component by component).
bool Holds(const std::vector<fs::path>& v, const fs::path& p) {
  return std::any_of(v.begin(), v.end(), [&](const fs::path& q) { return q.native() == p.native(); });
}

Result<std::vector<fs::path>> ResolveAll(const std::vector<std::string>& written,
                                         const PlanInputs& in, std::string_view key) {
  std::vector<fs::path> out;
  for (const auto& w : written) {
    JITSEC_ASSIGN_OR_RETURN(fs::path p, Resolve(w, in, key));
    if (!Holds(out, p)) out.push_back(std::move(p));
  }
  return out;
}

std::vector<fs::path> NormaliseAll(const std::vector<fs::path>& in) {
  std::vector<fs::path> out;
  for (const auto& p : in) {
    fs::path n = Normalise(p);
    if (!Holds(out, n)) out.push_back(std::move(n));
  }
  return out;
}

std::string Refusal(std::string_view what, std::string_view why) {
  return "sandbox requires " + std::string(what) + ", which this kernel " + std::string(why) +
         " (see jitsec doctor); set sandbox.enabled: false in the task to run without";
}

// --- probes (each a handful of syscalls; run only when the cache misses) ---

bool ProbeUserNamespaces() {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) ::_exit(::unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool ProbeSeccomp() {
  if (::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0) return false;
  auto actions = ReadFile("/proc/sys/kernel/seccomp/actions_avail");
  return actions && actions->find("errno") != std::string::npos &&
         actions->find("kill_process") != std::string::npos;
}

bool ProbeMemfdSeal() {
  int fd = ::memfd_create("jitsec-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return false;
  bool ok = ::fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK) == 0;
  ::close(fd);
  return ok;
}

bool ProbeMemfdSecret() {
  long fd = ::syscall(447 /* memfd_secret */, 0U);
  if (fd < 0) return false;
  ::close(int(fd));
  return true;
}

bool ProbePidfd() {
  long fd = ::syscall(SYS_pidfd_open, ::getpid(), 0U);
  if (fd < 0) return false;
  ::close(int(fd));
  return true;
}

bool ProbeClone3() {
  // A too-small size is rejected with EINVAL by a kernel that has clone3, ENOSYS otherwise.
  errno = 0;
  long r = ::syscall(SYS_clone3, nullptr, size_t{0});
  return r < 0 && errno != ENOSYS;
}

KernelFeatures ProbeNow(std::string release) {
  KernelFeatures k;
  k.release = std::move(release);
  k.user_namespaces = ProbeUserNamespaces();
  k.landlock_abi = ProbeLandlockAbi();
  k.seccomp_filter = ProbeSeccomp();
  k.memfd_seal = ProbeMemfdSeal();
  k.memfd_secret = ProbeMemfdSecret();
  k.pidfd = ProbePidfd();
  k.clone3 = ProbeClone3();
  k.cgroup_v2 = ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
  return k;
}

std::optional<KernelFeatures> FromCache(const std::string& text, const std::string& release) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto format = j.find("format");
  auto rel = j.find("release");
  if (format == j.end() || !format->is_number_integer() || format->get<int>() != kProbeFormat ||
      rel == j.end() || !rel->is_string() || rel->get<std::string>() != release) {
    return std::nullopt;
  }
  KernelFeatures k;
  k.release = release;
  auto get_bool = [&](const char* name, bool& out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_boolean()) return false;
    out = it->get<bool>();
    return true;
  };
  auto abi = j.find("landlock_abi");
  if (abi == j.end() || !abi->is_number_integer()) return std::nullopt;
  k.landlock_abi = abi->get<int>();
  if (!get_bool("user_namespaces", k.user_namespaces) ||
      !get_bool("seccomp_filter", k.seccomp_filter) || !get_bool("memfd_seal", k.memfd_seal) ||
      !get_bool("memfd_secret", k.memfd_secret) || !get_bool("pidfd", k.pidfd) ||
      !get_bool("clone3", k.clone3) || !get_bool("cgroup_v2", k.cgroup_v2)) {
    return std::nullopt;
  }
  return k;
}

}  // namespace

nlohmann::json KernelFeatures::ToJson() const {
  return nlohmann::json{
      {"format", kProbeFormat},          {"release", release},
      {"user_namespaces", user_namespaces}, {"landlock_abi", landlock_abi},
      {"seccomp_filter", seccomp_filter}, {"memfd_seal", memfd_seal},
      {"memfd_secret", memfd_secret},    {"pidfd", pidfd},
      {"clone3", clone3},                {"cgroup_v2", cgroup_v2},
  };
}

Result<KernelFeatures> ProbeKernel(const fs::path& state_dir) {
  struct utsname u {};
  if (::uname(&u) != 0) return FailErrno(ErrorCode::kInternal, "uname");
  std::string release = u.release;
  if (state_dir.empty()) return ProbeNow(release);

  fs::path cache = state_dir / "kernel.json";
  if (auto text = ReadFile(cache, /*nofollow=*/true)) {
    if (auto k = FromCache(*text, release)) return *k;
  }
  KernelFeatures k = ProbeNow(release);
  // The cache is an optimisation: failing to write it must not fail the run.
  Status st = EnsureDirectory(state_dir, 0700);
  if (st) st = WriteFileAtomic(cache, k.ToJson().dump() + "\n", 0600);
  if (!st) log::Debug("not caching the kernel probe: {}", st.error().message());
  return k;
}

nlohmann::json SandboxPlan::ToJson() const {
  nlohmann::json mounts = nlohmann::json::array();
  for (const auto& m : secret_mounts) {
    mounts.push_back({{"target", m.target.string()}, {"fd", m.fd_target}});
  }
  return nlohmann::json{
      {"enabled", enabled},
      {"network", PolicyNetworkName(network)},
      {"read", PathList(read)},
      {"write", PathList(write)},
      {"deny", PathList(deny)},
      {"protect", PathList(protect)},
      {"secret_mounts", mounts},
      {"jitsec_readonly", PathList(jitsec_readonly)},
      {"jitsec_hidden", PathList(jitsec_hidden)},
      {"shell_startup", PathList(shell_startup)},
      {"deny_default", PathList(deny_default)},
      {"landlock_abi", landlock_abi},
      {"seccomp", seccomp},
      {"warnings", warnings},
  };
}

Result<SandboxPlan> BuildPlan(const policy::SandboxConfig& config, const PlanInputs& inputs,
                              const KernelFeatures& kernel) {
  SandboxPlan plan;
  plan.enabled = config.enabled;
  plan.network = config.network;
  if (!config.enabled) {
    plan.seccomp = false;
    plan.warnings.push_back("sandbox disabled by the task: the command sees the whole machine");
    return plan;
  }
  if (!kernel.user_namespaces) {
    return Fail(ErrorCode::kUnsupported,
                Refusal("unprivileged user namespaces", "does not allow"));
  }
  if (kernel.landlock_abi < 1) {
    return Fail(ErrorCode::kUnsupported, Refusal("Landlock", "does not offer"));
  }
  if (!kernel.seccomp_filter) {
    return Fail(ErrorCode::kUnsupported, Refusal("seccomp filters", "does not offer"));
  }

  JITSEC_ASSIGN_OR_RETURN(plan.write, ResolveAll(config.write, inputs, "filesystem.write"));
  JITSEC_ASSIGN_OR_RETURN(auto read, ResolveAll(config.read, inputs, "filesystem.read"));
  // Writes win over reads for the same path.
  for (auto& p : read) {
    if (!Holds(plan.write, p)) {
      plan.read.push_back(std::move(p));
    }
  }
  if (config.deny_explicit || !config.deny.empty()) {
    JITSEC_ASSIGN_OR_RETURN(plan.deny, ResolveAll(config.deny, inputs, "filesystem.deny"));
  } else {
    for (const char* d : policy::kDefaultDeny) {
      if (d[0] == '~' && (inputs.home.empty() || !inputs.home.is_absolute())) continue;
      JITSEC_ASSIGN_OR_RETURN(fs::path p, Resolve(d, inputs, "filesystem.deny"));
      bool holds_delivery = false;
      for (const auto& m : inputs.secret_mounts) {
        fs::path t = Normalise(m.target);
        holds_delivery = holds_delivery || t == p || t.string().starts_with(p.string() + "/");
      }
      if (holds_delivery) {
        plan.warnings.push_back("the default deny entry \"" + p.string() +
                                "\" is not applied: a credential is delivered inside it");
        continue;
      }
      if (!Holds(plan.deny_default, p)) {
        plan.deny_default.push_back(std::move(p));
      }
    }
  }
  // The default entries (.git/hooks, .git/config) protect a repository's hooks and
  // configuration, which git runs and reads on its own. In a workspace that is no repository
  // there is none to protect, and a protected path that does not exist freezes its nearest
  // existing ancestor (mount_plan.h): here the workspace's top level, where nothing new could
  // be created for the whole run (a build's first output file fails). A `.git` made during the
  // run is then not protected, as none is in any subdirectory; a task that wants it says so
  // with an explicit `protect:`, which always applies.
  if (config.protect_explicit || inputs.workspace_has_dot_git) {
    JITSEC_ASSIGN_OR_RETURN(plan.protect, ResolveAll(config.protect, inputs, "protect"));
  } else {
    plan.warnings.push_back("the workspace is not a git repository: the default protect entries "
                            "(.git/hooks, .git/config) do not apply");
  }
  if (!inputs.home.empty() && inputs.home.is_absolute()) {
    for (const char* name : kShellStartupFiles) plan.shell_startup.push_back(inputs.home / name);
  }
  plan.jitsec_readonly = NormaliseAll(inputs.jitsec_readonly);
  plan.jitsec_hidden = NormaliseAll(inputs.jitsec_hidden);
  for (const auto& m : inputs.secret_mounts) {
    if (!m.target.is_absolute()) {
      return Fail(ErrorCode::kPolicyInvalid,
                  "file delivery path \"" + m.target.string() + "\" must be absolute");
    }
    plan.secret_mounts.push_back({Normalise(m.target), m.fd_target});
  }

  plan.landlock_abi = kernel.landlock_abi;
  plan.seccomp = true;
  if (kernel.landlock_abi < 6) {
    plan.warnings.push_back("Landlock ABI " + std::to_string(kernel.landlock_abi) +
                            " < 6: signals and abstract unix sockets are not scoped");
  }
  if (config.network == policy::Network::kHost) {
    plan.warnings.push_back("network: host: the command can reach the network");
  }
  return plan;
}

}  // namespace jitsec::sandbox
