// Launch: runs tests/helpers/probe_ns inside a real sandbox (user, mount, PID, net, IPC, UTS
// namespaces, Landlock, seccomp) and checks invariant 3 of security.md, one item per test.
// Output comes back through a pipe mapped to fds 1 and 2. Runs as root and as a plain user;
// under ASan the probe (a plain C program) is not instrumented, so the filters see no
// sanitizer runtime.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "base/exec_spec.h"
#include "sandbox/sandbox.h"
#include "support/support.h"

namespace jitsec::sandbox {
namespace {
namespace fs = std::filesystem;
using ::jitsec::testing::Feature;
using ::jitsec::testing::Helper;
using ::jitsec::testing::ScopedTempDir;
using ::jitsec::testing::WriteTextFile;

const KernelFeatures& Kernel() {
  static const KernelFeatures k = *ProbeKernel("");
  return k;
}

struct Outcome {
  int status = -1;  // as the init reports it: exit code or 128+N
  std::string out;
};

// A workspace below a private temp dir: T/ws (with .git/{hooks,config,HEAD}) and T/other.
struct Sandbox {
  ScopedTempDir tmp;
  fs::path ws = tmp / "ws";
  fs::path other = tmp / "other";
  policy::SandboxConfig config;
  PlanInputs inputs;
  std::vector<int> extra_fds;  // mapped to the same numbers

  Sandbox() {
    fs::create_directories(ws / ".git" / "hooks");
    fs::create_directories(other);
    WriteTextFile(ws / ".git" / "config", "[core]\n", 0644);
    WriteTextFile(ws / ".git" / "HEAD", "ref: refs/heads/main\n", 0644);
    WriteTextFile(other / "data", "other\n", 0644);
    // The test dirs live in /tmp: let the tree stay visible (no private /tmp) unless a test
    // asks for it, so that "outside the workspace" is a real, reachable host path.
    config.write = {"."};
    inputs.workspace = ws;
    inputs.home = tmp.path();
    // ScopedTempDir is 0700: the plain-user run needs to reach the probe's outputs.
    ::chmod(tmp.path().c_str(), 0755);
  }

  Result<PreparedSandbox> Prepared() const {
    JITSEC_ASSIGN_OR_RETURN(SandboxPlan plan, BuildPlan(config, inputs, Kernel()));
    return Prepare(plan, Kernel());
  }

  ExecSpec Spec(const std::vector<std::string>& args, int out_fd, int null_fd) const {
    ExecSpec spec;
    spec.path = args[0];
    spec.argv = args;
    spec.envp = {"PATH=/usr/bin:/bin", "LANG=C"};
    spec.fds = {{null_fd, 0}, {out_fd, 1}, {out_fd, 2}};
    for (int fd : extra_fds) spec.fds.push_back({fd, fd});
    spec.cwd = ws.string();
    spec.parent_pid = ::getpid();
    spec.Finalize();
    return spec;
  }

  // Runs args[0] (absolute) in the sandbox; EXPECTs a successful launch.
  Outcome Run(const std::vector<std::string>& args) const {
    Outcome o;
    auto prepared = Prepared();
    EXPECT_TRUE(prepared) << prepared.error().message();
    if (!prepared) return o;
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ExecSpec spec = Spec(args, p[1], null_fd);
    auto launched = Launch(*prepared, spec);
    ::close(p[1]);
    ::close(null_fd);
    EXPECT_TRUE(launched) << launched.error().message();
    if (!launched) {
      ::close(p[0]);
      return o;
    }
    o.out = ReadAll(p[0], std::chrono::seconds(20));
    ::close(p[0]);
    int st = 0;
    EXPECT_EQ(::waitpid(launched->pid, &st, 0), launched->pid);
    o.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return o;
  }

  Outcome Probe(std::vector<std::string> args) const {
    args.insert(args.begin(), Helper("probe_ns"));
    return Run(args);
  }

  static std::string ReadAll(int fd, std::chrono::seconds limit) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        out += "<timeout>";
        break;
      }
      struct pollfd pfd = {fd, POLLIN, 0};
      if (::poll(&pfd, 1, int(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, size_t(n));
    }
    return out;
  }
};

// A TCP listener on the host's 127.0.0.1.
struct HostListener {
  int fd = -1;
  int port = 0;
  HostListener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd, 4), 0);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~HostListener() { ::close(fd); }
};

#define SKIP_UNLESS_SANDBOX() JITSEC_SKIP_UNLESS(Feature::kUserNamespaces)

TEST(SandboxLaunchTest, CommandCannotSeeHostProcesses) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  Outcome o = s.Probe({"procs"});
  EXPECT_EQ(o.status, 0);
  // Only the namespace init (1) and the probe itself (2) exist in the new PID namespace.
  EXPECT_EQ(o.out, "1 2\n");
}

TEST(SandboxLaunchTest, CommandRunsWithTheCallersIdsAndIsNotPid1) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  Outcome o = s.Probe({"ids"});
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out, "uid=" + std::to_string(::getuid()) + " gid=" + std::to_string(::getgid()) +
                       " pid=2 ppid=1\n");
}

TEST(SandboxLaunchTest, HostnameIsJitsec) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  EXPECT_EQ(s.Probe({"hostname"}).out, "jitsec\n");
}

TEST(SandboxLaunchTest, NetworkNoneCannotReachTheHostLoopback) {
  SKIP_UNLESS_SANDBOX();
  HostListener host;
  Sandbox s;
  Outcome o = s.Probe({"connect", "127.0.0.1", std::to_string(host.port)});
  EXPECT_EQ(o.out, "ECONNREFUSED\n");
  EXPECT_EQ(o.status, 1);
}

TEST(SandboxLaunchTest, NetworkNoneStillHasAPrivateLoopback) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  Outcome o = s.Probe({"loopback"});
  EXPECT_EQ(o.out, "ok\n");
  EXPECT_EQ(o.status, 0);
}

TEST(SandboxLaunchTest, NetworkHostReachesTheHostLoopback) {
  SKIP_UNLESS_SANDBOX();
  HostListener host;
  Sandbox s;
  s.config.network = policy::Network::kHost;
  Outcome o = s.Probe({"connect", "127.0.0.1", std::to_string(host.port)});
  EXPECT_EQ(o.out, "ok\n");
}

TEST(SandboxLaunchTest, ReadTreesAreReadOnly) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  Outcome o = s.Probe({"write", (s.other / "data").string()});
  EXPECT_EQ(o.out, "EROFS\n");
  EXPECT_EQ(jitsec::testing::ReadTextFile(s.other / "data"), "other\n");
  EXPECT_EQ(s.Probe({"read", (s.other / "data").string()}).out, "ok\n");
}

TEST(SandboxLaunchTest, WriteTreesAreWritable) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  Outcome o = s.Probe({"write", (s.ws / "made-inside").string()});
  EXPECT_EQ(o.out, "ok\n");
  EXPECT_EQ(jitsec::testing::ReadTextFile(s.ws / "made-inside"), "probe\n");
}

TEST(SandboxLaunchTest, TmpIsPrivate) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  s.config.write = {".", "/tmp"};
  // The probe itself must stay visible when the build tree is below /tmp.
  s.config.read = {"/", ::jitsec::testing::HelpersDir()};
  std::string name = "/tmp/jitsec-private-" + std::to_string(::getpid());
  Outcome o = s.Probe({"write", name});
  EXPECT_EQ(o.out, "ok\n");
  EXPECT_FALSE(fs::exists(name));
  // The workspace (itself below the host's /tmp) is still there and writable.
  EXPECT_EQ(s.Probe({"write", (s.ws / "f").string()}).out, "ok\n");
  EXPECT_TRUE(fs::exists(s.ws / "f"));
  // The rest of the host's /tmp is not.
  EXPECT_EQ(s.Probe({"read", (s.other / "data").string()}).out, "ENOENT\n");
}

TEST(SandboxLaunchTest, DeniedTreesAreNeitherReadableNorWritable) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  WriteTextFile(s.ws / "secret.txt", "s\n", 0644);
  s.config.deny = {(s.other).string(), "secret.txt"};
  EXPECT_EQ(s.Probe({"read", (s.other / "data").string()}).out, "EACCES\n");
  EXPECT_EQ(s.Probe({"read", s.other.string()}).out, "EACCES\n");
  EXPECT_EQ(s.Probe({"read", (s.ws / "secret.txt").string()}).out, "EACCES\n");
  Outcome w = s.Probe({"write", (s.ws / "secret.txt").string()});
  EXPECT_TRUE(w.out == "EACCES\n" || w.out == "EROFS\n") << w.out;
  EXPECT_EQ(jitsec::testing::ReadTextFile(s.ws / "secret.txt"), "s\n");
}

// Without a `deny:` of the task's own, credential stores in the home directory and service
// sockets reached through the file system (a network namespace does not cut those off) are
// hidden where they exist.
TEST(SandboxLaunchTest, DefaultDenyHidesCredentialStoresAndServiceSockets) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  fs::path home = s.tmp.path();
  fs::create_directories(home / ".ssh");
  WriteTextFile(home / ".ssh" / "id_ed25519", "key\n", 0644);
  fs::create_directories(home / ".gnupg");
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  struct sockaddr_un a {};
  a.sun_family = AF_UNIX;
  std::string sock = (home / ".gnupg" / "S.agent").string();
  ASSERT_LT(sock.size(), sizeof a.sun_path);
  std::memcpy(a.sun_path, sock.c_str(), sock.size() + 1);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  ::chmod(sock.c_str(), 0777);
  ::chmod((home / ".gnupg").c_str(), 0755);
  EXPECT_EQ(s.Probe({"read", (home / ".ssh/id_ed25519").string()}).out, "EACCES\n");
  EXPECT_EQ(s.Probe({"unix", sock}).out, "EACCES\n");
  // A deny list of the task's own replaces the defaults.
  s.config.deny = {(s.other).string()};
  EXPECT_EQ(s.Probe({"unix", sock}).out, "ok\n");
  EXPECT_EQ(s.Probe({"read", (home / ".ssh/id_ed25519").string()}).out, "ok\n");
  ::close(listener);
}

TEST(SandboxLaunchTest, ProtectedPathIsReadOnlyInsideAWritableTree) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  EXPECT_EQ(s.Probe({"write", (s.ws / ".git/hooks/pre-commit").string()}).out, "EROFS\n");
  EXPECT_EQ(s.Probe({"write", (s.ws / ".git/config").string()}).out, "EROFS\n");
  EXPECT_FALSE(fs::exists(s.ws / ".git/hooks/pre-commit"));
  EXPECT_EQ(jitsec::testing::ReadTextFile(s.ws / ".git/config"), "[core]\n");
  // The rest of .git stays writable.
  EXPECT_EQ(s.Probe({"write", (s.ws / ".git/HEAD").string()}).out, "ok\n");
}

TEST(SandboxLaunchTest, ProtectedPathThatDoesNotExistCannotBeCreated) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  fs::remove_all(s.ws / ".git/hooks");
  EXPECT_EQ(s.Probe({"mkdir", (s.ws / ".git/hooks").string()}).out, "EROFS\n");
  EXPECT_EQ(s.Probe({"write", (s.ws / ".git/hooks").string()}).out, "EROFS\n");
  EXPECT_FALSE(fs::exists(s.ws / ".git/hooks"));
  // Existing entries of the frozen directory keep their contents writable.
  EXPECT_EQ(s.Probe({"write", (s.ws / ".git/HEAD").string()}).out, "ok\n");
  EXPECT_EQ(jitsec::testing::ReadTextFile(s.ws / ".git/HEAD"), "probe\n");
}

TEST(SandboxLaunchTest, JitsecHiddenPathsAreUnreadableAndReadonlyPathsUnwritable) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  fs::create_directories(s.ws / ".jitsec-state");
  WriteTextFile(s.other / "store.key", "k\n", 0644);
  s.inputs.jitsec_hidden = {s.other / "store.key"};
  s.inputs.jitsec_readonly = {s.ws / ".jitsec-state", s.ws / "policy.yaml"};
  EXPECT_EQ(s.Probe({"read", (s.other / "store.key").string()}).out, "EACCES\n");
  EXPECT_EQ(s.Probe({"write", (s.ws / ".jitsec-state/x").string()}).out, "EROFS\n");
  // policy.yaml does not exist yet: it cannot be created either.
  EXPECT_EQ(s.Probe({"write", (s.ws / "policy.yaml").string()}).out, "EROFS\n");
  EXPECT_FALSE(fs::exists(s.ws / "policy.yaml"));
}

// The kernel refuses to rename a mount point but not its parent: renaming .git (or ~/.config)
// would carry the read-only mounts away and free the names for new files on the host. Every
// directory above a protected path in a writable tree is pinned (mount_plan.h).
TEST(SandboxLaunchTest, ProtectedPathsSurviveRenamingTheirParents) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  fs::create_directories(s.ws / "cfg" / "jitsec");
  WriteTextFile(s.ws / "cfg" / "jitsec" / "policy.yaml", "version: 1\n", 0644);
  fs::create_directories(s.ws / "data" / "jitsec" / "store");
  WriteTextFile(s.ws / "data" / "jitsec" / "store" / "k", "k\n", 0644);
  s.inputs.jitsec_readonly = {s.ws / "cfg" / "jitsec"};
  s.inputs.jitsec_hidden = {s.ws / "data" / "jitsec" / "store"};
  for (const char* dir : {".git", "cfg", "data", "data/jitsec"}) {
    SCOPED_TRACE(dir);
    fs::path d = s.ws / dir;
    fs::path spare = d.parent_path() / "spare";
    fs::create_directories(spare);
    EXPECT_EQ(s.Probe({"rename", d.string(), (d.parent_path() / "moved").string()}).out,
              "EBUSY\n");
    EXPECT_EQ(s.Probe({"exchange", d.string(), spare.string()}).out, "EBUSY\n");
    EXPECT_EQ(s.Probe({"rmdir", d.string()}).out, "EBUSY\n");
    EXPECT_FALSE(fs::exists(d.parent_path() / "moved"));
  }
  EXPECT_EQ(jitsec::testing::ReadTextFile(s.ws / ".git/config"), "[core]\n");
  EXPECT_EQ(jitsec::testing::ReadTextFile(s.ws / "cfg/jitsec/policy.yaml"), "version: 1\n");
  EXPECT_TRUE(fs::is_directory(s.ws / ".git/hooks"));
  // Renames elsewhere in the tree, and of the pinned directories' other entries, still work.
  EXPECT_EQ(s.Probe({"rename", (s.ws / "spare").string(), (s.ws / "spare2").string()}).out,
            "ok\n");
  EXPECT_EQ(s.Probe({"rename", (s.ws / ".git/HEAD").string(), (s.ws / ".git/HEAD2").string()}).out,
            "ok\n");
  EXPECT_TRUE(fs::exists(s.ws / ".git/HEAD2"));
}

TEST(SandboxLaunchTest, ShellStartupFilesAreReadOnlyInAWritableHome) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  s.inputs.home = s.ws;  // the home directory is the writable workspace
  WriteTextFile(s.ws / ".bashrc", "# rc\n", 0644);
  fs::create_directories(s.ws / ".config" / "fish");
  EXPECT_EQ(s.Probe({"write", (s.ws / ".bashrc").string()}).out, "EROFS\n");
  EXPECT_EQ(s.Probe({"write", (s.ws / ".config/fish/config.fish").string()}).out, "EROFS\n");
  EXPECT_EQ(s.Probe({"rename", (s.ws / ".bashrc").string(), (s.ws / "x").string()}).out,
            "EBUSY\n");
  EXPECT_EQ(jitsec::testing::ReadTextFile(s.ws / ".bashrc"), "# rc\n");
  EXPECT_FALSE(fs::exists(s.ws / ".config/fish/config.fish"));
}

TEST(SandboxLaunchTest, SymlinkPlantedInTheWorkspaceIsRefused) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  fs::remove_all(s.ws / ".git");
  fs::create_symlink("/etc", s.ws / ".git");
  auto prepared = s.Prepared();
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().code(), ErrorCode::kPolicyRefused);
  EXPECT_EQ(prepared.error().message(),
            "sandbox path \"" + (s.ws / ".git/hooks").string() +
                "\" goes through the symbolic link \"" + (s.ws / ".git").string() +
                "\" in a writable tree; refusing to mount through it");
}

TEST(SandboxLaunchTest, SymlinkPlantedAfterPrepareFailsTheLaunch) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  auto prepared = s.Prepared();
  ASSERT_TRUE(prepared) << prepared.error().message();
  fs::remove_all(s.ws / ".git/hooks");
  fs::create_symlink("/etc", s.ws / ".git/hooks");
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ExecSpec spec = s.Spec({Helper("probe_ns"), "ids"}, null_fd, null_fd);
  auto launched = Launch(*prepared, spec);
  ::close(null_fd);
  ASSERT_FALSE(launched);
  EXPECT_EQ(launched.error().code(), ErrorCode::kChildSetup);
  EXPECT_EQ(launched.error().message(),
            "sandbox setup failed at mounts: Too many levels of symbolic links");
  EXPECT_TRUE(fs::is_symlink(s.ws / ".git/hooks"));
}

TEST(SandboxLaunchTest, OnlyStandardAndMappedDescriptorsAreInherited) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  int leaked = ::open("/dev/null", O_RDONLY);  // deliberately not CLOEXEC
  ASSERT_GE(leaked, 0);
  EXPECT_EQ(s.Probe({"fds"}).out, "0 1 2\n");
  int mapped = ::dup(leaked);
  s.extra_fds = {mapped};
  EXPECT_EQ(s.Probe({"fds"}).out, "0 1 2 " + std::to_string(mapped) + "\n");
  ::close(leaked);
  ::close(mapped);
}

// The init lives as long as the run and received the command's environment (which holds the
// values of `unsafe: true` env deliveries): it wipes its copy once the command has exec'd.
// Reading a non-dumpable process's memory needs CAP_SYS_PTRACE: root only.
TEST(SandboxLaunchTest, InitKeepsNoCopyOfTheCommandsEnvironment) {
  SKIP_UNLESS_SANDBOX();
  if (::geteuid() != 0) GTEST_SKIP() << "reading the init's memory needs root";
  Sandbox s;
  auto prepared = s.Prepared();
  ASSERT_TRUE(prepared) << prepared.error().message();
  // As in `jitsec run`: the init starts before the secret exists in this process.
  auto starting = Start(*prepared);
  ASSERT_TRUE(starting) << starting.error().message();
  const std::string canary = jitsec::testing::MakeCanary("initenv");
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  int in[2];
  ASSERT_EQ(::pipe2(in, O_CLOEXEC), 0);
  ExecSpec spec = s.Spec({"/bin/sh", "-c", "echo started; read x"}, p[1], in[0]);
  spec.envp.push_back("TOKEN=" + canary);
  spec.Finalize();
  auto launched = Launch(std::move(*starting), spec);
  ::close(p[1]);
  ::close(in[0]);
  ASSERT_TRUE(launched) << launched.error().message();
  char buf[16];
  ASSERT_EQ(::read(p[0], buf, 8), 8);  // "started\n": the command runs
  auto init_holds_canary = [&] {
    std::ifstream maps("/proc/" + std::to_string(launched->pid) + "/maps");
    int mem = ::open(("/proc/" + std::to_string(launched->pid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(mem, 0) << std::strerror(errno);
    bool found = false;
    std::string line;
    while (mem >= 0 && !found && std::getline(maps, line)) {
      unsigned long lo = 0, hi = 0;
      char perms[5] = {};
      if (std::sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms) != 3 || perms[0] != 'r') continue;
      if (line.find("[vvar]") != std::string::npos || hi - lo > (64UL << 20)) continue;
      std::string data(hi - lo, '\0');
      ssize_t got = ::pread(mem, data.data(), data.size(), off_t(lo));
      if (got > 0) found = std::string_view(data.data(), size_t(got)).find(canary) != std::string_view::npos;
    }
    if (mem >= 0) ::close(mem);
    return found;
  };
  bool held = true;
  for (int i = 0; i < 200 && held; ++i) {  // the init wipes right after the command's exec
    held = init_holds_canary();
    if (held) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(held) << "the sandbox init still holds the command's environment";
  ::close(in[1]);  // the command reads end of file and exits
  ::close(p[0]);
  int st = 0;
  EXPECT_EQ(::waitpid(launched->pid, &st, 0), launched->pid);
}

TEST(SandboxLaunchTest, CommandHasNoCapabilitiesAndNoNewPrivs) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  EXPECT_EQ(s.Probe({"status"}).out,
            "CapPrm:\t0000000000000000\n"
            "CapEff:\t0000000000000000\n"
            "CapBnd:\t0000000000000000\n"
            "CapAmb:\t0000000000000000\n"
            "NoNewPrivs:\t1\n");
}

TEST(SandboxLaunchTest, KillTermOfTheShellItselfGives143) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  Outcome o = s.Run({"/bin/sh", "-c", "echo $$; kill -TERM $$; echo survived"});
  EXPECT_EQ(o.out, "2\n");
  EXPECT_EQ(o.status, 143);
}

TEST(SandboxLaunchTest, ExitStatusPassesThrough) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  EXPECT_EQ(s.Run({"/bin/sh", "-c", "exit 42"}).status, 42);
}

TEST(SandboxLaunchTest, DetachedGrandchildDiesWithTheCommand) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  // The grandchild holds the output pipe and sleeps 300 s: EOF within the time limit means it
  // was killed when the command exited.
  Outcome o = s.Probe({"detach"});
  EXPECT_EQ(o.out, "grandchild\n");
  EXPECT_EQ(o.status, 0);
}

TEST(SandboxLaunchTest, SigkillOfTheLauncherKillsTheWholeTree) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  auto prepared = s.Prepared();
  ASSERT_TRUE(prepared) << prepared.error().message();
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ExecSpec spec = s.Spec({Helper("probe_ns"), "detach-stay"}, out[1], null_fd);
  pid_t launcher = ::fork();
  ASSERT_GE(launcher, 0);
  if (launcher == 0) {
    ::close(out[0]);
    auto launched = Launch(*prepared, spec);
    if (!launched) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  ::close(out[1]);
  ::close(null_fd);
  // Wait until the grandchild exists, then kill the launcher (the "jitsec" process).
  std::string first;
  char c;
  while (first.find('\n') == std::string::npos && ::read(out[0], &c, 1) == 1) first += c;
  ASSERT_EQ(first, "grandchild\n");
  ASSERT_EQ(::kill(launcher, SIGKILL), 0);
  int st = 0;
  ASSERT_EQ(::waitpid(launcher, &st, 0), launcher);
  // Every holder of the pipe (init, command, grandchild) must be gone.
  EXPECT_EQ(Sandbox::ReadAll(out[0], std::chrono::seconds(20)), "");
  ::close(out[0]);
}

TEST(SandboxLaunchTest, CommandNotFoundAndNotExecutableAreReported) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  auto prepared = s.Prepared();
  ASSERT_TRUE(prepared);
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  ExecSpec missing = s.Spec({(s.ws / "nope").string()}, null_fd, null_fd);
  auto r = Launch(*prepared, missing);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCommandNotFound);
  EXPECT_EQ(r.error().message(),
            "exec \"" + (s.ws / "nope").string() + "\": No such file or directory");
  WriteTextFile(s.ws / "script", "#!/bin/sh\n", 0644);
  ExecSpec noexec = s.Spec({(s.ws / "script").string()}, null_fd, null_fd);
  r = Launch(*prepared, noexec);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCommandNotExecutable);
  EXPECT_EQ(r.error().message(), "exec \"" + (s.ws / "script").string() + "\": Permission denied");
  ::close(null_fd);
}

TEST(SandboxLaunchTest, FileDeliveryIsMountedReadOnlyAtItsPath) {
  SKIP_UNLESS_SANDBOX();
  Sandbox s;
  std::string canary = jitsec::testing::MakeCanary("sbx");
  int memfd = ::memfd_create("jitsec-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  ASSERT_GE(memfd, 0);
  ASSERT_EQ(::write(memfd, canary.data(), canary.size()), ssize_t(canary.size()));
  ::fchmod(memfd, 0400);
  // /run/jitsec-test-secrets does not exist on the host: its mount point lives in a mirror of
  // /run. The secret's file descriptor is delivered at 7.
  std::string target = "/run/jitsec-test-secrets/db";
  int seven = ::fcntl(memfd, F_DUPFD_CLOEXEC, 20);
  s.inputs.secret_mounts = {{target, 7}};
  s.extra_fds = {};
  Outcome o;
  {
    auto prepared = s.Prepared();
    ASSERT_TRUE(prepared) << prepared.error().message();
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ExecSpec spec;
    spec.path = "/bin/sh";
    spec.argv = {"sh", "-c",
                 "cat " + target + "; echo; { echo x > " + target + "; } 2>/dev/null || echo ro; "
                 "ls /run | grep -c .; test -e /run/jitsec-test-secrets/db && echo present"};
    spec.envp = {"PATH=/usr/bin:/bin"};
    spec.fds = {{null_fd, 0}, {p[1], 1}, {p[1], 2}, {seven, 7}};
    spec.cwd = s.ws.string();
    spec.Finalize();
    auto launched = Launch(*prepared, spec);
    ::close(p[1]);
    ::close(null_fd);
    ASSERT_TRUE(launched) << launched.error().message();
    o.out = Sandbox::ReadAll(p[0], std::chrono::seconds(20));
    ::close(p[0]);
    int st = 0;
    ::waitpid(launched->pid, &st, 0);
    o.status = WEXITSTATUS(st);
  }
  size_t host_run_entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/run")) ++host_run_entries;
  EXPECT_EQ(o.out, canary + "\nro\n" + std::to_string(host_run_entries + 1) + "\npresent\n");
  EXPECT_FALSE(fs::exists("/run/jitsec-test-secrets"));
  ::close(memfd);
  ::close(seven);
}

TEST(SandboxLaunchTest, DisabledSandboxRunsTheCommandDirectly) {
  Sandbox s;
  s.config.enabled = false;
  Outcome o = s.Probe({"procs"});
  EXPECT_EQ(o.status, 0);
  EXPECT_NE(o.out, "1 2\n");
  EXPECT_NE(o.out.find(std::to_string(::getpid())), std::string::npos);
}

}  // namespace
}  // namespace jitsec::sandbox
