// Keystroke injection through a real pty (security.md invariant 3: the command cannot inject
// input into the caller's terminal). The harness opens a pty pair and runs the built jitsec as a
// session leader with the pty slave as its controlling terminal and as fds 0, 1 and 2, like an
// interactive shell would. Inside the default sandbox, tests/helpers/probe_tty_inject tries
// TIOCSTI on fd 0 and on /dev/tty and TIOCLINUX on fd 0. Whatever jitsec does with a terminal
// (hand it through, or give the command a pty of its own and relay), the attempts must fail and
// the injected text must neither wait in the caller's input queue nor be echoed to the caller.
// The harness itself is checked first: run without jitsec, the same probe does inject and the
// harness sees it.
#include "base/random.h"
#include "compat_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace jitsec::testing {
namespace {

struct TerminalRun {
  int status = -1;  // exit status, 128+N for a signal
  std::string
      screen;  // everything written to the master (what the caller's terminal shows), \r removed
  std::string queued;  // what was left in the terminal's input queue afterwards
};

class PtyPair {
 public:
  PtyPair() {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master_ < 0 || ::grantpt(master_) != 0 || ::unlockpt(master_) != 0) {
      return;
    }
    const char* name = ::ptsname(master_);
    if (name != nullptr) {
      slave_ = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    }
  }
  ~PtyPair() {
    if (slave_ >= 0) {
      ::close(slave_);
    }
    if (master_ >= 0) {
      ::close(master_);
    }
  }
  PtyPair(const PtyPair&) = delete;
  PtyPair& operator=(const PtyPair&) = delete;
  bool ok() const { return master_ >= 0 && slave_ >= 0; }
  int master() const { return master_; }
  int slave() const { return slave_; }

 private:
  int master_ = -1;
  int slave_ = -1;
};

// Runs argv as the leader of a new session whose controlling terminal is a fresh pty (fds 0, 1,
// 2 on its slave), collects what reaches the master until the process exits, then takes
// whatever is pending in the slave's input queue.
TerminalRun RunOnTerminal(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env,
                          const std::filesystem::path& cwd) {
  TerminalRun result;
  PtyPair pty;
  if (!pty.ok()) {
    ADD_FAILURE() << "opening a pty: " << std::strerror(errno);
    return result;
  }
  std::vector<std::string> envs;
  for (const auto& [k, v] : env) {
    envs.push_back(k + "=" + v);
  }
  std::vector<char*> cargv;
  std::vector<char*> cenv;
  for (const auto& a : argv) {
    cargv.push_back(const_cast<char*>(a.c_str()));
  }
  cargv.push_back(nullptr);
  for (const auto& e : envs) {
    cenv.push_back(const_cast<char*>(e.c_str()));
  }
  cenv.push_back(nullptr);
  const int slave = pty.slave();
  pid_t pid = ::fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return result;
  }
  if (pid == 0) {
    // Async-signal-safe only from here on.
    if (::setsid() < 0 || ::ioctl(slave, TIOCSCTTY, 0) != 0) {
      ::_exit(120);
    }
    if (::dup2(slave, 0) < 0 || ::dup2(slave, 1) < 0 || ::dup2(slave, 2) < 0) {
      ::_exit(121);
    }
    if (::chdir(cwd.c_str()) != 0) {
      ::_exit(122);
    }
    ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(123);
  }
  auto drain = [&](int timeout_ms) {
    pollfd p{pty.master(), POLLIN, 0};
    while (::poll(&p, 1, timeout_ms) > 0 && (p.revents & POLLIN) != 0) {
      char buf[4096];
      ssize_t n = ::read(pty.master(), buf, sizeof buf);
      if (n <= 0) {
        break;
      }
      result.screen.append(buf, size_t(n));
    }
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int st = 0;
  while (true) {
    drain(50);
    pid_t w = ::waitpid(pid, &st, WNOHANG);
    if (w == pid) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "process on the terminal timed out: " << argv[0];
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      break;
    }
  }
  drain(200);  // output still in flight from the last writers
  result.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  result.screen.erase(std::remove(result.screen.begin(), result.screen.end(), '\r'),
                      result.screen.end());
  // Non-canonical with VMIN=VTIME=0: a read returns at once with every byte pending, including
  // a partial line.
  termios t{};
  if (::tcgetattr(slave, &t) != 0) {
    ADD_FAILURE() << "tcgetattr: " << std::strerror(errno);
    return result;
  }
  t.c_lflag &= ~tcflag_t(ICANON | ECHO);
  t.c_cc[VMIN] = 0;
  t.c_cc[VTIME] = 0;
  if (::tcsetattr(slave, TCSANOW, &t) != 0) {
    ADD_FAILURE() << "tcsetattr: " << std::strerror(errno);
    return result;
  }
  char buf[4096];
  for (ssize_t n; (n = ::read(slave, buf, sizeof buf)) > 0;) {
    result.queued.append(buf, size_t(n));
  }
  return result;
}

class TtyInjectionTest : public SandboxedRunTest {
 protected:
  void SetUp() override {
    SandboxedRunTest::SetUp();
    if (IsSkipped() || HasFailure()) {
      return;
    }
    JITSEC_SKIP_UNLESS(Feature::kPty);
    // A command line an interactive shell would run if it arrived as input.
    injected_ = "touch /tmp/jitsec-injected-" + RandomHex(6) + "\n";
  }
  std::string injected_;
};

TEST_F(TtyInjectionTest, HarnessSeesAnInjectionThatSucceeds) {
  // Without jitsec the probe owns the terminal as its controlling terminal, which is all that
  // TIOCSTI asks of an unprivileged caller when dev.tty.legacy_tiocsti is 1. Where the kernel
  // refuses it, the harness cannot be shown to detect an injection.
  JITSEC_SKIP_UNLESS(Feature::kTiocsti);
  auto r = RunOnTerminal({Helper("probe_tty_inject"), injected_}, home_.Env(), workspace_);
  ASSERT_EQ(r.status, 0) << r.screen;
  ASSERT_NE(r.screen.find("TIOCSTI fd0: ok\n"), std::string::npos) << r.screen;
  // Injected twice (fd 0 and /dev/tty are the same terminal), echoed, and waiting as input.
  EXPECT_EQ(r.queued, injected_ + injected_);
  EXPECT_NE(r.screen.find(injected_.substr(0, injected_.size() - 1)), std::string::npos)
      << r.screen;
}

TEST_F(TtyInjectionTest, SandboxedCommandCannotInjectIntoTheCallersTerminal) {
  WritePolicy(SandboxWithHelpersYaml());  // the probe stays visible when the build is below /tmp
  std::vector<std::string> argv{
      JitsecBinary(), "run", "--task", "t", "--", Helper("probe_tty_inject"), injected_};
  auto r = RunOnTerminal(argv, Env(), workspace_);
  ASSERT_EQ(r.status, 0) << r.screen;
  EXPECT_NE(r.screen.find("TIOCSTI fd0: EPERM\n"), std::string::npos) << r.screen;
  // No controlling terminal in the command's own session (open fails with ENXIO), or, when
  // jitsec gives the command a pty of its own, that one, where seccomp refuses TIOCSTI.
  const bool no_ctty = r.screen.find("TIOCSTI /dev/tty: open ENXIO\n") != std::string::npos;
  const bool denied = r.screen.find("TIOCSTI /dev/tty: EPERM\n") != std::string::npos;
  EXPECT_TRUE(no_ctty || denied) << r.screen;
  EXPECT_NE(r.screen.find("TIOCLINUX fd0: EPERM\n"), std::string::npos) << r.screen;
  // Nothing arrived as input on the caller's side, and nothing was echoed to the caller.
  EXPECT_EQ(r.queued, "");
  EXPECT_EQ(r.screen.find("jitsec-injected-"), std::string::npos) << r.screen;
}

}  // namespace
}  // namespace jitsec::testing
