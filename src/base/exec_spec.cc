#include "base/exec_spec.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace jitsec {

void ExecSpec::Finalize() {
  argv_ptrs_.clear();
  envp_ptrs_.clear();
  for (const auto& a : argv) argv_ptrs_.push_back(a.c_str());
  argv_ptrs_.push_back(nullptr);
  for (const auto& e : envp) envp_ptrs_.push_back(e.c_str());
  envp_ptrs_.push_back(nullptr);
  fd_scratch_.assign(fds.size(), -1);
}

int ExecSpec::max_target_fd() const { return View().max_target_fd(); }

ExecView ExecSpec::View() const {
  ExecView v;
  v.path = path.c_str();
  v.argv = argv_ptrs_.empty() ? nullptr : argv_ptrs();
  v.envp = envp_ptrs_.empty() ? nullptr : envp_ptrs();
  v.fds = fds.data();
  v.fd_count = fds.size();
  v.fd_scratch = fd_scratch_fits() ? fd_scratch() : nullptr;
  v.cwd = cwd.c_str();
  v.new_session = new_session;
  v.controlling_tty_target = controlling_tty_target;
  v.parent_pid = parent_pid;
  return v;
}

int ExecView::max_target_fd() const noexcept {
  int m = 2;
  for (size_t i = 0; i < fd_count; ++i) m = fds[i].target > m ? fds[i].target : m;
  return m;
}

std::string_view ChildStepName(ChildStep step) {
  switch (step) {
    case ChildStep::kNone: return "none";
    case ChildStep::kFdTable: return "descriptor table";
    case ChildStep::kSignals: return "signal reset";
    case ChildStep::kSession: return "new session";
    case ChildStep::kParentDeath: return "parent-death signal";
    case ChildStep::kChdir: return "chdir";
    case ChildStep::kUserNamespace: return "user namespace";
    case ChildStep::kMounts: return "mounts";
    case ChildStep::kNetwork: return "network namespace";
    case ChildStep::kHostname: return "hostname";
    case ChildStep::kNoNewPrivs: return "no_new_privs";
    case ChildStep::kCapabilities: return "capabilities";
    case ChildStep::kLandlock: return "landlock";
    case ChildStep::kSeccomp: return "seccomp";
    case ChildStep::kFork: return "fork";
    case ChildStep::kExec: return "exec";
    case ChildStep::kCommand: return "receiving the command";
  }
  return "unknown";
}

namespace child {

void ReportAndExit(int report_fd, ChildStep step, int err) noexcept {
  ChildReport r{step, err};
  if (report_fd >= 0) {
    ssize_t n;
    do {
      n = ::write(report_fd, &r, sizeof r);
    } while (n < 0 && errno == EINTR);
  }
  int code = 125;
  if (step == ChildStep::kExec) code = (err == ENOENT || err == ENOTDIR) ? 127 : 126;
  ::_exit(code);
}

bool ResetSignals() noexcept {
  // Dispositions first, then the mask: a child that shares its parent's memory (CLONE_VM) starts
  // with every signal blocked and must never run one of the parent's handlers.
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  for (int s = 1; s < NSIG; ++s) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    (void)::sigaction(s, &sa, nullptr);  // EINVAL for the RT signals glibc reserves
  }
  sigset_t none;
  sigemptyset(&none);
  return ::sigprocmask(SIG_SETMASK, &none, nullptr) == 0;
}

bool ApplyFdTable(const ExecView& spec) noexcept {
  // Move every source above every target first, so that installing one target cannot
  // clobber a source that another target still needs.
  int* tmp = spec.fd_scratch;
  size_t n = spec.fd_count;
  if (tmp == nullptr && n != 0) {  // Finalize was not called after the last change to fds
    errno = EINVAL;
    return false;
  }
  int base = spec.max_target_fd() + 1;
  for (size_t i = 0; i < n; ++i) {
    tmp[i] = ::fcntl(spec.fds[i].source, F_DUPFD_CLOEXEC, base);
    if (tmp[i] < 0) return false;
  }
  for (size_t i = 0; i < n; ++i) {
    if (::dup2(tmp[i], spec.fds[i].target) < 0) return false;  // dup2 clears CLOEXEC
  }
  for (size_t i = 0; i < n; ++i) ::close(tmp[i]);
  // Every descriptor that is not a target: CLOEXEC (closed by exec, after any report).
  for (int fd = 0; fd < base; ++fd) {
    bool is_target = false;
    for (size_t i = 0; i < n; ++i) is_target = is_target || spec.fds[i].target == fd;
    if (!is_target) (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  if (::syscall(SYS_close_range, unsigned(base), ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = base; fd < 65536; ++fd) (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  return true;
}

ChildStep ApplyProcessSetup(const ExecView& spec) noexcept {
  if (spec.new_session && ::setsid() < 0) return ChildStep::kSession;
  if (spec.controlling_tty_target >= 0 &&
      ::ioctl(spec.controlling_tty_target, TIOCSCTTY, 0) != 0) {
    return ChildStep::kSession;
  }
  if (spec.parent_pid != 0) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return ChildStep::kParentDeath;
    if (::getppid() != spec.parent_pid) {  // the parent died before the prctl took effect
      errno = ESRCH;
      return ChildStep::kParentDeath;
    }
  }
  if (spec.cwd[0] != '\0' && ::chdir(spec.cwd) != 0) return ChildStep::kChdir;
  return ChildStep::kNone;
}

void Exec(const ExecView& spec, int report_fd) noexcept {
  ::execve(spec.path, spec.argv, spec.envp);
  ReportAndExit(report_fd, ChildStep::kExec, errno);
}

}  // namespace child

ChildReport ReadChildReport(int report_fd) {
  ChildReport r{};
  size_t got = 0;
  auto* p = reinterpret_cast<char*>(&r);
  while (got < sizeof r) {
    ssize_t n = ::read(report_fd, p + got, sizeof r - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += size_t(n);
  }
  if (got != sizeof r) return ChildReport{};
  return r;
}

}  // namespace jitsec
