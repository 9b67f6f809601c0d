// The sandbox: a plan built from the policy (pure data, printable by `jitsec explain`),
// prepared in the parent (path fds, Landlock ruleset, exported seccomp BPF), then applied by
// the namespace init and the command after clone. libseccomp is seen only in seccomp.cc.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/exec_spec.h"
#include "base/unique_fd.h"
#include "policy/policy.h"

namespace jitsec::sandbox {

// What this kernel offers. Probed once and cached in the state directory, keyed by release.
struct KernelFeatures {
  std::string release;
  bool user_namespaces = false;
  int landlock_abi = 0;  // 0: none
  bool seccomp_filter = false;
  bool memfd_seal = false;
  bool memfd_secret = false;
  bool pidfd = false;
  bool clone3 = false;
  bool cgroup_v2 = false;
  nlohmann::json ToJson() const;
};
// Reads <state_dir>/kernel.json if it matches this kernel's release, else probes and writes it.
// An empty state_dir probes without caching.
[[nodiscard]] Result<KernelFeatures> ProbeKernel(const std::filesystem::path& state_dir);

// Inputs resolved by the caller from the run context (sandbox does not see context/).
struct PlanInputs {
  std::filesystem::path workspace;  // "." (git root or cwd)
  std::filesystem::path home;       // "~"
  // jitsec's own files: never writable inside; `hidden` ones not readable either.
  std::vector<std::filesystem::path> jitsec_readonly;  // policy file, config dir, state dir
  std::vector<std::filesystem::path> jitsec_hidden;    // store dir, store key, audit key
  // file: {path: ...} deliveries: mount target -> index into the delivered fds.
  struct SecretMount {
    std::filesystem::path target;
    int fd_target;  // the child's fd number holding the sealed memfd
  };
  std::vector<SecretMount> secret_mounts;
};

struct SandboxPlan {
  bool enabled = true;
  policy::Network network = policy::Network::kNone;
  std::vector<std::filesystem::path> read;     // absolute, normalised
  std::vector<std::filesystem::path> write;
  std::vector<std::filesystem::path> deny;
  std::vector<std::filesystem::path> protect;
  std::vector<PlanInputs::SecretMount> secret_mounts;
  std::vector<std::filesystem::path> jitsec_readonly;
  std::vector<std::filesystem::path> jitsec_hidden;
  // What will be enforced given the kernel (filled by BuildPlan).
  int landlock_abi = 0;
  bool seccomp = true;
  std::vector<std::string> warnings;
  nlohmann::json ToJson() const;  // for explain
};

// Pure: resolves "~", "." and relative paths; refuses (kUnsupported, one line naming the layer)
// when the kernel lacks a layer the policy requires.
[[nodiscard]] Result<SandboxPlan> BuildPlan(const policy::SandboxConfig& config,
                                            const PlanInputs& inputs,
                                            const KernelFeatures& kernel);

// Parent-side preparation (opened path fds, Landlock ruleset fd, exported BPF program).
class PreparedSandbox {
 public:
  struct Impl;  // defined in the sandbox's .cc files
  explicit PreparedSandbox(std::unique_ptr<Impl> impl);
  PreparedSandbox(PreparedSandbox&&) noexcept;
  PreparedSandbox& operator=(PreparedSandbox&&) noexcept;
  ~PreparedSandbox();
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};
[[nodiscard]] Result<PreparedSandbox> Prepare(const SandboxPlan& plan, const KernelFeatures& kernel);

struct Launched {
  pid_t pid = -1;   // the namespace init (or the command itself when not sandboxed)
  UniqueFd pidfd;
};

// Clones the namespace init (user, mount, PID, net, IPC, UTS) with CLONE_PIDFD, writes the
// uid/gid maps, and waits on the report pipe until the command has exec'd. The init sets up
// mounts, forks the command (which applies no_new_privs, Landlock and seccomp, then execs
// spec), forwards signals it receives to the command, reaps, kills everything left when the
// command exits, and exits with the command's status (128+N for a signal).
// Errors: kCommandNotFound / kCommandNotExecutable for exec failures, kChildSetup naming the
// step and errno for everything else.
[[nodiscard]] Result<Launched> Launch(const PreparedSandbox& sandbox, const ExecSpec& spec);

}  // namespace jitsec::sandbox
