// Tests of the Landlock layer: access masks per ABI, the ruleset prepared from a plan and
// applied in a forked child (reads and writes inside and outside the trees, paths created
// later, symlinked write trees, rules added from the child side), and the ABI 6 scopes.
// Under ASan/UBSan: the children only open files below the temp dir and /dev/null and leave
// through _exit, so the sanitizer runtimes never need a path the ruleset denies.
#include "sandbox/landlock.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "landlock_seccomp_child.h"
#include "sandbox/landlock_abi.h"
#include "support/support.h"

namespace jitsec::sandbox {
namespace {

namespace ll = landlock_abi;
using ::jitsec::testing::Feature;
using ::jitsec::testing::ScopedTempDir;
using ::jitsec::testing::WriteTextFile;
using testing::ErrnoOf;
using testing::RunRestricted;

TEST(LandlockAccessTest, MasksFollowTheAbi) {
  EXPECT_EQ(LandlockFullAccess(0), 0U);
  EXPECT_EQ(LandlockReadAccess(0), 0U);
  EXPECT_EQ(LandlockFullAccess(1), 0x1fffU);
  EXPECT_EQ(LandlockFullAccess(2), 0x3fffU);
  EXPECT_EQ(LandlockFullAccess(3), 0x7fffU);
  EXPECT_EQ(LandlockFullAccess(4), 0x7fffU);  // ABI 4 adds network rights only
  EXPECT_EQ(LandlockFullAccess(5), 0xffffU);
  EXPECT_EQ(LandlockFullAccess(99), 0xffffU);  // capped at the newest known ABI
  EXPECT_EQ(LandlockReadAccess(1), ll::kFsExecute | ll::kFsReadFile | ll::kFsReadDir);
  EXPECT_EQ(ll::HandledScopes(5), 0U);
  EXPECT_EQ(ll::HandledScopes(6), ll::kScopeSignal | ll::kScopeAbstractUnixSocket);
}

TEST(LandlockProbeTest, ReportsAnAbiWhenLandlockIsAvailable) {
  JITSEC_SKIP_UNLESS(Feature::kLandlock);
  EXPECT_GE(ProbeLandlockAbi(), 1);
}

TEST(LandlockPrepareTest, AbiZeroGivesAnEmptyRulesetThatAppliesAsANoOp) {
  SandboxPlan plan;
  plan.read = {"/"};
  auto rs = PrepareLandlock(plan, 0);
  ASSERT_TRUE(rs.has_value()) << rs.error().message();
  EXPECT_FALSE(rs->fd);
  EXPECT_EQ(rs->abi, 0);
  EXPECT_TRUE(child::ApplyLandlock(*rs));
  EXPECT_TRUE(child::AddLandlockRule(*rs, -1, ll::kFsReadFile));
}

TEST(LandlockPrepareTest, UnopenablePathNamesThePathAndErrno) {
  JITSEC_SKIP_UNLESS(Feature::kLandlock);
  SandboxPlan plan;
  const std::string path = "/tmp/" + std::string(300, 'a');
  plan.read = {path};
  auto rs = PrepareLandlock(plan, ProbeLandlockAbi());
  ASSERT_FALSE(rs.has_value());
  EXPECT_EQ(rs.error().message(),
            "open \"" + path + "\" for a landlock rule: File name too long");
  EXPECT_EQ(rs.error().code(), ErrorCode::kIo);
}

// A temp dir with ro/ (read tree), rw/ (write tree) and outside/ (neither).
class LandlockTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    abi_ = ProbeLandlockAbi();
    ASSERT_EQ(::mkdir((dir_ / "ro").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((dir_ / "rw").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((dir_ / "outside").c_str(), 0755), 0);
    WriteTextFile(dir_ / "ro/file", "read me");
    WriteTextFile(dir_ / "outside/file", "secret-ish");
    plan_.read = {dir_ / "ro", dir_ / "missing-read-tree"};
    plan_.write = {dir_ / "rw", dir_ / "missing-write-tree"};
  }
  LandlockRuleset Prepare() {
    auto rs = PrepareLandlock(plan_, abi_);
    EXPECT_TRUE(rs.has_value()) << (rs ? "" : rs.error().message());
    return rs ? std::move(*rs) : LandlockRuleset{};
  }
  int Restricted(const LandlockRuleset& rs, const std::function<int()>& fn) {
    return RunRestricted([&rs] { return child::ApplyLandlock(rs); }, fn);
  }
  std::string P(const char* rel) const { return (dir_ / rel).string(); }

  ScopedTempDir dir_;
  SandboxPlan plan_;
  int abi_ = 0;
};

int OpenErrno(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

TEST_F(LandlockTreeTest, ReadsOnlyInsideReadAndWriteTrees) {
  JITSEC_SKIP_UNLESS(Feature::kLandlock);
  const LandlockRuleset rs = Prepare();
  WriteTextFile(dir_ / "rw/existing", "x");
  EXPECT_EQ(Restricted(rs, [&] { return OpenErrno(P("ro/file"), O_RDONLY); }), 0);
  EXPECT_EQ(Restricted(rs, [&] { return OpenErrno(P("rw/existing"), O_RDONLY); }), 0);
  EXPECT_EQ(Restricted(rs, [&] { return OpenErrno(P("outside/file"), O_RDONLY); }), EACCES);
  EXPECT_EQ(Restricted(rs, [&] { return OpenErrno(P("outside"), O_RDONLY | O_DIRECTORY); }),
            EACCES);
  // Control: the same read works without Landlock.
  EXPECT_EQ(RunRestricted(nullptr, [&] { return OpenErrno(P("outside/file"), O_RDONLY); }), 0);
}

TEST_F(LandlockTreeTest, WritesOnlyInsideWriteTreesIncludingNewFiles) {
  JITSEC_SKIP_UNLESS(Feature::kLandlock);
  const LandlockRuleset rs = Prepare();
  EXPECT_EQ(Restricted(rs, [&] { return OpenErrno(P("ro/file"), O_WRONLY); }), EACCES);
  EXPECT_EQ(Restricted(rs, [&] { return OpenErrno(P("outside/file"), O_WRONLY); }), EACCES);
  // Paths that do not exist yet are covered too.
  EXPECT_EQ(Restricted(rs, [&] { return OpenErrno(P("outside/new"), O_WRONLY | O_CREAT); }),
            EACCES);
  EXPECT_EQ(Restricted(rs, [&] { return OpenErrno(P("ro/new"), O_WRONLY | O_CREAT); }), EACCES);
  EXPECT_EQ(Restricted(rs, [&] { return ErrnoOf(::mkdir(P("outside/d").c_str(), 0700)); }), EACCES);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "outside/new"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "ro/new"));
  // Inside the write tree everything works: create, write, mkdir, rename, unlink.
  EXPECT_EQ(Restricted(rs,
                       [&] {
                         const int fd = ::open(P("rw/new").c_str(), O_WRONLY | O_CREAT, 0600);
                         if (fd < 0) return errno;
                         const bool wrote = ::write(fd, "ok", 2) == 2;
                         ::close(fd);
                         if (!wrote) return 100;
                         if (::mkdir(P("rw/sub").c_str(), 0700) != 0) return errno;
                         if (::rename(P("rw/new").c_str(), P("rw/sub/moved").c_str()) != 0) {
                           return errno;
                         }
                         return ErrnoOf(::unlink(P("rw/sub/moved").c_str()));
                       }),
            0);
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "rw/sub"));
}

// Landlock domains are inherited across execve: a probe run under the ruleset is confined too.
TEST_F(LandlockTreeTest, RestrictionStaysInForceAfterExec) {
  JITSEC_SKIP_UNLESS(Feature::kLandlock);
  const std::string probe = ::jitsec::testing::Helper("probe_ll_access");
  ASSERT_EQ(::access(probe.c_str(), X_OK), 0) << probe << ": " << std::strerror(errno);
  // The probe binary itself must be executable: grant its directory read (execute) access.
  plan_.read.push_back(std::filesystem::path(probe).parent_path());
  plan_.read.push_back("/usr");
  plan_.read.push_back("/lib");
  plan_.read.push_back("/lib64");
  plan_.read.push_back("/etc");
  const LandlockRuleset rs = Prepare();
  auto run = [&](const char* op, const std::string& arg) {
    return Restricted(rs, [&] {
      const char* argv[] = {probe.c_str(), op, arg.c_str(), nullptr};
      ::execv(probe.c_str(), const_cast<char* const*>(argv));
      return 127;
    });
  };
  EXPECT_EQ(run("create", P("outside/new")), EACCES);
  EXPECT_EQ(run("read", P("outside/file")), EACCES);
  EXPECT_EQ(run("read", P("ro/file")), 0);
  EXPECT_EQ(run("create", P("rw/new")), 0);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "rw/new"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "outside/new"));
}

TEST_F(LandlockTreeTest, DeviceNodesStayUsable) {
  JITSEC_SKIP_UNLESS(Feature::kLandlock);
  const LandlockRuleset rs = Prepare();
  EXPECT_EQ(Restricted(rs, [] { return OpenErrno("/dev/null", O_WRONLY); }), 0);
  EXPECT_EQ(Restricted(rs, [] { return OpenErrno("/dev/urandom", O_RDONLY); }), 0);
}

TEST_F(LandlockTreeTest, WriteTreeReachedThroughASymlinkIsNotGranted) {
  JITSEC_SKIP_UNLESS(Feature::kLandlock);
  std::filesystem::create_directory_symlink(dir_ / "outside", dir_ / "link");
  plan_.write.push_back(dir_ / "link");
  const LandlockRuleset rs = Prepare();
  EXPECT_EQ(Restricted(rs, [&] { return OpenErrno(P("link/new"), O_WRONLY | O_CREAT); }), EACCES);
  EXPECT_EQ(Restricted(rs, [&] { return OpenErrno(P("outside/new"), O_WRONLY | O_CREAT); }),
            EACCES);
}

TEST_F(LandlockTreeTest, ChildSideRuleGrantsAccessBeforeRestricting) {
  JITSEC_SKIP_UNLESS(Feature::kLandlock);
  const LandlockRuleset rs = Prepare();
  const std::string outside = P("outside");
  const std::string file = P("outside/file");
  EXPECT_EQ(RunRestricted(
                [&] {
                  const int dir_fd = ::open(outside.c_str(), O_PATH | O_CLOEXEC);
                  const int file_fd = ::open(file.c_str(), O_PATH | O_CLOEXEC);
                  // A file gets its directory-only rights masked off instead of EINVAL.
                  return dir_fd >= 0 && file_fd >= 0 &&
                         child::AddLandlockRule(rs, file_fd, LandlockFullAccess(rs.abi)) &&
                         child::AddLandlockRule(rs, dir_fd, LandlockReadAccess(rs.abi)) &&
                         child::ApplyLandlock(rs);
                },
                [&] {
                  if (int e = OpenErrno(file, O_RDWR); e != 0) return e;
                  return OpenErrno(P("outside/new"), O_WRONLY | O_CREAT);
                }),
            EACCES);  // file: read-write; the directory: read only, so no new file
}

// Root has CAP_SYS_ADMIN, for which restrict_self is allowed without no_new_privs: run as root
// (CI), the child drops to nobody first (setresuid from 0 clears every capability), as
// spawn_test.cc's SandboxInitTest does.
TEST_F(LandlockTreeTest, ApplyWithoutNoNewPrivsNeedsCapSysAdmin) {
  JITSEC_SKIP_UNLESS(Feature::kLandlock);
  const LandlockRuleset rs = Prepare();
  const bool as_root = ::geteuid() == 0;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (as_root && (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
                    ::setresuid(65534, 65534, 65534) != 0)) {
      ::_exit(200);
    }
    ::_exit(child::ApplyLandlock(rs) ? 0 : errno);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 200) << "cannot become nobody";
  EXPECT_EQ(WEXITSTATUS(status), EPERM);
}

TEST_F(LandlockTreeTest, SignalsToProcessesOutsideTheDomainAreDenied) {
  JITSEC_SKIP_UNLESS(Feature::kLandlockScopes);
  const LandlockRuleset rs = Prepare();
  const pid_t outside = ::getpid();  // the test process: outside the child's domain
  EXPECT_EQ(Restricted(rs, [=] { return ErrnoOf(::kill(outside, 0)); }), EPERM);
  EXPECT_EQ(RunRestricted(nullptr, [=] { return ErrnoOf(::kill(outside, 0)); }), 0);
  // Inside the domain signals still work (a child forked after restricting).
  EXPECT_EQ(Restricted(rs,
                       [] {
                         const pid_t pid = ::fork();
                         if (pid == 0) {
                           ::pause();
                           ::_exit(0);
                         }
                         if (pid < 0) return 100;
                         const int err = ErrnoOf(::kill(pid, SIGKILL));
                         ::waitpid(pid, nullptr, 0);
                         return err;
                       }),
            0);
}

TEST_F(LandlockTreeTest, AbstractUnixSocketsOutsideTheDomainAreUnreachable) {
  JITSEC_SKIP_UNLESS(Feature::kLandlockScopes);
  const LandlockRuleset rs = Prepare();
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string name = "jitsec-landlock-test-" + std::to_string(::getpid());
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0) << std::strerror(errno);
  ASSERT_EQ(::listen(listener, 4), 0);
  auto connect = [&] {
    const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return 100;
    const int err = ErrnoOf(::connect(s, reinterpret_cast<const sockaddr*>(&addr), len));
    ::close(s);
    return err;
  };
  EXPECT_EQ(Restricted(rs, connect), EPERM);
  EXPECT_EQ(RunRestricted(nullptr, connect), 0);  // control
  ::close(listener);
}

}  // namespace
}  // namespace jitsec::sandbox
