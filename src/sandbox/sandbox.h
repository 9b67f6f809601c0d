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

// Design (implemented in namespaces.cc, child_apply.cc, mount_plan.cc, exec_message.cc):
//  - Prestart (as `run` starts, before the policy is read): a helper (clone CLONE_VM |
//    CLONE_FILES) unshares NEWUSER and, unless network host, NEWNET, and brings loopback up,
//    while jitsec reads the policy and prepares the sandbox.
//  - Start (as soon as the sandbox is prepared, before anything is issued): a socketpair for
//    the command, report pipe (O_CLOEXEC) and status pipe, a stack for the command (mapped
//    here, inherited by the init); the helper clones the init with clone3 CLONE_PARENT |
//    CLONE_PIDFD | NEWNS|NEWPID|NEWIPC|NEWUTS (clone() when clone3 is ENOSYS) and exits. The
//    kernel's namespace and mount work then runs while jitsec issues.
//  - Launch: the command (descriptors by SCM_RIGHTS, argv, envp, cwd) on the socket, then
//    reads the report pipe: EOF = the command exec'd.
//  - The init (pid 1, no exec, jitsec's child): closes jitsec's ends of the pipes and socket,
//    PDEATHSIG(SIGKILL) (exits if jitsec is already gone), its own process
//    group, writes its own setgroups "deny", uid_map "U U 1", gid_map "G G 1" (jitsec's ids;
//    dumpable only while it opens them), builds the root (and, when asked, sends jitsec the
//    master of a pty of its own devpts: sandbox::ReceivePtyMaster), sets the hostname,
//    receives its command (and the Landlock ruleset and seccomp program jitsec built
//    meanwhile), attaches secret files, pivots, starts the command
//    with clone(CLONE_VM|CLONE_VFORK) on the premapped stack, closes every descriptor but the
//    status pipe, forwards INT/TERM/HUP/QUIT/WINCH/USR1/USR2, reaps, and when the command exits
//    kills the rest of the namespace, writes the command's exit code on the status pipe (128+N
//    for a signal) and exits with it; jitsec reaps the init last.
//  - Mounts, by descriptor: every source is opened with openat2(RESOLVE_NO_SYMLINKS) and cloned
//    with open_tree(OPEN_TREE_CLONE|AT_RECURSIVE) before anything is mounted; read trees get
//    mount_setattr(RDONLY, recursive); targets are opened below the new root with
//    RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH and reached with move_mount. The new root is built at
//    the old root's /tmp (the clone of "/" when "/" is read, else a tmpfs made read-only),
//    then pivot_root(".", ".") and a lazy detach of the old root.
//    Ordering: path depth, then trees < freezes < protects < denies < mirrors < secrets.
//    Protect/jitsec_readonly: read-only rebind (only where the path is writable inside).
//    Deny/jitsec_hidden: an empty mode-000 read-only tmpfs (dirs) or an empty mode-000 file
//    (files). A protected or denied path that does not exist: its nearest existing ancestor is
//    frozen (see mount_plan.h): no host side effect, at the cost of not being able to create
//    entries directly in that ancestor during the run (Prepare logs a warning).
//    `file: {path}`: memfds cannot be bind-mounted, so the init copies the content into a
//    0400 file on a private staging tmpfs and binds it read-only (mount_plan.h, kMirror). These
//    come last, once the command's descriptors have arrived (a file covers nothing below it).
//    Plan paths that go through a symbolic link inside a writable tree are refused.
//  - The command: fd table, signals, setsid/pdeathsig/cwd, no_new_privs, capabilities dropped
//    (locked securebits NOROOT|NO_SETUID_FIXUP, bounding set, ambient, capset), Landlock (with
//    extra rules for the private /tmp, /dev, /proc and secret files), seccomp, exec.

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
  // Whether <workspace>/.git exists (of any type). The default `protect` entries are inside it:
  // when it does not, they are not applied (see BuildPlan).
  bool workspace_has_dot_git = true;
};

// Files a shell reads and runs at its next start, relative to the home directory.
inline constexpr const char* kShellStartupFiles[] = {
    ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile",  ".zshenv",
    ".zprofile", ".zshrc", ".zlogin", ".zlogout", ".config/fish", ".kshrc", ".mkshrc",
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
  // The caller's shell start-up files (kShellStartupFiles below the home directory): read-only
  // where they exist, whatever the task's `protect:` says. One that does not exist is not
  // frozen (that would freeze the home directory): SECURITY.md says so.
  std::vector<std::filesystem::path> shell_startup;
  // policy::kDefaultDeny when the task wrote no `deny:`: hidden where they exist (one that
  // does not is not frozen), less any that holds a `file: {path}` delivery of the task.
  std::vector<std::filesystem::path> deny_default;
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

// Parent-side preparation (mount plan, Landlock ruleset fd, exported BPF program). Fails with
// kPolicyRefused when a plan path goes through a symbolic link inside a writable tree.
class PreparedSandbox {
 public:
  struct Impl;  // defined in the sandbox's .cc files
  explicit PreparedSandbox(std::unique_ptr<Impl> impl);
  PreparedSandbox(PreparedSandbox&&) noexcept;
  PreparedSandbox& operator=(PreparedSandbox&&) noexcept;
  ~PreparedSandbox();
  const Impl& impl() const { return *impl_; }
  const std::shared_ptr<const Impl>& shared_impl() const { return impl_; }

 private:
  std::shared_ptr<const Impl> impl_;  // shared with a Starting made from it
};
// With a state_dir, the exported seccomp program is cached there (seccomp.json, keyed by
// jitsec's build ID and the kernel release; see seccomp.h).
[[nodiscard]] Result<PreparedSandbox> Prepare(const SandboxPlan& plan, const KernelFeatures& kernel,
                                              const std::filesystem::path& state_dir = {});

struct Launched {
  pid_t pid = -1;   // the namespace init (or the command itself when not sandboxed)
  UniqueFd pidfd;
  // Sandbox only: the init writes the command's exit code (int32, 128+N for a signal) here once
  // every process of the namespace is dead, then exits; its own exit (the namespaces and a copy
  // of jitsec's address space to tear down) need not delay jitsec. EOF: the init died first.
  UniqueFd status;
};

class Starting;

// The namespaces a run's sandbox is made in, started before the sandbox is planned (`run`
// starts them before it reads the policy; child_apply.h, Prestart): a helper that shares
// jitsec's memory makes the user namespace and, for network: none, the network namespace with
// its loopback up (the costly part, ~0.7 ms of kernel work) on another CPU while jitsec plans
// and prepares the sandbox; Start has it clone the init into them. Move-only; destroyed unused,
// it tells the helper to exit and reaps it. Nothing of the run is in it but the network choice.
class Prestarted {
 public:
  Prestarted();
  Prestarted(const Prestarted&) = delete;
  Prestarted& operator=(const Prestarted&) = delete;
  Prestarted(Prestarted&& other) noexcept;
  Prestarted& operator=(Prestarted&& other) noexcept;
  ~Prestarted();
  explicit operator bool() const { return state_ != nullptr; }
  // Whether the helper makes a network namespace (network: none).
  bool network() const;
  // Tells an unused helper to exit once its namespaces are made, without waiting for it (the
  // destructor reaps it). The namespaces cannot be used after this.
  void Abort() noexcept;

  struct State;

 private:
  friend Result<Prestarted> Prestart(policy::Network network);
  friend Result<Starting> Start(const PreparedSandbox& sandbox, bool terminal, Prestarted namespaces);
  std::unique_ptr<State> state_;
};

// Starts the helper (clone with CLONE_VM | CLONE_FILES). Its own failures (a kernel without
// unprivileged user namespaces, say) are reported by Start, naming the step and the errno.
// Errors: kChildSetup when the helper cannot be started at all.
[[nodiscard]] Result<Prestarted> Prestart(policy::Network network);

// A namespace init started ahead of its command: it builds the sandbox (namespaces, id maps,
// the new root, /dev, /proc, loopback) while jitsec issues the credentials, then waits for the
// command on a private socket. Move-only; destroyed before Launch, it closes the socket (the
// init exits) and kills and reaps the init. The init holds no secret: it was cloned before any
// was issued, and it gets only the command's descriptors and environment.
class Starting {
 public:
  Starting() = default;
  Starting(const Starting&) = delete;
  Starting& operator=(const Starting&) = delete;
  Starting(Starting&& other) noexcept;
  Starting& operator=(Starting&& other) noexcept;
  ~Starting() { Abandon(); }
  pid_t pid() const { return pid_; }
  explicit operator bool() const { return pid_ > 0; }

 private:
  friend Result<Starting> Start(const PreparedSandbox& sandbox, bool terminal, Prestarted namespaces);
  friend Result<Launched> Launch(Starting starting, const ExecSpec& spec);
  friend Result<UniqueFd> ReceivePtyMaster(Starting& starting);
  void Abandon() noexcept;
  // What Launch builds the Landlock ruleset and the seccomp program from.
  std::shared_ptr<const PreparedSandbox::Impl> sandbox_;
  bool terminal_ = false;  // the init makes a pty for the command (ReceivePtyMaster)
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  UniqueFd control_;  // jitsec's end of the socketpair
  UniqueFd report_;   // read end of the report pipe: a ChildReport, or EOF once the command exec'd
  UniqueFd status_;   // read end of the status pipe (Launched::status)
  Prestarted prestart_;  // the helper that cloned the init, until it is reaped
};

// Starts the namespace init: the Prestart helper (`namespaces`, or one started here when it is
// empty; its network choice must be the plan's) clones it into the user and network namespaces
// it made, with new mount, PID, IPC and UTS namespaces and CLONE_PIDFD (clone3; clone when the
// kernel has no clone3). The init maps its own uid/gid and sets up the mounts on its own
// (child_apply.h, RunInit). With `terminal` (the command will get a pty) the init also makes
// that pty in its own devpts (ReceivePtyMaster). Errors: kChildSetup naming the step.
[[nodiscard]] Result<Starting> Start(const PreparedSandbox& sandbox, bool terminal = false,
                                     Prestarted namespaces = Prestarted());

// The master of a pty made in the init's own devpts (its /dev/pts), for a command that gets a
// terminal: inside, ttyname() names its slave (a pty of the host's has no name there). Waits
// until the init has built /dev; call at most once, before Launch. An empty descriptor when the
// init was not asked for one (Start without `terminal`) or could not make one: use a pty of the
// host's then. Errors: kChildSetup with the init's own report when it failed before.
[[nodiscard]] Result<UniqueFd> ReceivePtyMaster(Starting& starting);

// Sends the command (spec, finalised) to the init and waits on the report pipe until it has
// exec'd. The init attaches the secret files, pivots into the new root, starts the command
// (which applies no_new_privs, drops capabilities, Landlock and seccomp, then execs spec),
// forwards signals it receives to the command, reaps, kills everything left when the command
// exits, reports the command's status on Launched::status and exits with it (128+N for a
// signal). Errors: kCommandNotFound / kCommandNotExecutable for exec failures, kChildSetup
// naming the step and errno for everything else (a failure of the init's setup in Start is
// reported here).
[[nodiscard]] Result<Launched> Launch(Starting starting, const ExecSpec& spec);

// Start, then Launch. Without a sandbox (plan disabled) the command is started directly.
[[nodiscard]] Result<Launched> Launch(const PreparedSandbox& sandbox, const ExecSpec& spec);

// Without a sandbox (`sandbox: {enabled: false}`): the command started directly by clone with
// CLONE_VM | CLONE_VFORK on a stack of its own, then exec (child::RunPlain: new session,
// PR_SET_PDEATHSIG, the spec's descriptor table, environment and cwd). Returns once exec
// succeeded; a failure names the step and errno.
[[nodiscard]] Result<Launched> LaunchPlain(const ExecSpec& spec);

}  // namespace jitsec::sandbox
