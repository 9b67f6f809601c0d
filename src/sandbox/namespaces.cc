// Parent side of the launch: Prepare (mount plan, Landlock ruleset, seccomp program) and Launch
// (the namespace helper, the init cloned into its namespaces, release, report pipe).
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "base/fs.h"
#include "base/log.h"
#include "sandbox/child_apply.h"
#include "sandbox/exec_message.h"
#include "sandbox/landlock_abi.h"
#include "sandbox/prepared.h"

namespace jitsec::sandbox {
namespace {

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Result<Pipe> MakePipe(std::string_view what) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return FailErrno(ErrorCode::kIo, "pipe2 (" + std::string(what) + ")");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// `setup` names what failed outside exec: "sandbox setup" or "command setup" (no sandbox).
// `path` is the command's, for exec failures.
Error ReportToError(const ChildReport& r, const std::string& path, std::string_view setup = "sandbox setup") {
  std::string why = std::strerror(r.err);
  if (r.step == ChildStep::kExec) {
    ErrorCode code = (r.err == ENOENT || r.err == ENOTDIR) ? ErrorCode::kCommandNotFound
                                                           : ErrorCode::kCommandNotExecutable;
    return Error(code, "exec \"" + path + "\": " + why, r.err);
  }
  return Error(ErrorCode::kChildSetup,
               std::string(setup) + " failed at " + std::string(ChildStepName(r.step)) + ": " + why, r.err);
}

// The report pipe's write end must survive the command's descriptor table: put it above every
// target (ApplyFdTable marks it CLOEXEC, so exec closes it).
Result<UniqueFd> RaiseAboveTargets(UniqueFd fd, const ExecSpec& spec) {
  int raised = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, spec.max_target_fd() + 1);
  if (raised < 0) return FailErrno(ErrorCode::kIo, "fcntl F_DUPFD_CLOEXEC (report pipe)");
  return UniqueFd(raised);
}

int CapLast() {
  auto text = ReadFile("/proc/sys/kernel/cap_last_cap");
  if (!text) return 63;
  int v = std::atoi(text->c_str());
  return v > 0 ? v : 63;
}

}  // namespace

Result<Launched> LaunchPlain(const ExecSpec& spec) {
  JITSEC_ASSIGN_OR_RETURN(Pipe report, MakePipe("report"));
  JITSEC_ASSIGN_OR_RETURN(report.write, RaiseAboveTargets(std::move(report.write), spec));
  // The child shares jitsec's memory until it execs (clone with CLONE_VM | CLONE_VFORK, no
  // copy of jitsec's page tables); it runs the async-signal-safe child::RunPlain.
  int pidfd = -1;
  pid_t pid = child::SpawnPlain(spec, report.write.get(), &pidfd);
  if (pid < 0) return FailErrno(ErrorCode::kChildSetup, "command setup failed at fork: clone");
  // CLONE_PIDFD gave the pidfd, unless the kernel ignored it (before 5.2).
  if (pidfd < 0) pidfd = int(::syscall(SYS_pidfd_open, pid, 0));
  UniqueFd owned_pidfd(pidfd);
  report.write.reset();
  auto reap = [pid] {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  // After the report pipe's write ends are all gone: EOF means exec, a record means failure.
  ChildReport r = ReadChildReport(report.read.get());
  if (r.step != ChildStep::kNone) {
    reap();
    return Fail(ReportToError(r, spec.path, "command setup"));
  }
  if (!owned_pidfd) {
    ::kill(pid, SIGKILL);  // a command that cannot be supervised is not left running
    reap();
    return Fail(ErrorCode::kUnsupported, "pidfd_open: Linux >= 5.3 is required");
  }
  return Launched{pid, std::move(owned_pidfd), UniqueFd()};
}

size_t SourceSlots(const MountOp& op) {
  switch (op.kind) {
    case MountKind::kBindReadOnly:
    case MountKind::kBindWritable:
    case MountKind::kProtect:
    case MountKind::kPin:
    case MountKind::kSecret: return 1;
    case MountKind::kFreeze: return 1 + op.writable_entries.size();
    case MountKind::kMirror: return op.mirror.size();
    case MountKind::kPrivateTmp:
    case MountKind::kDenyDir:
    case MountKind::kDenyFile: return 0;
  }
  return 0;
}

PreparedSandbox::PreparedSandbox(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PreparedSandbox::PreparedSandbox(PreparedSandbox&&) noexcept = default;
PreparedSandbox& PreparedSandbox::operator=(PreparedSandbox&&) noexcept = default;
PreparedSandbox::~PreparedSandbox() = default;

Result<PreparedSandbox> Prepare(const SandboxPlan& plan, const KernelFeatures& kernel,
                                const std::filesystem::path& state_dir) {
  auto impl = std::make_unique<PreparedSandbox::Impl>();
  impl->plan = plan;
  if (!plan.enabled) return PreparedSandbox(std::move(impl));

  JITSEC_ASSIGN_OR_RETURN(impl->mounts, BuildMountPlan(plan, HostPaths()));
  for (const auto& w : impl->mounts.warnings) log::Warn("sandbox: {}", w);
  for (const auto& op : impl->mounts.ops) {
    impl->rels.push_back(op.path == "/" ? std::string() : op.path.substr(1));
    impl->source_count += SourceSlots(op);
    if (op.kind == MountKind::kDenyFile || op.kind == MountKind::kSecret) {
      impl->needs_staging = true;
    }
    if (op.kind == MountKind::kSecret) impl->has_secret_files = true;
  }
  impl->landlock_abi = std::clamp(kernel.landlock_abi, 0, landlock_abi::kMaxKnownAbi);
  impl->landlock_full = LandlockFullAccess(impl->landlock_abi);
  impl->landlock_read = LandlockReadAccess(impl->landlock_abi);
  impl->landlock_proc = LandlockReadAccess(impl->landlock_abi) |
                        (landlock_abi::kFsWriteFile & impl->landlock_full);
  impl->cap_last = CapLast();
  if (!state_dir.empty()) impl->seccomp_cache = state_dir / "seccomp.json";
  impl->kernel_release = kernel.release;
  return PreparedSandbox(std::move(impl));
}

Starting::Starting(Starting&& other) noexcept
    : sandbox_(std::move(other.sandbox_)),
      terminal_(other.terminal_),
      pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      control_(std::move(other.control_)),
      report_(std::move(other.report_)),
      status_(std::move(other.status_)),
      prestart_(std::move(other.prestart_)) {}

Starting& Starting::operator=(Starting&& other) noexcept {
  if (this != &other) {
    Abandon();
    sandbox_ = std::move(other.sandbox_);
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    control_ = std::move(other.control_);
    report_ = std::move(other.report_);
    status_ = std::move(other.status_);
    prestart_ = std::move(other.prestart_);
    terminal_ = other.terminal_;
  }
  return *this;
}

void Starting::Abandon() noexcept {
  if (pid_ <= 0) return;
  int saved = errno;
  control_.reset();  // an init waiting for its command exits on EOF
  if (pidfd_) {
    (void)::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0U);
  } else {
    (void)::kill(pid_, SIGKILL);
  }
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  pidfd_.reset();
  report_.reset();
  status_.reset();
  errno = saved;
}

struct Prestarted::State {
  child::Prestart shared;  // the helper reads and writes it: at a fixed address (heap)
  child::ChildStack stack;
  pid_t helper = -1;

  // An unused helper is told to exit; every helper is reaped (it exits on its own once it has
  // cloned the init or failed), and only then is its stack unmapped.
  ~State() {
    if (helper <= 0) return;
    int saved = errno;
    Abort();
    while (::waitpid(helper, nullptr, __WALL) < 0 && errno == EINTR) {
    }
    errno = saved;
  }

  // A helper still waiting for the init's arguments exits once its namespaces are made.
  void Abort() noexcept {
    (void)child::PrestartAdvance(&shared, child::PrestartState::kStarting, child::PrestartState::kAbort);
  }

  // Hands the helper the init's arguments (it clones the init as soon as the namespaces are
  // made) and returns the init's pid, its pidfd in *pidfd, once the init exists.
  Result<pid_t> CloneInit(const child::InitArgs& args, int* pidfd) {
    using child::PrestartState;
    shared.init = &args;
    (void)child::PrestartAdvance(&shared, PrestartState::kStarting, PrestartState::kClone);
    if (child::PrestartWait(&shared, PrestartState::kClone) != PrestartState::kCloned) {
      const ChildStep step = shared.step != ChildStep::kNone ? shared.step : ChildStep::kUserNamespace;
      const int err = shared.err != 0 ? shared.err : ECHILD;
      return Fail(Error(ErrorCode::kChildSetup,
                        "sandbox setup failed at " + std::string(ChildStepName(step)) + ": " + std::strerror(err),
                        err));
    }
    if (shared.init_pid <= 0) {
      const int err = shared.init_pid < 0 ? -shared.init_pid : ECHILD;
      return Fail(Error(ErrorCode::kChildSetup,
                        std::string("sandbox setup failed at user namespace: clone: ") + std::strerror(err), err));
    }
    *pidfd = shared.init_pidfd;
    return shared.init_pid;
  }
};

Prestarted::Prestarted() = default;
Prestarted::Prestarted(Prestarted&& other) noexcept = default;
Prestarted& Prestarted::operator=(Prestarted&& other) noexcept = default;
Prestarted::~Prestarted() = default;

bool Prestarted::network() const { return state_ != nullptr && state_->shared.network; }

void Prestarted::Abort() noexcept {
  if (state_ != nullptr) state_->Abort();
}

Result<Prestarted> Prestart(policy::Network network) {
  auto state = std::make_unique<Prestarted::State>();
  state->shared.network = network == policy::Network::kNone;
  if (!state->stack.Allocate()) return FailErrno(ErrorCode::kChildSetup, "sandbox setup failed at fork: mmap (stack)");
  state->helper = child::StartPrestart(&state->shared, state->stack.top());
  if (state->helper < 0) return FailErrno(ErrorCode::kChildSetup, "sandbox setup failed at user namespace: clone");
  Prestarted p;
  p.state_ = std::move(state);
  return p;
}

Result<Starting> Start(const PreparedSandbox& sandbox, bool terminal, Prestarted namespaces) {
  const PreparedSandbox::Impl& sb = sandbox.impl();
  if (!sb.plan.enabled) return Fail(ErrorCode::kInternal, "sandbox::Start without a sandbox");
  if (!namespaces) {
    JITSEC_ASSIGN_OR_RETURN(namespaces, Prestart(sb.plan.network));
  }
  Prestarted::State& ns = *namespaces.state_;
  if (namespaces.network() != (sb.plan.network == policy::Network::kNone)) {
    return Fail(ErrorCode::kInternal, "sandbox::Start: the namespaces were made for another network setting");
  }

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return FailErrno(ErrorCode::kChildSetup, "sandbox setup failed at socketpair");
  }
  UniqueFd control(sv[0]);
  UniqueFd init_control(sv[1]);
  JITSEC_ASSIGN_OR_RETURN(Pipe report, MakePipe("report"));
  JITSEC_ASSIGN_OR_RETURN(Pipe status, MakePipe("status"));
  std::vector<int> scratch(sb.source_count + 1, -1);
  // The init starts the command on this stack (CloneVfork): mapped here, inherited by the init.
  child::ChildStack stack;
  if (!stack.Allocate()) {
    return FailErrno(ErrorCode::kChildSetup, "sandbox setup failed at fork: mmap (stack)");
  }

  child::InitArgs args;
  args.sandbox = &sb;
  // jitsec's alone: the init sees jitsec's death as no reader on the report pipe.
  args.jitsec_ends[0] = control.get();
  args.jitsec_ends[1] = report.read.get();
  args.jitsec_ends[2] = status.read.get();
  args.control_fd = init_control.get();
  args.report_fd = report.write.get();
  args.status_fd = status.write.get();
  args.scratch = scratch.data();
  args.command_stack_top = stack.top();
  args.terminal = terminal;
  // The command sees its own ids, not root: the init writes "U U 1" and "G G 1" itself.
  args.uid_map = child::FormatIdMapLine(::geteuid());
  args.gid_map = child::FormatIdMapLine(::getegid());

  int pidfd_raw = -1;
  JITSEC_ASSIGN_OR_RETURN(pid_t pid, ns.CloneInit(args, &pidfd_raw));
  Starting s;
  s.sandbox_ = sandbox.shared_impl();
  s.terminal_ = terminal;
  s.pid_ = pid;
  s.pidfd_.reset(pidfd_raw);
  s.control_ = std::move(control);
  s.report_ = std::move(report.read);
  s.status_ = std::move(status.read);
  s.prestart_ = std::move(namespaces);  // the helper, reaped with s (it has exited by then)
  return s;  // the write ends, the init's socket end and jitsec's copy of the stack go here
}

Result<UniqueFd> ReceivePtyMaster(Starting& starting) {
  if (!starting || !starting.control_) return Fail(ErrorCode::kInternal, "pty: no sandbox init");
  if (!starting.terminal_) return UniqueFd();
  bool gone = false;
  auto master = ReceiveTerminal(starting.control_.get(), &gone);
  if (!master && gone) {
    // The init exited before it built /dev: its report says why.
    ChildReport r = ReadChildReport(starting.report_.get());
    if (r.step != ChildStep::kNone) return Fail(ReportToError(r, ""));
  }
  return master;
}

Result<Launched> Launch(Starting starting, const ExecSpec& spec) {
  if (spec.argv_ptrs() == nullptr || spec.envp_ptrs() == nullptr) {
    return Fail(ErrorCode::kInternal, "launch: the exec spec was not finalised");
  }
  if (!starting) return Fail(ErrorCode::kInternal, "launch: no sandbox init");
  // Built now rather than before Start: the init is busy with namespaces and mounts meanwhile.
  const PreparedSandbox::Impl& sb = *starting.sandbox_;
  JITSEC_ASSIGN_OR_RETURN(LandlockRuleset landlock, PrepareLandlock(sb.plan, sb.landlock_abi));
  SeccompProgram seccomp;
  if (sb.plan.seccomp) {
    JITSEC_ASSIGN_OR_RETURN(seccomp, PrepareSeccompCached(sb.plan, sb.seccomp_cache, sb.kernel_release));
  }
  Confinement confinement;
  confinement.landlock_fd = landlock.abi != 0 ? landlock.fd.get() : -1;
  confinement.filter = seccomp.insns.data();
  confinement.filter_len = seccomp.insns.size();
  Status sent = SendCommand(starting.control_.get(), spec, confinement);
  starting.control_.reset();
  ChildReport r = ReadChildReport(starting.report_.get());
  if (r.step == ChildStep::kNone && sent) {
    Launched l{starting.pid_, std::move(starting.pidfd_), std::move(starting.status_)};
    starting.pid_ = -1;
    return l;
  }
  // The init reported (and exited), or took no command: its report says why, if it made one.
  Error e = r.step != ChildStep::kNone ? ReportToError(r, spec.path) : std::move(sent).error();
  starting.Abandon();
  return Fail(std::move(e));
}

Result<Launched> Launch(const PreparedSandbox& sandbox, const ExecSpec& spec) {
  if (spec.argv_ptrs() == nullptr || spec.envp_ptrs() == nullptr) {
    return Fail(ErrorCode::kInternal, "launch: the exec spec was not finalised");
  }
  if (!sandbox.impl().plan.enabled) return LaunchPlain(spec);
  JITSEC_ASSIGN_OR_RETURN(Starting starting, Start(sandbox));
  return Launch(std::move(starting), spec);
}

}  // namespace jitsec::sandbox
