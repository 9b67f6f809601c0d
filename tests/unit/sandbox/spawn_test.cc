// Starting the command without copying jitsec's address space (child::CloneVfork: clone with
// CLONE_VM | CLONE_VFORK on a stack mapped beforehand, the technique of posix_spawn), with and
// without the sandbox, and the namespace init that writes its own uid/gid maps. Checks that
// failures still come back through the report pipe with their step (exec failures as "command
// not found", exit 127), that the command starts with no signal blocked or ignored while the
// caller's own mask is left as it was, that the init maps the caller's ids and is not dumpable
// once the command runs, and that the spawn itself writes nothing on the command's stderr (an
// AddressSanitizer warning about the switched stack would land there).
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/exec_spec.h"
#include "sandbox/child_apply.h"
#include "sandbox/sandbox.h"
#include "support/support.h"
#include "test_workspace.h"

namespace jitsec::sandbox {
namespace {
namespace fs = std::filesystem;
using ::jitsec::testing::Feature;
using ::jitsec::testing::ScopedTempDir;
using ::jitsec::testing::WriteTextFile;

std::string ReadAll(int fd) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return out + "<timeout>";
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, int(left.count())) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return out;
    out.append(buf, size_t(n));
  }
}

// A spec for path/argv whose 0, 1 and 2 are all null_fd (/dev/null); Finalize it in place
// (its pointer arrays point into its own strings).
ExecSpec QuietSpec(int null_fd, std::string path, std::vector<std::string> argv,
                   std::string cwd = {}, std::vector<std::string> envp = {}) {
  ExecSpec spec;
  spec.path = std::move(path);
  spec.argv = std::move(argv);
  spec.envp = std::move(envp);
  spec.fds = {{null_fd, 0}, {null_fd, 1}, {null_fd, 2}};
  spec.cwd = std::move(cwd);
  return spec;
}

std::string Grep() { return fs::exists("/usr/bin/grep") ? "/usr/bin/grep" : "/bin/grep"; }

// A workspace T/ws below a private temp dir, sandboxed (the default plan, the workspace
// writable) or not.
using Workspace = testing::TestWorkspace;

struct Outcome {
  Result<Launched> launched = Fail(ErrorCode::kInternal, "not run");
  int status = -1;  // exit code or 128+N (of the init when sandboxed)
  std::string out;
  std::string err;
};

// Launches args (args[0] absolute) with stdout and stderr on two pipes and waits for the end.
Outcome Start(const Workspace& w, const std::vector<std::string>& args, std::string cwd = "") {
  Outcome o;
  auto prepared = w.Prepared();
  EXPECT_TRUE(prepared) << prepared.error().message();
  if (!prepared) return o;
  int out[2];
  int err[2];
  EXPECT_EQ(::pipe2(out, O_CLOEXEC), 0);
  EXPECT_EQ(::pipe2(err, O_CLOEXEC), 0);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ExecSpec spec;
  spec.path = args[0];
  spec.argv = args;
  spec.envp = {"PATH=/usr/bin:/bin", "LANG=C"};
  spec.fds = {{null_fd, 0}, {out[1], 1}, {err[1], 2}};
  spec.cwd = cwd.empty() ? w.ws.string() : cwd;
  spec.parent_pid = ::getpid();
  spec.Finalize();
  o.launched = Launch(*prepared, spec);
  ::close(out[1]);
  ::close(err[1]);
  ::close(null_fd);
  if (o.launched) {
    o.out = ReadAll(out[0]);
    int st = 0;
    EXPECT_EQ(::waitpid(o.launched->pid, &st, 0), o.launched->pid);
    o.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  o.err = ReadAll(err[0]);
  ::close(out[0]);
  ::close(err[0]);
  return o;
}

class SpawnTest : public ::testing::TestWithParam<bool> {  // sandboxed?
 protected:
  void SetUp() override {
    if (GetParam()) JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  }
};

INSTANTIATE_TEST_SUITE_P(, SpawnTest, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "Sandboxed" : "Plain"; });

TEST_P(SpawnTest, CommandRunsAndNothingElseIsWrittenOnItsStderr) {
  Workspace w(GetParam());
  Outcome o = Start(w, {"/bin/sh", "-c", "echo out; exit 3"});
  ASSERT_TRUE(o.launched) << o.launched.error().message();
  EXPECT_EQ(o.out, "out\n");
  EXPECT_EQ(o.err, "");
  EXPECT_EQ(o.status, 3);
}

// The file exists and is executable (so `jitsec run` resolves it), but its interpreter does
// not: execve fails with ENOENT in the child, after the spawn.
TEST_P(SpawnTest, ExecFailureIsCommandNotFound) {
  Workspace w(GetParam());
  fs::path script = w.ws / "script";
  WriteTextFile(script, "#!/jitsec-no-such-dir/interpreter\n", 0755);
  Outcome o = Start(w, {script.string()});
  ASSERT_FALSE(o.launched);
  EXPECT_EQ(o.launched.error().code(), ErrorCode::kCommandNotFound);
  EXPECT_EQ(o.launched.error().message(),
            "exec \"" + script.string() + "\": No such file or directory");
  EXPECT_EQ(o.err, "");
  Outcome missing = Start(w, {(w.ws / "nope").string()});
  ASSERT_FALSE(missing.launched);
  EXPECT_EQ(missing.launched.error().code(), ErrorCode::kCommandNotFound);
  EXPECT_EQ(missing.err, "");
}

TEST_P(SpawnTest, SetupFailureIsReportedWithItsStep) {
  Workspace w(GetParam());
  Outcome o = Start(w, {"/bin/true"}, (w.ws / "missing").string());
  ASSERT_FALSE(o.launched);
  EXPECT_EQ(o.launched.error().code(), ErrorCode::kChildSetup);
  EXPECT_EQ(o.launched.error().message(),
            std::string(GetParam() ? "sandbox" : "command") +
                " setup failed at chdir: No such file or directory");
  EXPECT_EQ(o.err, "");
}

// The child starts with every signal blocked (CloneVfork) and must restore the dispositions
// before it unblocks; the caller gets its own mask back.
TEST_P(SpawnTest, CommandStartsWithNoSignalBlockedOrIgnoredAndTheCallersMaskIsKept) {
  Workspace w(GetParam());
  sigset_t add;
  sigset_t saved;
  sigemptyset(&add);
  sigaddset(&add, SIGUSR1);
  ASSERT_EQ(::sigprocmask(SIG_BLOCK, &add, &saved), 0);
  struct sigaction ign {};
  struct sigaction old_usr2 {};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGUSR2, &ign, &old_usr2), 0);
  sigset_t before;
  ASSERT_EQ(::sigprocmask(SIG_SETMASK, nullptr, &before), 0);

  Outcome o = Start(w, {Grep(), "-E", "^Sig(Blk|Ign)", "/proc/self/status"});

  sigset_t after;
  ASSERT_EQ(::sigprocmask(SIG_SETMASK, nullptr, &after), 0);
  for (int s = 1; s < NSIG; ++s) {
    EXPECT_EQ(sigismember(&after, s), sigismember(&before, s)) << "signal " << s;
  }
  struct sigaction now {};
  ASSERT_EQ(::sigaction(SIGUSR2, &old_usr2, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_IGN);
  ASSERT_EQ(::sigprocmask(SIG_SETMASK, &saved, nullptr), 0);

  ASSERT_TRUE(o.launched) << o.launched.error().message();
  EXPECT_EQ(o.out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
  EXPECT_EQ(o.status, 0);
}

TEST(SpawnPlainTest, ExecFailureReportsEnoentAndExits127) {
  ScopedTempDir tmp;
  fs::path script = tmp / "script";
  WriteTextFile(script, "#!/jitsec-no-such-dir/interpreter\n", 0755);
  for (const std::string& path : {(tmp / "nope").string(), script.string()}) {
    int report[2];
    ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
    int report_w = ::fcntl(report[1], F_DUPFD_CLOEXEC, 10);  // above the targets 0..2
    ::close(report[1]);
    int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    ExecSpec spec = QuietSpec(null_fd, path, {path});
    spec.Finalize();
    int pidfd = -1;
    pid_t pid = child::SpawnPlain(spec, report_w, &pidfd);
    ::close(report_w);
    ::close(null_fd);
    ASSERT_GT(pid, 0) << std::strerror(errno);
    ChildReport r = ReadChildReport(report[0]);
    ::close(report[0]);
    EXPECT_EQ(r.step, ChildStep::kExec) << path;
    EXPECT_EQ(r.err, ENOENT) << path;
    int st = 0;
    ASSERT_EQ(::waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 127) << path;
    EXPECT_GE(pidfd, 0);  // CLONE_PIDFD (every kernel this runs on has it)
    if (pidfd >= 0) ::close(pidfd);
  }
}

size_t MappingCount() {
  std::ifstream maps("/proc/self/maps");
  size_t n = 0;
  for (std::string line; std::getline(maps, line);) ++n;
  return n;
}

TEST(SpawnPlainTest, TheChildStackIsUnmappedAfterTheSpawn) {
  Workspace w(false);
  ASSERT_EQ(Start(w, {"/bin/true"}).status, 0);  // any lazily created mapping exists now
  // A stack left behind would be two mappings (guard page and stack) per spawn; the allocator
  // (ASan's in particular) may add a few of its own meanwhile.
  size_t before = MappingCount();
  for (int i = 0; i < 40; ++i) ASSERT_EQ(Start(w, {"/bin/true"}).status, 0);
  EXPECT_LT(MappingCount(), before + 20);
}

TEST(ChildStackTest, HasAGuardPageBelowAndIsWritable) {
  child::ChildStack stack;
  ASSERT_TRUE(stack.Allocate()) << std::strerror(errno);
  auto* top = static_cast<char*>(stack.top());
  auto* base = static_cast<char*>(stack.base());
  ASSERT_GT(top - base, ptrdiff_t(child::ChildStack::kSize));
  top[-1] = 1;
  base[::getpagesize()] = 1;  // the lowest usable byte
  std::ifstream maps("/proc/self/maps");
  bool guard = false;
  char want[32];
  std::snprintf(want, sizeof want, "%lx-", static_cast<unsigned long>(reinterpret_cast<uintptr_t>(base)));
  for (std::string line; std::getline(maps, line);) {
    if (line.rfind(want, 0) == 0) guard = line.find(" ---p ") != std::string::npos;
  }
  EXPECT_TRUE(guard);
  child::ChildStack moved = std::move(stack);
  EXPECT_FALSE(stack);
  EXPECT_TRUE(moved);
  moved.reset();
  EXPECT_FALSE(moved);
}

TEST(IdMapLineTest, IsTheIdTwiceAndOne) {
  auto text = [](unsigned id) {
    child::IdMapLine l = child::FormatIdMapLine(id);
    return std::string(l.text, l.size);
  };
  EXPECT_EQ(text(0), "0 0 1");
  EXPECT_EQ(text(1000), "1000 1000 1");
  EXPECT_EQ(text(65534), "65534 65534 1");
  EXPECT_EQ(text(4294967294U), "4294967294 4294967294 1");
}

TEST(SandboxInitTest, MapsTheCallersIdsAndDeniesSetgroups) {
  JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  Workspace w(true);
  Outcome o = Start(w, {"/bin/cat", "/proc/self/uid_map", "/proc/self/gid_map", "/proc/self/setgroups"});
  ASSERT_TRUE(o.launched) << o.launched.error().message();
  std::istringstream in(o.out);
  unsigned inside = 0, outside = 0, count = 0;
  ASSERT_TRUE(in >> inside >> outside >> count) << o.out;
  EXPECT_EQ(inside, ::geteuid());
  EXPECT_EQ(outside, ::geteuid());
  EXPECT_EQ(count, 1U);
  ASSERT_TRUE(in >> inside >> outside >> count) << o.out;
  EXPECT_EQ(inside, ::getegid());
  EXPECT_EQ(outside, ::getegid());
  EXPECT_EQ(count, 1U);
  std::string setgroups;
  ASSERT_TRUE(in >> setgroups) << o.out;
  EXPECT_EQ(setgroups, "deny");
  std::string rest;
  EXPECT_FALSE(in >> rest) << o.out;  // one line per map
  EXPECT_EQ(o.status, 0);
}

// The init is dumpable only while it opens its map files. A process that is not dumpable has
// the files in its /proc/PID owned by root; so the check runs as an unprivileged user (nobody when the test
// runs as root) that starts out dumpable, as a worst case: the init inherits the flag.
TEST(SandboxInitTest, IsNotDumpableOnceTheCommandRuns) {
  JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  Workspace w(true);
  auto prepared = w.Prepared();
  ASSERT_TRUE(prepared) << prepared.error().message();
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ExecSpec spec = QuietSpec(null_fd, "/bin/sleep", {"sleep", "30"}, w.ws.string(), {"PATH=/usr/bin:/bin"});
  spec.Finalize();
  pid_t tester = ::fork();
  ASSERT_GE(tester, 0);
  if (tester == 0) {
    if (::getuid() == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
          ::setresuid(65534, 65534, 65534) != 0) {
        ::_exit(2);
      }
    }
    if (::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) ::_exit(3);
    auto launched = Launch(*prepared, spec);
    if (!launched) ::_exit(4);
    struct stat st {};
    // Not /proc/PID itself: the directory always shows the euid.
    std::string proc = "/proc/" + std::to_string(launched->pid) + "/environ";
    int rc = ::stat(proc.c_str(), &st) != 0 ? 5 : st.st_uid == 0 ? 0 : 6;
    ::kill(launched->pid, SIGKILL);
    ::waitpid(launched->pid, nullptr, 0);
    ::_exit(rc);
  }
  ::close(null_fd);
  int st = 0;
  ASSERT_EQ(::waitpid(tester, &st, 0), tester);
  ASSERT_TRUE(WIFEXITED(st));
  // 2: cannot become nobody, 3: prctl, 4: launch failed, 5: stat, 6: the init is dumpable.
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

// A failure of the init's own map writes comes back as the user namespace step with its errno.
// The tester (a fork of this process, so that nothing else is filtered) installs a seccomp
// filter, inherited by the init, that fails every open for writing with EPERM: the init's first
// one is /proc/self/setgroups.
TEST(SandboxInitTest, MapFailureIsReportedAtTheUserNamespaceStep) {
  JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  Workspace w(true);
  auto prepared = w.Prepared();
  ASSERT_TRUE(prepared) << prepared.error().message();
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ExecSpec spec = QuietSpec(null_fd, "/bin/true", {"true"}, w.ws.string());
  spec.Finalize();
  int msg[2];
  ASSERT_EQ(::pipe2(msg, O_CLOEXEC), 0);
  pid_t tester = ::fork();
  ASSERT_GE(tester, 0);
  if (tester == 0) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_openat, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, O_ACCMODE),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, O_WRONLY, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof code / sizeof code[0], code};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
      ::_exit(2);
    }
    auto launched = Launch(*prepared, spec);
    std::string text = launched ? std::string("launched")
                                : std::to_string(int(launched.error().code())) + " " +
                                      launched.error().message();
    (void)!::write(msg[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(msg[1]);
  ::close(null_fd);
  std::string text = ReadAll(msg[0]);
  ::close(msg[0]);
  int st = 0;
  ASSERT_EQ(::waitpid(tester, &st, 0), tester);
  ASSERT_TRUE(WIFEXITED(st));
  ASSERT_EQ(WEXITSTATUS(st), 0) << "2: the filter could not be installed";
  EXPECT_EQ(text, std::to_string(int(ErrorCode::kChildSetup)) +
                      " sandbox setup failed at user namespace: Operation not permitted");
}

}  // namespace
}  // namespace jitsec::sandbox
