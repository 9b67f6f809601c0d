// `jitsec run` under a real pseudo-terminal: the test is the caller's terminal (it holds the
// master of a pty whose slave is jitsec's controlling terminal and stdio), so it sees exactly
// the bytes a user's terminal would, types keys, resizes, and checks the terminal's modes
// before, during and after the run. Each behaviour is checked with and without the sandbox.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>

#include "support/support.h"

namespace jitsec::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The caller's side of a terminal session running jitsec.
class TerminalSession {
 public:
  ~TerminalSession() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
    if (master_ >= 0) ::close(master_);
    if (slave_ >= 0) ::close(slave_);
    if (err_r_ >= 0) ::close(err_r_);
    if (out_r_ >= 0) ::close(out_r_);
  }

  // Starts jitsec with `args` on a fresh pty of rows x cols. With `stderr_to_pipe` jitsec's
  // stderr is a pipe (read with StderrText) instead of the terminal; `stdout_to_pipe` the same
  // for stdout (StdoutText), as in `jitsec run ... | tee log`.
  void Start(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
             const fs::path& cwd, int rows = 40, int cols = 100, bool stderr_to_pipe = false,
             bool stdout_to_pipe = false) {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    ASSERT_GE(master_, 0) << std::strerror(errno);
    ASSERT_EQ(::grantpt(master_), 0);
    ASSERT_EQ(::unlockpt(master_), 0);
    slave_ = ::ioctl(master_, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    ASSERT_GE(slave_, 0) << std::strerror(errno);
    Resize(rows, cols);
    ASSERT_EQ(::tcgetattr(slave_, &initial_), 0);
    int errp[2] = {-1, -1};
    if (stderr_to_pipe) {
      ASSERT_EQ(::pipe2(errp, O_CLOEXEC), 0);
    }
    int outp[2] = {-1, -1};
    if (stdout_to_pipe) {
      ASSERT_EQ(::pipe2(outp, O_CLOEXEC), 0);
    }

    std::vector<std::string> argv = {JitsecBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> envs;
    for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
    std::vector<char*> av, ev;
    for (auto& a : argv) av.push_back(a.data());
    av.push_back(nullptr);
    for (auto& e : envs) ev.push_back(e.data());
    ev.push_back(nullptr);

    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      ::setsid();
      if (::ioctl(slave_, TIOCSCTTY, 0) != 0) ::_exit(120);
      ::dup2(slave_, 0);
      ::dup2(stdout_to_pipe ? outp[1] : slave_, 1);
      ::dup2(stderr_to_pipe ? errp[1] : slave_, 2);
      if (::chdir(cwd.c_str()) != 0) ::_exit(121);
      ::execve(av[0], av.data(), ev.data());
      ::_exit(122);
    }
    if (stderr_to_pipe) {
      ::close(errp[1]);
      err_r_ = errp[0];
    }
    if (stdout_to_pipe) {
      ::close(outp[1]);
      out_r_ = outp[0];
    }
  }

  void Resize(int rows, int cols) {
    struct winsize ws {};
    ws.ws_row = static_cast<unsigned short>(rows);
    ws.ws_col = static_cast<unsigned short>(cols);
    ASSERT_EQ(::ioctl(master_, TIOCSWINSZ, &ws), 0);  // the kernel sends SIGWINCH to jitsec
  }

  void Type(std::string_view keys) {
    ASSERT_EQ(::write(master_, keys.data(), keys.size()), ssize_t(keys.size()));
  }

  // Reads the screen until `needle` appears; false after `seconds`.
  bool WaitFor(std::string_view needle, int seconds = 20) {
    auto deadline = Clock::now() + std::chrono::seconds(seconds);
    while (screen_.find(needle) == std::string::npos) {
      if (Clock::now() > deadline) return false;
      ReadSome(100);
    }
    return true;
  }

  // Waits for jitsec to exit (draining the screen meanwhile); returns its status (128+N for a signal).
  int Wait(int seconds = 30) {
    auto deadline = Clock::now() + std::chrono::seconds(seconds);
    int st = 0;
    for (;;) {
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) break;
      if (Clock::now() > deadline) {
        ADD_FAILURE() << "jitsec did not exit; screen so far:\n" << screen_;
        return -1;
      }
      ReadSome(50);
    }
    pid_ = -1;
    while (ReadSome(50)) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }

  struct termios Modes() const {
    struct termios t {};
    EXPECT_EQ(::tcgetattr(slave_, &t), 0);
    return t;
  }
  const struct termios& initial() const { return initial_; }
  pid_t pid() const { return pid_; }
  const std::string& screen() const { return screen_; }
  std::string StderrText() { return ReadAll(err_r_); }
  std::string StdoutText() { return ReadAll(out_r_); }

 private:
  bool ReadSome(int timeout_ms) {
    struct pollfd p = {master_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    ssize_t n = ::read(master_, buf, sizeof buf);
    if (n <= 0) return false;
    screen_.append(buf, size_t(n));
    return true;
  }

  int master_ = -1;
  int slave_ = -1;
  static std::string ReadAll(int fd) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
    return out;
  }

  int err_r_ = -1;
  int out_r_ = -1;
  pid_t pid_ = -1;
  struct termios initial_ {};
  std::string screen_;
};

bool SameModes(const struct termios& a, const struct termios& b) {
  return a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag && a.c_cflag == b.c_cflag &&
         a.c_lflag == b.c_lflag && std::memcmp(a.c_cc, b.c_cc, sizeof a.c_cc) == 0;
}

// Parameter: whether the task runs in the sandbox.
class PtyTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    JITSEC_SKIP_UNLESS(Feature::kPty);
    if (GetParam()) {
      JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
      JITSEC_SKIP_UNLESS(Feature::kSeccomp);
    }
    workspace_ = home_.dir.path() / "work";
    fs::create_directories(workspace_ / ".git");  // a workspace where files can be created
    canary_ = MakeCanary("pty");
    WritePolicy("");
    RunOptions o;
    o.env = Env();
    o.cwd = workspace_;
    o.stdin_data = canary_;
    auto r = RunJitsec({"secret", "set", "tok"}, o);
    ASSERT_EQ(r.status, 0) << r.err;
  }

  std::map<std::string, std::string> Env() const {
    auto env = home_.Env();
    env["JITSEC_POLICY"] = (home_.dir.path() / "policy.yaml").string();
    env["TERM"] = "xterm";
    return env;
  }

  // One task "t" with a store secret delivered as a file (so masking is on), sandboxed or not.
  void WritePolicy(const std::string& extra) {
    std::string sandbox = GetParam() ? SandboxWithHelpersYaml() : "    sandbox: {enabled: false}\n";
    WriteTextFile(home_.dir.path() / "policy.yaml",
                  "version: 1\n"
                  "tasks:\n"
                  "  t:\n"
                  "    description: pty test\n" +
                      sandbox + extra +
                      "    credentials:\n"
                      "      TOKEN:\n"
                      "        provider: store\n"
                      "        secret: tok\n"
                      "        deliver:\n"
                      "          - file: {env: TOKEN_FILE}\n",
                  0600);
  }

  std::vector<std::string> Run(std::vector<std::string> command) {
    std::vector<std::string> a = {"run", "--task", "t", "--"};
    a.insert(a.end(), command.begin(), command.end());
    return a;
  }

  void ExpectNoLeak(const std::string& screen) { ExpectNoCanary(screen, canary_, "the caller's terminal"); }

  // Every test issues the canary: after each one it must be nowhere on disk but the encrypted
  // store (state: audit log, journal; keys; the workspace; the home with the store).
  void TearDown() override {
    if (canary_.empty()) return;  // skipped before the secret was made
    ExpectNoCanaryInTree(home_.state(), canary_);
    ExpectNoCanaryInTree(home_.config(), canary_);
    ExpectNoCanaryInTree(workspace_, canary_);
    ExpectNoCanaryInTree(home_.dir.path() / "home", canary_);
  }

  JitsecHome home_;
  fs::path workspace_;
  std::string canary_;
};

TEST_P(PtyTest, CommandSeesATerminalOfTheCallersSizeAndColoursPassUnchanged) {
  TerminalSession t;
  t.Start(Run({Helper("probe_tty"), "info"}), Env(), workspace_, 33, 111);
  ASSERT_EQ(t.Wait(), 0) << t.screen();
  EXPECT_NE(t.screen().find("tty=111 ctty=1 size=33x111\r\n"), std::string::npos) << t.screen();
  EXPECT_NE(t.screen().find("\033[31mRED\033[0m\r\n"), std::string::npos) << t.screen();
}

// ttyname() (`tty`, GPG_TTY=$(tty)) finds the command's terminal: sandboxed, the pty comes from
// the sandbox's own devpts, since one of the host's has no name inside.
TEST_P(PtyTest, TtynameFindsTheCommandsTerminal) {
  TerminalSession t;
  t.Start(Run({Helper("probe_tty"), "name"}), Env(), workspace_);
  ASSERT_EQ(t.Wait(), 0) << t.screen();
  for (int fd = 0; fd < 3; ++fd) {
    const std::string line = "name" + std::to_string(fd) + "=/dev/pts/";
    EXPECT_NE(t.screen().find(line), std::string::npos) << t.screen();
  }
  EXPECT_EQ(t.screen().find("=none"), std::string::npos) << t.screen();
  if (GetParam()) {  // the sandbox's devpts is a new instance: its first pty
    EXPECT_NE(t.screen().find("name0=/dev/pts/0\r\n"), std::string::npos) << t.screen();
  }
}

// With stdout piped (`jitsec run ... | tee log`) the command gets no pty, and it must not get
// the caller's terminal on stdin or stderr either: through it, it could reconfigure that
// terminal and write a secret to it unmasked. Keystrokes still reach it, through a pipe.
TEST_P(PtyTest, WithStdoutPipedTheCommandNeverGetsTheCallersTerminal) {
  TerminalSession t;
  t.Start(Run({"/bin/sh", "-c",
               "[ -t 0 ] && echo stdin-is-a-tty; [ -t 2 ] && echo stderr-is-a-tty;"
               " stty -echo <&0 2>/dev/null && echo stty-worked;"
               " cat \"$TOKEN_FILE\" >&0 2>/dev/null && echo wrote-to-stdin;"
               " cat \"$TOKEN_FILE\" >&2; echo >&2;"
               " read line; echo got:$line; read more || echo eof"}),
          Env(), workspace_, 40, 100, /*stderr_to_pipe=*/false, /*stdout_to_pipe=*/true);
  t.Type("hello\n");
  t.Type("\x04");  // ^D: end of input, which the command sees as end of file
  ASSERT_EQ(t.Wait(), 0) << t.screen();
  EXPECT_EQ(t.StdoutText(), "got:hello\neof\n");
  // stderr reached the terminal through jitsec, masked.
  EXPECT_NE(t.screen().find("***"), std::string::npos) << t.screen();
  ExpectNoLeak(t.screen());
  EXPECT_TRUE(SameModes(t.Modes(), t.initial()));
}

TEST_P(PtyTest, SecretAndItsEncodingsAreMaskedOnTheTerminal) {
  TerminalSession t;
  t.Start(Run({"/bin/sh", "-c", "cat \"$TOKEN_FILE\"; echo; base64 < \"$TOKEN_FILE\"; od -An -tx1 \"$TOKEN_FILE\" | tr -d ' \\n'; echo; echo done"}),
          Env(), workspace_);
  ASSERT_EQ(t.Wait(), 0) << t.screen();
  EXPECT_NE(t.screen().find("***\r\n***\r\n"), std::string::npos) << t.screen();
  EXPECT_NE(t.screen().find("done\r\n"), std::string::npos) << t.screen();
  ExpectNoLeak(t.screen());
}

TEST_P(PtyTest, ResizeReachesTheCommand) {
  TerminalSession t;
  t.Start(Run({Helper("probe_tty"), "winch"}), Env(), workspace_, 24, 80);
  ASSERT_TRUE(t.WaitFor("size=24x80 ready")) << t.screen();
  t.Resize(50, 132);
  ASSERT_EQ(t.Wait(), 0) << t.screen();
  EXPECT_NE(t.screen().find("resized=50x132"), std::string::npos) << t.screen();
}

TEST_P(PtyTest, KeystrokesReachTheCommandWithLineEditing) {
  TerminalSession t;
  t.Start(Run({Helper("probe_tty"), "readline"}), Env(), workspace_);
  ASSERT_TRUE(t.WaitFor("prompt> ")) << t.screen();
  // What a terminal sends: Enter is CR; DEL erases the last character (the pty's line editing).
  t.Type("abc\x7f" "d\r");
  ASSERT_EQ(t.Wait(), 0) << t.screen();
  EXPECT_NE(t.screen().find("got=[abd]"), std::string::npos) << t.screen();
}

TEST_P(PtyTest, PasswordPromptDoesNotEchoTheInput) {
  TerminalSession t;
  t.Start(Run({Helper("probe_tty"), "secret"}), Env(), workspace_);
  ASSERT_TRUE(t.WaitFor("pw: ")) << t.screen();
  t.Type("hunter2\r");
  ASSERT_EQ(t.Wait(), 0) << t.screen();
  EXPECT_NE(t.screen().find("len=7"), std::string::npos) << t.screen();
  EXPECT_EQ(t.screen().find("hunter2"), std::string::npos) << t.screen();
}

TEST_P(PtyTest, CtrlCInterruptsTheCommandAndModesAreRestored) {
  TerminalSession t;
  t.Start(Run({Helper("probe_tty"), "wait"}), Env(), workspace_);
  ASSERT_TRUE(t.WaitFor("ready")) << t.screen();
  // While the command runs the caller's terminal is raw: keys go to the command's pty.
  struct termios during = t.Modes();
  EXPECT_EQ(during.c_lflag & (ICANON | ECHO | ISIG), 0u);
  t.Type("\x03");
  EXPECT_EQ(t.Wait(), 128 + SIGINT) << t.screen();
  EXPECT_TRUE(SameModes(t.Modes(), t.initial()));
}

TEST_P(PtyTest, ModesAreRestoredAfterNormalExit) {
  TerminalSession t;
  t.Start(Run({Helper("probe_tty"), "info"}), Env(), workspace_);
  ASSERT_EQ(t.Wait(), 0) << t.screen();
  EXPECT_TRUE(SameModes(t.Modes(), t.initial()));
}

TEST_P(PtyTest, ModesAreRestoredAfterTheCommandCrashes) {
  TerminalSession t;
  t.Start(Run({Helper("probe_tty"), "crash"}), Env(), workspace_);
  EXPECT_EQ(t.Wait(), 128 + SIGSEGV) << t.screen();
  EXPECT_NE(t.screen().find("crashing"), std::string::npos) << t.screen();
  EXPECT_TRUE(SameModes(t.Modes(), t.initial()));
}

TEST_P(PtyTest, ModesAreRestoredAfterTimeout) {
  WritePolicy("    max_duration: 1s\n");
  TerminalSession t;
  t.Start(Run({Helper("probe_tty"), "sleep"}), Env(), workspace_);
  ASSERT_TRUE(t.WaitFor("ready")) << t.screen();
  EXPECT_EQ(t.Modes().c_lflag & ICANON, 0u);
  EXPECT_EQ(t.Wait(), 124) << t.screen();
  EXPECT_TRUE(SameModes(t.Modes(), t.initial()));
}

TEST_P(PtyTest, ModesAreRestoredWhenJitsecIsTerminated) {
  TerminalSession t;
  t.Start(Run({Helper("probe_tty"), "wait"}), Env(), workspace_);
  ASSERT_TRUE(t.WaitFor("ready")) << t.screen();
  EXPECT_EQ(t.Modes().c_lflag & ICANON, 0u);
  // SIGTERM to jitsec: forwarded to the command, which dies of it; jitsec restores and exits.
  ASSERT_EQ(::kill(t.pid(), SIGTERM), 0);
  EXPECT_EQ(t.Wait(), 128 + SIGTERM) << t.screen();
  EXPECT_TRUE(SameModes(t.Modes(), t.initial()));
}

TEST_P(PtyTest, StderrRedirectedAwayFromTheTerminalStaysSeparateAndMasked) {
  TerminalSession t;
  t.Start(Run({"/bin/sh", "-c", "echo to-out; echo to-err >&2; cat \"$TOKEN_FILE\" >&2"}), Env(), workspace_, 40,
          100, /*stderr_to_pipe=*/true);
  ASSERT_EQ(t.Wait(), 0) << t.screen();
  std::string err = t.StderrText();
  EXPECT_NE(t.screen().find("to-out\r\n"), std::string::npos) << t.screen();
  EXPECT_EQ(t.screen().find("to-err"), std::string::npos) << t.screen();
  EXPECT_NE(err.find("to-err\n***"), std::string::npos) << err;
  ExpectNoCanary(err, canary_, "jitsec's stderr");
  ExpectNoLeak(t.screen());
}

INSTANTIATE_TEST_SUITE_P(SandboxOnAndOff, PtyTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Sandboxed" : "Plain"; });

// Without a terminal the command gets no pty, and stdout and stderr stay separate.
TEST(PtyAbsent, PipesStayPipesAndStreamsStaySeparate) {
  JitsecHome home;
  fs::path ws = home.dir.path() / "work";
  fs::create_directories(ws);
  WriteTextFile(home.dir.path() / "policy.yaml",
                "version: 1\ntasks:\n  t:\n    description: d\n    sandbox: {enabled: false}\n", 0600);
  RunOptions o;
  o.env = home.Env();
  o.env["JITSEC_POLICY"] = (home.dir.path() / "policy.yaml").string();
  o.cwd = ws;
  auto r = RunJitsec({"run", "--task", "t", "--", Helper("probe_tty"), "info"}, o);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("tty=000 ctty=0"), std::string::npos) << r.out;
  r = RunJitsec({"run", "--task", "t", "--", "/bin/sh", "-c", "echo out; echo err >&2"}, o);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_NE(r.err.find("err\n"), std::string::npos);
}

}  // namespace
}  // namespace jitsec::testing
