// The kernel surface of the command as the real `jitsec run` leaves it (security.md invariant 3),
// with the DEFAULT sandbox and pipes (no pty): every syscall the seccomp layer denies, probed by
// tests/helpers/probe_sc_syscall inside the sandbox; the namespace's init (PID 1, a fork of
// jitsec) out of the command's reach (tests/helpers/probe_pid1); and no descriptor of jitsec's
// caller reaching the command, sandboxed or not.
//
// An EPERM alone does not prove the filter: the command holds no capability, and many of these
// calls check a privilege first. So each denied call is also made under a filter of the probe's
// own that answers it with SECCOMP_RET_TRACE (`--traced NR`): ERRNO outranks TRACE, so the call
// still comes back EPERM when jitsec's filter denies it, but ENOSYS (TRACE without a tracer, the
// call not run) when nothing older denies it. A control runs the same traced probe without
// jitsec and must get ENOSYS, which shows that nothing else on the host answers first.
#include "compat_fixture.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace jitsec::testing {
namespace {

namespace fs = std::filesystem;

class SandboxSurfaceTest : public SandboxedRunTest {
 protected:
  void SetUp() override {
    SandboxedRunTest::SetUp();
    if (IsSkipped() || HasFailure()) {
      return;
    }
    WritePolicy(SandboxWithHelpersYaml());  // the probes stay visible when the build is below /tmp
  }

  // The exit status of probe_sc_syscall (the errno of its call) run in the sandbox.
  int InSandbox(const std::vector<std::string>& probe_args) {
    std::vector<std::string> argv{Helper("probe_sc_syscall")};
    argv.insert(argv.end(), probe_args.begin(), probe_args.end());
    auto r = Run(argv);
    EXPECT_EQ(r.err, "") << "jitsec run -- probe_sc_syscall " << probe_args.back();
    return r.status;
  }

  // The same probe without jitsec.
  int Direct(const std::vector<std::string>& probe_args) {
    std::vector<std::string> argv{Helper("probe_sc_syscall")};
    argv.insert(argv.end(), probe_args.begin(), probe_args.end());
    RunOptions o;
    o.env = home_.Env();
    o.cwd = workspace_;
    auto r = RunProcess(argv, o);
    EXPECT_EQ(r.err, "") << "probe_sc_syscall " << probe_args.back();
    return r.status;
  }

  // `name` (a probe_sc_syscall NAME for syscall `nr`) fails with EPERM in the sandbox, and that
  // EPERM is jitsec's filter's (see the file comment).
  void ExpectDeniedByTheFilter(const char* name, long nr) {
    const std::string traced_nr = std::to_string(nr);
    EXPECT_EQ(Direct({"--traced", traced_nr, name}), ENOSYS)
        << name << ": control without jitsec (another filter answers first?)";
    EXPECT_EQ(InSandbox({name}), EPERM) << name;
    EXPECT_EQ(InSandbox({"--traced", traced_nr, name}), EPERM)
        << name << ": the EPERM is not the seccomp filter's";
  }
};

TEST_F(SandboxSurfaceTest, PtraceIsDenied) { ExpectDeniedByTheFilter("ptrace", SYS_ptrace); }

TEST_F(SandboxSurfaceTest, ProcessVmReadvAndWritevAreDenied) {
  ExpectDeniedByTheFilter("process_vm_readv", SYS_process_vm_readv);
  ExpectDeniedByTheFilter("process_vm_writev", SYS_process_vm_writev);
}

TEST_F(SandboxSurfaceTest, UnshareOfAUserNamespaceIsDenied) {
  ExpectDeniedByTheFilter("unshare_user", SYS_unshare);
}

TEST_F(SandboxSurfaceTest, CloneWithCloneNewuserIsDenied) {
  ExpectDeniedByTheFilter("clone_newuser", SYS_clone);
}

TEST_F(SandboxSurfaceTest, CloneWithCloneNewnsIsDenied) {
  ExpectDeniedByTheFilter("clone_newns", SYS_clone);
}

// clone3's flags are in memory the filter cannot read: it answers ENOSYS (libc falls back to
// clone). Without the filter the same call (size 0) is EINVAL.
TEST_F(SandboxSurfaceTest, Clone3FailsWithEnosys) {
  EXPECT_EQ(Direct({"clone3"}), EINVAL) << "control without jitsec";
  EXPECT_EQ(InSandbox({"clone3"}), ENOSYS);
}

TEST_F(SandboxSurfaceTest, MountIsDenied) { ExpectDeniedByTheFilter("mount", SYS_mount); }

TEST_F(SandboxSurfaceTest, TheNewMountApiIsDenied) {
  ExpectDeniedByTheFilter("fsopen", SYS_fsopen);
  ExpectDeniedByTheFilter("fsconfig", SYS_fsconfig);
  ExpectDeniedByTheFilter("fsmount", SYS_fsmount);
  ExpectDeniedByTheFilter("fspick", SYS_fspick);
  ExpectDeniedByTheFilter("open_tree", SYS_open_tree);
  ExpectDeniedByTheFilter("move_mount", SYS_move_mount);
  ExpectDeniedByTheFilter("mount_setattr", SYS_mount_setattr);
}

TEST_F(SandboxSurfaceTest, IoUringIsDenied) {
  ExpectDeniedByTheFilter("io_uring_setup", SYS_io_uring_setup);
  ExpectDeniedByTheFilter("io_uring_enter", SYS_io_uring_enter);
  ExpectDeniedByTheFilter("io_uring_register", SYS_io_uring_register);
}

TEST_F(SandboxSurfaceTest, BpfIsDenied) { ExpectDeniedByTheFilter("bpf", SYS_bpf); }

TEST_F(SandboxSurfaceTest, PerfEventOpenIsDenied) {
  ExpectDeniedByTheFilter("perf_event_open", SYS_perf_event_open);
}

TEST_F(SandboxSurfaceTest, UserfaultfdIsDenied) {
  ExpectDeniedByTheFilter("userfaultfd", SYS_userfaultfd);
}

TEST_F(SandboxSurfaceTest, KernelKeyringsAreDenied) {
  ExpectDeniedByTheFilter("add_key", SYS_add_key);
  ExpectDeniedByTheFilter("keyctl", SYS_keyctl);
  ExpectDeniedByTheFilter("request_key", SYS_request_key);
}

TEST_F(SandboxSurfaceTest, ModuleKexecAndRebootCallsAreDenied) {
  ExpectDeniedByTheFilter("init_module", SYS_init_module);
  ExpectDeniedByTheFilter("finit_module", SYS_finit_module);
  ExpectDeniedByTheFilter("delete_module", SYS_delete_module);
  ExpectDeniedByTheFilter("kexec_load", SYS_kexec_load);
  ExpectDeniedByTheFilter("kexec_file_load", SYS_kexec_file_load);
  ExpectDeniedByTheFilter("reboot", SYS_reboot);
}

// personality(2) may only be queried (or set to PER_LINUX): READ_IMPLIES_EXEC and the like are
// denied. The query is allowed, so under the probe's trace filter it reaches that filter.
TEST_F(SandboxSurfaceTest, PersonalityChangesAreDeniedAndTheQueryWorks) {
  ExpectDeniedByTheFilter("personality_rie", SYS_personality);
  EXPECT_EQ(InSandbox({"personality_query"}), 0);
  EXPECT_EQ(InSandbox({"--traced", std::to_string(SYS_personality), "personality_query"}), ENOSYS);
}

// The namespace's init is a fork of jitsec, not dumpable, holding jitsec's status pipe: the
// command (same user, no capabilities) can see it in /proc but cannot open its descriptors,
// memory or environment, nor take a descriptor through a pidfd. The errnos are those observed on
// Linux 6.x: the /proc paths refuse with EACCES (the ptrace access check on a process that is not
// dumpable), pidfd_open needs no access and succeeds, pidfd_getfd refuses with EPERM. A process
// that is not dumpable has its /proc files owned by root: an ordinary user cannot even list
// /proc/1/fd, while root (uid 0 inside too, without capabilities) lists it, finds the one
// descriptor the init keeps (the status pipe) and still cannot open or take it. How many it
// lists depends on timing: the init closes the rest of jitsec's descriptors only after the
// command's exec, concurrently with the probe.
TEST_F(SandboxSurfaceTest, TheNamespaceInitIsOutOfTheCommandsReach) {
  auto r = Run({Helper("probe_pid1")});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  if (size_t at = r.out.find("listed fds: "); at != std::string::npos) {
    size_t end = r.out.find('\n', at);
    EXPECT_GE(std::stoi(r.out.substr(at + 12, end - at - 12)), 1) << r.out;
    r.out.replace(at, end - at, "listed fds: N");
  }
  const std::string fds = ::geteuid() == 0 ? "opendir fd: ok\n"
                                             "listed fds: N\n"
                                             "readlink fd/listed: EACCES\n"
                                             "open fd/listed: EACCES\n"
                                           : "opendir fd: EACCES\n"
                                             "readlink fd/0-63: EACCES\n"
                                             "open fd/0-63: EACCES\n";
  const std::string getfd = ::geteuid() == 0 ? "listed" : "0-63";
  EXPECT_EQ(r.out, "comm: jitsec\n" + fds +
                       "open mem: EACCES\n"
                       "open environ: EACCES\n"
                       "pidfd_open: ok\n"
                       "pidfd_getfd " +
                       getfd + ": EPERM\n")
      << r.err;
  // Control: the same attempts on a child of the probe's own (holding 0, 1 and 2), in the same
  // sandbox, succeed.
  auto c = Run({Helper("probe_pid1"), "child"});
  ASSERT_EQ(c.status, 0) << c.out << c.err;
  EXPECT_EQ(c.out,
            "comm: probe_pid1\n"
            "opendir fd: ok\n"
            "listed fds: 3\n"
            "readlink fd/listed: ok\n"
            "open fd/listed: ok\n"
            "open mem: ok\n"
            "open environ: ok\n"
            "pidfd_open: ok\n"
            "pidfd_getfd listed: ok\n")
      << c.err;
}

// jitsec's caller may leave a descriptor open without CLOEXEC (here fd 7, on a file holding a
// canary): the command must see only 0, 1, 2 and the delivered secret files, with the sandbox
// and without it (security.md invariant 3; run_e2e_test's descriptor test cannot see this, as
// RunProcess hands jitsec only 0-2).
class CallerDescriptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    workspace_ = home_.dir.path() / "work";
    fs::create_directories(workspace_);
  }
  std::map<std::string, std::string> Env() const {
    auto env = home_.Env();
    env["JITSEC_POLICY"] = (home_.dir.path() / "policy.yaml").string();
    return env;
  }
  JitsecHome home_;
  fs::path workspace_;
};

TEST_F(CallerDescriptorTest, DescriptorsOfJitsecsCallerDoNotReachTheCommand) {
  const std::string canary = MakeCanary("caller-fd");
  const fs::path leaked = home_.dir.path() / "leaked.txt";
  WriteTextFile(leaked, canary);
  RunOptions o;
  o.env = Env();
  o.cwd = workspace_;
  const std::string secret = MakeCanary("caller-fd-secret");  // the value the task issues
  o.stdin_data = secret;
  auto set = RunJitsec({"secret", "set", "tok"}, o);
  ASSERT_EQ(set.status, 0) << set.err;
  const int fd = ::open(leaked.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  o.stdin_data.clear();
  o.inherited_fds = {{7, fd}};
  for (bool sandboxed : {false, true}) {
    if (sandboxed && !HasFeatureForPart(Feature::kDefaultSandbox)) continue;
    WriteTextFile(home_.dir.path() / "policy.yaml",
                  "version: 1\n"
                  "tasks:\n"
                  "  t:\n"
                  "    description: caller descriptor test\n" +
                      (sandboxed ? SandboxWithHelpersYaml()
                                 : std::string("    sandbox: {enabled: false}\n")) +
                      "    credentials:\n"
                      "      TOKEN:\n"
                      "        provider: store\n"
                      "        secret: tok\n"
                      "        ttl: 5m\n"
                      "        deliver:\n"
                      "          - file: {env: F}\n");
    // The harness does hand fd 7 over: the same command without jitsec reads the canary. (The
    // file offset is shared with every copy of the descriptor: rewind before each reader.)
    ASSERT_EQ(::lseek(fd, 0, SEEK_SET), 0);
    auto control = RunProcess({"/bin/sh", "-c", "cat <&7"}, o);
    EXPECT_EQ(control.out, canary) << "control: fd 7 did not reach a direct child";
    ASSERT_EQ(::lseek(fd, 0, SEEK_SET), 0);
    auto r = RunJitsec({"run", "--no-mask", "--task", "t", "--", "/bin/sh", "-c",
                        "\"$0\"; cat <&7 2>/dev/null || echo 'fd 7: closed'", Helper("show_fds")},
                       o);
    ASSERT_EQ(r.status, 0) << "sandboxed=" << sandboxed << ": " << r.err;
    // show_fds runs as sh's child: 0, 1, 2 and the delivered file (3); nothing at 7.
    EXPECT_EQ(r.out, "0\n1\n2\n3\nfd 7: closed\n") << "sandboxed=" << sandboxed;
    ExpectNoCanary(r.out, canary, "the command's output");
    ExpectNoCanary(r.out + r.err, secret, "the run's output");
  }
  ::close(fd);
  for (const fs::path& tree : {home_.state(), home_.config(), workspace_}) {
    ExpectNoCanaryInTree(tree, secret);
  }
}

}  // namespace
}  // namespace jitsec::testing
