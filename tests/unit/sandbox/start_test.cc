// The init started before issuance (sandbox::Start) and the command message it waits for
// (exec_message.h): the message round trip with descriptors, strings and an environment larger
// than a socket buffer; malformed, truncated and absent messages; an init abandoned before its
// command (killed and reaped, nothing run); an init that has finished its setup long before the
// command arrives; a setup failure that happened while jitsec was issuing, reported at Launch;
// the namespace helper (Prestart) that clones the init: the init is the caller's own child, an
// unused helper is reaped, one made for another network setting is refused, and its failures
// are reported by Start with their step.
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "base/exec_spec.h"
#include "base/fs.h"
#include "sandbox/exec_message.h"
#include "sandbox/sandbox.h"
#include "support/support.h"
#include "test_workspace.h"

namespace jitsec::sandbox {
namespace {
namespace fs = std::filesystem;
using ::jitsec::testing::Feature;

struct SocketPair {
  int a = -1;
  int b = -1;
  SocketPair() {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    a = sv[0];
    b = sv[1];
  }
  ~SocketPair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
};

ino_t Inode(int fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return st.st_ino;
}

TEST(CommandMessageTest, RoundTripCarriesDescriptorsProgramStringsAndALargeEnvironment) {
  SocketPair sp;
  int p1[2];
  int p2[2];
  ASSERT_EQ(::pipe2(p1, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(p2, O_CLOEXEC), 0);
  ExecSpec spec;
  spec.path = "/usr/bin/env";
  spec.argv = {"env", "", "arg with spaces", "\xc3\xa9t\xc3\xa9"};
  // About 1 MiB of environment: more than a socket buffer, so the send and the receive overlap.
  for (int i = 0; i < 1000; ++i) spec.envp.push_back("V" + std::to_string(i) + "=" + std::string(1000, char('a' + i % 26)));
  spec.fds = {{p1[0], 0}, {p2[1], 1}, {p2[1], 2}, {p1[1], 9}};
  spec.cwd = "/tmp";
  spec.new_session = false;
  spec.controlling_tty_target = 1;
  spec.parent_pid = 1;
  spec.Finalize();

  // A stand-in for the Landlock ruleset (any descriptor travels the same way) and a program.
  int ruleset = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::vector<struct sock_filter> program(300);
  for (size_t i = 0; i < program.size(); ++i) {
    program[i] = {uint16_t(i), uint8_t(i % 7), uint8_t(i % 5), uint32_t(i * 2654435761U)};
  }
  Confinement sent_with{ruleset, program.data(), program.size()};

  Status sent = Ok();
  std::thread sender([&] { sent = SendCommand(sp.a, spec, sent_with); });
  ExecView v;
  Confinement got;
  EXPECT_EQ(child::ReceiveCommand(sp.b, &v, &got), child::Received::kCommand) << std::strerror(errno);
  sender.join();
  ASSERT_TRUE(sent) << sent.error().message();
  ASSERT_EQ(got.filter_len, program.size());
  EXPECT_EQ(std::memcmp(got.filter, program.data(), program.size() * sizeof(struct sock_filter)), 0);
  ASSERT_GE(got.landlock_fd, 0);
  EXPECT_NE(got.landlock_fd, ruleset);
  EXPECT_EQ(Inode(got.landlock_fd), Inode(ruleset));
  EXPECT_EQ(::fcntl(got.landlock_fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  ::close(got.landlock_fd);
  ::close(ruleset);

  EXPECT_STREQ(v.path, "/usr/bin/env");
  EXPECT_STREQ(v.cwd, "/tmp");
  EXPECT_FALSE(v.new_session);
  EXPECT_EQ(v.controlling_tty_target, 1);
  EXPECT_EQ(v.parent_pid, 1);
  std::vector<std::string> argv;
  for (char* const* a = v.argv; *a != nullptr; ++a) argv.emplace_back(*a);
  EXPECT_EQ(argv, spec.argv);
  std::vector<std::string> envp;
  for (char* const* e = v.envp; *e != nullptr; ++e) envp.emplace_back(*e);
  EXPECT_EQ(envp, spec.envp);
  ASSERT_EQ(v.fd_count, 4U);
  EXPECT_EQ(v.max_target_fd(), 9);
  ASSERT_NE(v.fd_scratch, nullptr);
  const int expect_target[] = {0, 1, 2, 9};
  const int expect_same[] = {p1[0], p2[1], p2[1], p1[1]};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(v.fds[i].target, expect_target[i]);
    // A new descriptor for the same pipe, close-on-exec.
    EXPECT_NE(v.fds[i].source, expect_same[i]);
    EXPECT_EQ(Inode(v.fds[i].source), Inode(expect_same[i]));
    EXPECT_EQ(::fcntl(v.fds[i].source, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  }
  for (size_t i = 0; i < 4; ++i) ::close(v.fds[i].source);
  for (int fd : {p1[0], p1[1], p2[0], p2[1]}) ::close(fd);
}

TEST(CommandMessageTest, ClosedSocketIsNoCommand) {
  SocketPair sp;
  ::close(sp.a);
  sp.a = -1;
  ExecView v;
  Confinement c;
  EXPECT_EQ(child::ReceiveCommand(sp.b, &v, &c), child::Received::kClosed);
}

TEST(CommandMessageTest, MalformedAndTruncatedMessagesAreErrors) {
  {
    SocketPair sp;
    CommandHeader h;  // magic 0
    h.argc = 1;
    h.body_bytes = 8;
    ASSERT_EQ(::write(sp.a, &h, sizeof h), ssize_t(sizeof h));
    ExecView v;
    Confinement c;
    errno = 0;
    EXPECT_EQ(child::ReceiveCommand(sp.b, &v, &c), child::Received::kError);
    EXPECT_EQ(errno, EINVAL);
  }
  {
    // A valid command cut short: the header and half the body, then the sender is gone.
    SocketPair sp;
    ExecSpec spec;
    spec.path = "/bin/true";
    spec.argv = {"true"};
    spec.envp = {"A=" + std::string(100, 'x')};
    spec.Finalize();
    SocketPair relay;  // captures the message, to forward part of it
    ASSERT_TRUE(SendCommand(relay.a, spec));
    char buf[4096];
    ssize_t n = ::read(relay.b, buf, sizeof buf);
    ASSERT_GT(n, ssize_t(sizeof(CommandHeader)));
    ASSERT_EQ(::write(sp.a, buf, size_t(n) - 20), n - 20);
    ::close(sp.a);
    sp.a = -1;
    ExecView v;
    Confinement c;
    errno = 0;
    EXPECT_EQ(child::ReceiveCommand(sp.b, &v, &c), child::Received::kError);
    EXPECT_EQ(errno, EPIPE);
  }
  {
    // Strings that do not add up to the counts in the header.
    SocketPair sp;
    std::string body = "/bin/true";
    body.push_back('\0');
    body += "/";  // cwd without its NUL, and no argv at all
    CommandHeader h;
    h.magic = 0x4a584543;
    h.argc = 1;
    h.body_bytes = uint32_t(body.size());
    ASSERT_EQ(::write(sp.a, &h, sizeof h), ssize_t(sizeof h));
    ASSERT_EQ(::write(sp.a, body.data(), body.size()), ssize_t(body.size()));
    ExecView v;
    Confinement c;
    errno = 0;
    EXPECT_EQ(child::ReceiveCommand(sp.b, &v, &c), child::Received::kError);
    EXPECT_EQ(errno, EINVAL);
  }
}

TEST(CommandMessageTest, TooManyDescriptorsAreRefusedBySender) {
  SocketPair sp;
  ExecSpec spec;
  spec.path = "/bin/true";
  spec.argv = {"true"};
  for (int i = 0; i < int(kMaxCommandFds) + 1; ++i) spec.fds.push_back({0, i});
  spec.Finalize();
  Status st = SendCommand(sp.a, spec);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
}

using Workspace = testing::TestWorkspace;

bool Alive(pid_t pid) { return ::kill(pid, 0) == 0; }

// A sandbox prepared with a read tree that is then removed, before the init clones it: the
// init's mounts step fails (ENOENT).
Result<PreparedSandbox> PreparedWithAVanishedTree(Workspace& w) {
  fs::path tree = w.tmp / "tree";
  fs::create_directories(tree);
  w.config.read = {tree.string()};
  auto prepared = w.Prepared();
  fs::remove(tree);
  return prepared;
}

TEST(SandboxStartTest, InitAbandonedBeforeItsCommandIsKilledAndReaped) {
  JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  Workspace w;
  auto prepared = w.Prepared();
  ASSERT_TRUE(prepared) << prepared.error().message();
  pid_t pid = -1;
  {
    auto started = Start(*prepared);
    ASSERT_TRUE(started) << started.error().message();
    pid = started->pid();
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(Alive(pid));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let it reach its wait
  }
  // Reaped by the destructor: no such process, no zombie child left.
  EXPECT_FALSE(Alive(pid));
  EXPECT_EQ(errno, ESRCH);
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

// The init finished its setup long ago and waits; the command still runs, in the sandbox.
TEST(SandboxStartTest, CommandSentLongAfterStartRunsInTheSandbox) {
  JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  Workspace w;
  auto prepared = w.Prepared();
  ASSERT_TRUE(prepared) << prepared.error().message();
  auto started = Start(*prepared);
  ASSERT_TRUE(started) << started.error().message();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ExecSpec spec;
  spec.path = "/bin/sh";
  spec.argv = {"sh", "-c", "hostname; echo $$; touch ran && echo wrote"};
  spec.envp = {"PATH=/usr/bin:/bin"};
  spec.fds = {{null_fd, 0}, {p[1], 1}, {p[1], 2}};
  spec.cwd = w.ws.string();
  spec.Finalize();
  auto launched = Launch(std::move(*started), spec);
  ::close(p[1]);
  ::close(null_fd);
  ASSERT_TRUE(launched) << launched.error().message();
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  ::close(p[0]);
  int st = 0;
  ASSERT_EQ(::waitpid(launched->pid, &st, 0), launched->pid);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
  EXPECT_EQ(out, "jitsec\n2\nwrote\n");  // the init is 1, the command 2
  EXPECT_TRUE(fs::exists(w.ws / "ran"));
}

// A setup step that fails while jitsec is busy issuing is reported when the command is sent,
// with its step, and the init is reaped.
TEST(SandboxStartTest, SetupFailureDuringIssuanceIsReportedAtLaunch) {
  JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  Workspace w;
  // Gone between Prepare and the init's clone of it: the mounts step fails in the init.
  auto prepared = PreparedWithAVanishedTree(w);
  ASSERT_TRUE(prepared) << prepared.error().message();
  auto started = Start(*prepared);
  ASSERT_TRUE(started) << started.error().message();
  pid_t pid = started->pid();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ExecSpec spec;
  spec.path = "/bin/true";
  spec.argv = {"true"};
  spec.fds = {{null_fd, 0}, {null_fd, 1}, {null_fd, 2}};
  spec.Finalize();
  auto launched = Launch(std::move(*started), spec);
  ::close(null_fd);
  ASSERT_FALSE(launched);
  EXPECT_EQ(launched.error().code(), ErrorCode::kChildSetup);
  EXPECT_EQ(launched.error().message(), "sandbox setup failed at mounts: No such file or directory");
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

// The parent pid in /proc/PID/status, -1 when it cannot be read.
pid_t ParentOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PPid:", 0) == 0) return pid_t(std::stol(line.substr(5)));
  }
  return -1;
}

// No child of this process is left, zombies included (the helper is cloned with SIGCHLD).
bool NoChildLeft() {
  siginfo_t info{};
  return ::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | __WALL) == -1 && errno == ECHILD;
}

// The helper clones the init with CLONE_PARENT: the init is this process's child (it reaps it,
// and the init's parent-death signal is tied to it), and the helper itself is gone and reaped
// once Start has returned and the Starting is destroyed.
TEST(SandboxStartTest, InitIsTheCallersOwnChildAndTheHelperIsReaped) {
  JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  ASSERT_TRUE(NoChildLeft()) << "a child of an earlier test is left";
  Workspace w;
  auto prepared = w.Prepared();
  ASSERT_TRUE(prepared) << prepared.error().message();
  auto ns = Prestart(w.config.network);
  ASSERT_TRUE(ns) << ns.error().message();
  pid_t pid = -1;
  {
    auto started = Start(*prepared, false, std::move(*ns));
    ASSERT_TRUE(started) << started.error().message();
    pid = started->pid();
    EXPECT_EQ(ParentOf(pid), ::getpid());
  }
  EXPECT_TRUE(NoChildLeft());
}

// A helper that was never used (the task turned out not to want its namespaces) exits when told
// and is reaped: destroyed at once, and after an Abort.
TEST(SandboxStartTest, UnusedNamespaceHelperIsReaped) {
  JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  ASSERT_TRUE(NoChildLeft()) << "a child of an earlier test is left";
  {
    auto ns = Prestart(policy::Network::kNone);
    ASSERT_TRUE(ns) << ns.error().message();
  }
  EXPECT_TRUE(NoChildLeft());
  {
    auto ns = Prestart(policy::Network::kHost);
    ASSERT_TRUE(ns) << ns.error().message();
    ns->Abort();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(NoChildLeft());
}

// Namespaces made for network: host cannot carry a sandbox planned without network (and the
// other way round): Start refuses, nothing is started.
TEST(SandboxStartTest, NamespacesForAnotherNetworkSettingAreRefused) {
  JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  Workspace w;
  auto prepared = w.Prepared();
  ASSERT_TRUE(prepared) << prepared.error().message();
  ASSERT_EQ(w.config.network, policy::Network::kNone);
  auto ns = Prestart(policy::Network::kHost);
  ASSERT_TRUE(ns) << ns.error().message();
  auto started = Start(*prepared, false, std::move(*ns));
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code(), ErrorCode::kInternal);
  EXPECT_TRUE(NoChildLeft());
}

// The helper's own failures (here: the kernel refuses its unshare, through a seccomp filter in a
// fork of this process) are reported by Start with the step, and nothing is left running.
std::string StartUnderUnshareFilter(const PreparedSandbox& prepared, uint32_t refused_flag) {
  int msg[2];
  EXPECT_EQ(::pipe2(msg, O_CLOEXEC), 0);
  pid_t tester = ::fork();
  if (tester == 0) {
    // unshare(flags) with `refused_flag` in flags: EPERM; everything else allowed.
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, refused_flag, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof code / sizeof code[0], code};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
      ::_exit(2);
    }
    std::string text;
    {
      auto started = Start(prepared);
      text = started ? std::string("started") : std::to_string(int(started.error().code())) + " " +
                                                      started.error().message();
    }
    if (!NoChildLeft()) text += " (a child is left)";
    (void)!::write(msg[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(msg[1]);
  std::string text;
  char buf[256];
  ssize_t n;
  while ((n = ::read(msg[0], buf, sizeof buf)) > 0) text.append(buf, size_t(n));
  ::close(msg[0]);
  int st = 0;
  EXPECT_EQ(::waitpid(tester, &st, 0), tester);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "2: the filter could not be installed";
  return text;
}

TEST(SandboxStartTest, NamespaceHelperFailuresAreReportedWithTheirStep) {
  JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  Workspace w;
  auto prepared = w.Prepared();
  ASSERT_TRUE(prepared) << prepared.error().message();
  const std::string setup = std::to_string(int(ErrorCode::kChildSetup));
  EXPECT_EQ(StartUnderUnshareFilter(*prepared, CLONE_NEWUSER),
            setup + " sandbox setup failed at user namespace: Operation not permitted");
  EXPECT_EQ(StartUnderUnshareFilter(*prepared, CLONE_NEWNET),
            setup + " sandbox setup failed at network namespace: Operation not permitted");
}

// The init's pty (for a command with a terminal) is made in the sandbox's own devpts: its master
// reaches jitsec; and an init that failed before building /dev reports its own step there.
TEST(SandboxStartTest, PtyMasterComesFromTheSandboxsDevptsOrTheInitsReport) {
  JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  {
    Workspace w;
    auto prepared = w.Prepared();
    ASSERT_TRUE(prepared) << prepared.error().message();
    auto started = Start(*prepared, /*terminal=*/true);
    ASSERT_TRUE(started) << started.error().message();
    auto master = ReceivePtyMaster(*started);
    ASSERT_TRUE(master) << master.error().message();
    ASSERT_TRUE(*master);
    unsigned number = 99;
    ASSERT_EQ(::ioctl(master->get(), TIOCGPTN, &number), 0) << std::strerror(errno);
    EXPECT_EQ(number, 0U);  // the first pty of a new devpts instance
    struct stat host {};
    struct stat ours {};
    ASSERT_EQ(::stat("/dev/ptmx", &host), 0);
    ASSERT_EQ(::fstat(master->get(), &ours), 0);
    EXPECT_NE(ours.st_dev, host.st_dev) << "a master of the host's devpts";
  }
  {
    Workspace w;
    auto prepared = PreparedWithAVanishedTree(w);  // the init never builds /dev
    ASSERT_TRUE(prepared) << prepared.error().message();
    auto started = Start(*prepared, /*terminal=*/true);
    ASSERT_TRUE(started) << started.error().message();
    auto master = ReceivePtyMaster(*started);
    ASSERT_FALSE(master);
    EXPECT_EQ(master.error().message(), "sandbox setup failed at mounts: No such file or directory");
  }
}

}  // namespace
}  // namespace jitsec::sandbox
