#include "supervise/terminal.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

namespace jitsec::supervise {
namespace {

// The terminal modes a crash handler restores. Written only while no handler is installed.
struct termios g_saved_modes;
volatile sig_atomic_t g_restore_armed = 0;

constexpr int kCrashSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
struct sigaction g_previous[sizeof kCrashSignals / sizeof kCrashSignals[0]];

void RestoreOnCrash(int sig) {
  int saved_errno = errno;
  if (g_restore_armed) (void)::tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_modes);
  g_restore_armed = 0;
  // Hand the signal to whoever had it before (the default action, or a sanitizer's report).
  for (size_t i = 0; i < sizeof kCrashSignals / sizeof kCrashSignals[0]; ++i) {
    if (kCrashSignals[i] == sig) (void)::sigaction(sig, &g_previous[i], nullptr);
  }
  errno = saved_errno;
  (void)::raise(sig);
}

void InstallCrashHandlers() {
  struct sigaction sa {};
  sa.sa_handler = RestoreOnCrash;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;
  for (size_t i = 0; i < sizeof kCrashSignals / sizeof kCrashSignals[0]; ++i) {
    (void)::sigaction(kCrashSignals[i], &sa, &g_previous[i]);
  }
}

void RemoveCrashHandlers() {
  for (size_t i = 0; i < sizeof kCrashSignals / sizeof kCrashSignals[0]; ++i) {
    (void)::sigaction(kCrashSignals[i], &g_previous[i], nullptr);
  }
}

bool InForeground(int fd) {
  pid_t fg = ::tcgetpgrp(fd);
  return fg >= 0 && fg == ::getpgrp();
}

}  // namespace

bool CommandGetsTerminal() { return ::isatty(STDOUT_FILENO) == 1; }

TerminalPlan PlanTerminal(bool stdin_taken) {
  TerminalPlan p;
  p.use_pty = CommandGetsTerminal();
  bool stdin_tty = !stdin_taken && ::isatty(STDIN_FILENO) == 1;
  if (!p.use_pty) {
    p.stdin_via_pipe = stdin_tty;
    p.relay_stdin = stdin_tty && InForeground(STDIN_FILENO);
    p.stderr_via_pipe = ::isatty(STDERR_FILENO) == 1;
    return p;
  }
  p.stderr_on_pty = ::isatty(STDERR_FILENO) == 1;
  p.raw_mode = stdin_tty && InForeground(STDIN_FILENO);
  // Keystrokes are relayed only when jitsec may read the terminal; a background jitsec gives
  // the command the pty as stdin all the same (it reads nothing there, as a background job
  // reading its terminal would be stopped).
  p.stdin_on_pty = stdin_tty;
  return p;
}

Result<Pty> OpenPty(bool caller_raw, UniqueFd master) {
  Pty pty;
  if (master) {
    pty.master = std::move(master);  // made in another devpts (the sandbox's): its own modes
  } else {
    int fd = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return FailErrno(ErrorCode::kChildSetup, "pty: posix_openpt");
    pty.master.reset(fd);
    if (::grantpt(fd) != 0) return FailErrno(ErrorCode::kChildSetup, "pty: grantpt");
  }
  const int m = pty.master.get();
  if (::unlockpt(m) != 0) return FailErrno(ErrorCode::kChildSetup, "pty: unlockpt");
  // TIOCGPTPEER opens the slave from the master itself: no path lookup that could be raced.
  int s = ::ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) return FailErrno(ErrorCode::kChildSetup, "pty: TIOCGPTPEER");
  pty.slave.reset(s);

  struct termios modes {};
  int source = ::isatty(STDIN_FILENO) == 1 ? STDIN_FILENO : STDOUT_FILENO;
  if (::tcgetattr(source, &modes) == 0) {
    if (!caller_raw) modes.c_oflag &= ~tcflag_t(OPOST);
    if (::tcsetattr(s, TCSANOW, &modes) != 0) return FailErrno(ErrorCode::kChildSetup, "pty: tcsetattr");
  }
  PropagateWindowSize(m);
  if (::fcntl(m, F_SETFL, ::fcntl(m, F_GETFL) | O_NONBLOCK) != 0) {
    return FailErrno(ErrorCode::kChildSetup, "pty: fcntl O_NONBLOCK");
  }
  return pty;
}

void PropagateWindowSize(int pty_master) {
  struct winsize ws {};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) (void)::ioctl(pty_master, TIOCSWINSZ, &ws);
}

Status RawModeGuard::Enter() {
  if (active_) return {};
  if (::tcgetattr(STDIN_FILENO, &saved_) != 0) return FailErrno(ErrorCode::kInternal, "tcgetattr on stdin");
  struct termios raw = saved_;
  ::cfmakeraw(&raw);
  g_saved_modes = saved_;
  InstallCrashHandlers();
  g_restore_armed = 1;
  if (::tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) != 0) {
    Error e = Error::FromErrno(ErrorCode::kInternal, "tcsetattr raw mode on stdin", errno);
    g_restore_armed = 0;
    RemoveCrashHandlers();
    return Fail(std::move(e));
  }
  active_ = true;
  return {};
}

void RawModeGuard::Restore() {
  if (!active_) return;
  active_ = false;
  // TCSADRAIN: the relayed output reaches the screen in the modes it was written for.
  while (::tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_) != 0 && errno == EINTR) {
  }
  g_restore_armed = 0;
  RemoveCrashHandlers();
}

RawModeGuard::~RawModeGuard() { Restore(); }

}  // namespace jitsec::supervise
