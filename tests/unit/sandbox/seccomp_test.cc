// Tests of the seccomp layer: the exported program is evaluated by a small classic-BPF
// interpreter (privilege-independent proof of every decision, including other architectures
// and x32), then installed for real in forked children.
// Under ASan/UBSan: the filter only denies syscalls the sanitizer runtimes do not use at run
// time (mmap, sigaltstack, prctl, personality queries are allowed); LeakSanitizer's ptrace-based
// check would be denied, which is why the helper children leave through _exit.
#include "sandbox/seccomp.h"

#include "landlock_seccomp_child.h"
#include "support/support.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace jitsec::sandbox {
namespace {

using testing::ErrnoOf;
using testing::RunRestricted;

#if defined(__x86_64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_X86_64;
constexpr uint32_t kForeignArch = AUDIT_ARCH_I386;
#elif defined(__aarch64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_AARCH64;
constexpr uint32_t kForeignArch = AUDIT_ARCH_ARM;
#else
#error "add this architecture's AUDIT_ARCH values to the test"
#endif

constexpr uint32_t kEperm = SECCOMP_RET_ERRNO | EPERM;
constexpr uint32_t kEnosys = SECCOMP_RET_ERRNO | ENOSYS;

// A classic-BPF interpreter for seccomp programs (the subset the kernel accepts for seccomp).
// Unknown opcodes fail the test.
uint32_t RunBpf(const std::vector<sock_filter>& prog, const seccomp_data& data) {
  uint32_t a = 0;
  uint32_t x = 0;
  uint32_t mem[BPF_MEMWORDS] = {};
  const auto* bytes = reinterpret_cast<const unsigned char*>(&data);
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& in = prog[pc];
    const uint32_t src = BPF_SRC(in.code) == BPF_X ? x : in.k;
    switch (BPF_CLASS(in.code)) {
      case BPF_LD:
        if (in.code == (BPF_LD | BPF_W | BPF_ABS)) {
          EXPECT_LE(in.k + 4, sizeof(data));
          std::memcpy(&a, bytes + in.k, 4);
        } else if (in.code == (BPF_LD | BPF_IMM)) {
          a = in.k;
        } else if (in.code == (BPF_LD | BPF_MEM)) {
          a = mem[in.k];
        } else {
          ADD_FAILURE() << "unsupported BPF_LD " << in.code;
          return 0;
        }
        break;
      case BPF_LDX:
        x = BPF_MODE(in.code) == BPF_MEM ? mem[in.k] : in.k;
        break;
      case BPF_ST: mem[in.k] = a; break;
      case BPF_STX: mem[in.k] = x; break;
      case BPF_ALU:
        switch (BPF_OP(in.code)) {
          case BPF_ADD: a += src; break;
          case BPF_SUB: a -= src; break;
          case BPF_MUL: a *= src; break;
          case BPF_DIV: a = src == 0 ? 0 : a / src; break;
          case BPF_AND: a &= src; break;
          case BPF_OR: a |= src; break;
          case BPF_XOR: a ^= src; break;
          case BPF_LSH: a <<= src; break;
          case BPF_RSH: a >>= src; break;
          case BPF_NEG: a = -a; break;
          default: ADD_FAILURE() << "unsupported BPF_ALU " << in.code; return 0;
        }
        break;
      case BPF_JMP: {
        if (BPF_OP(in.code) == BPF_JA) {
          pc += in.k;
          break;
        }
        bool taken = false;
        switch (BPF_OP(in.code)) {
          case BPF_JEQ: taken = a == src; break;
          case BPF_JGT: taken = a > src; break;
          case BPF_JGE: taken = a >= src; break;
          case BPF_JSET: taken = (a & src) != 0; break;
          default: ADD_FAILURE() << "unsupported BPF_JMP " << in.code; return 0;
        }
        pc += taken ? in.jt : in.jf;
        break;
      }
      case BPF_RET: return BPF_RVAL(in.code) == BPF_A ? a : in.k;
      case BPF_MISC: (BPF_MISCOP(in.code) == BPF_TAX) ? (x = a) : (a = x); break;
      default: ADD_FAILURE() << "unsupported BPF class " << in.code; return 0;
    }
  }
  ADD_FAILURE() << "BPF program fell off its end";
  return 0;
}

uint32_t Decide(const SeccompProgram& p, long nr, std::initializer_list<uint64_t> args = {},
                uint32_t arch = kNativeArch) {
  seccomp_data data{};
  data.nr = static_cast<int>(nr);
  data.arch = arch;
  size_t i = 0;
  for (uint64_t v : args) data.args[i++] = v;
  return RunBpf(p.insns, data);
}

SeccompProgram Program() {
  auto p = PrepareSeccomp(SandboxPlan{});
  EXPECT_TRUE(p.has_value()) << (p ? "" : p.error().message());
  return p ? std::move(*p) : SeccompProgram{};
}

struct Denied {
  const char* name;
  long nr;
};

const std::vector<Denied>& DeniedSyscalls() {
  static const std::vector<Denied> list = {
      {"ptrace", SYS_ptrace}, {"process_vm_readv", SYS_process_vm_readv},
      {"process_vm_writev", SYS_process_vm_writev}, {"unshare", SYS_unshare},
      {"setns", SYS_setns}, {"mount", SYS_mount}, {"umount2", SYS_umount2},
      {"pivot_root", SYS_pivot_root}, {"chroot", SYS_chroot}, {"fsopen", SYS_fsopen},
      {"fsconfig", SYS_fsconfig}, {"fsmount", SYS_fsmount}, {"fspick", SYS_fspick},
      {"open_tree", SYS_open_tree}, {"move_mount", SYS_move_mount},
      {"mount_setattr", SYS_mount_setattr}, {"io_uring_setup", SYS_io_uring_setup},
      {"io_uring_enter", SYS_io_uring_enter}, {"io_uring_register", SYS_io_uring_register},
      {"bpf", SYS_bpf}, {"perf_event_open", SYS_perf_event_open},
      {"userfaultfd", SYS_userfaultfd}, {"add_key", SYS_add_key},
      {"request_key", SYS_request_key}, {"keyctl", SYS_keyctl},
      {"init_module", SYS_init_module}, {"finit_module", SYS_finit_module},
      {"delete_module", SYS_delete_module}, {"kexec_load", SYS_kexec_load},
      {"kexec_file_load", SYS_kexec_file_load}, {"reboot", SYS_reboot}, {"swapon", SYS_swapon},
      {"swapoff", SYS_swapoff}, {"acct", SYS_acct}, {"quotactl", SYS_quotactl},
      {"lookup_dcookie", SYS_lookup_dcookie},
  };
  return list;
}

// ---- The program, evaluated without a kernel ----

TEST(SeccompProgramTest, DeniesEveryListedSyscallWithEperm) {
  const SeccompProgram p = Program();
  for (const Denied& d : DeniedSyscalls()) {
    EXPECT_EQ(Decide(p, d.nr), kEperm) << d.name;
  }
}

TEST(SeccompProgramTest, AllowsOrdinarySyscalls) {
  const SeccompProgram p = Program();
  for (long nr : {SYS_read, SYS_write, SYS_openat, SYS_execve, SYS_getpid, SYS_mmap,
                  SYS_wait4, SYS_kill, SYS_socket, SYS_prctl}) {
    EXPECT_EQ(Decide(p, nr), SECCOMP_RET_ALLOW) << nr;
  }
  EXPECT_EQ(Decide(p, SYS_ioctl, {1, TCGETS}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Decide(p, SYS_clone, {CLONE_VM | CLONE_THREAD | CLONE_SIGHAND}), SECCOMP_RET_ALLOW);
}

TEST(SeccompProgramTest, KillsTheProcessForAnotherArchitecture) {
  const SeccompProgram p = Program();
  EXPECT_EQ(Decide(p, SYS_getpid, {}, kForeignArch), SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(Decide(p, 26 /* i386 ptrace */, {}, kForeignArch), SECCOMP_RET_KILL_PROCESS);
}

#if defined(__x86_64__)
TEST(SeccompProgramTest, KillsTheProcessForX32SyscallNumbers) {
  const SeccompProgram p = Program();
  constexpr long kX32Bit = 0x40000000;
  EXPECT_EQ(Decide(p, kX32Bit | SYS_getpid), SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(Decide(p, kX32Bit | 521 /* x32 ptrace */), SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(Decide(p, kX32Bit | SYS_personality, {PER_LINUX32}), SECCOMP_RET_KILL_PROCESS);
}
#endif

TEST(SeccompProgramTest, DeniesCloneWithAnyNamespaceFlag) {
  const SeccompProgram p = Program();
  for (uint64_t flag : {CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
                        CLONE_NEWPID, CLONE_NEWNET}) {
    EXPECT_EQ(Decide(p, SYS_clone, {flag | SIGCHLD}), kEperm) << std::hex << flag;
  }
  EXPECT_EQ(Decide(p, SYS_clone, {SIGCHLD}), SECCOMP_RET_ALLOW);
}

TEST(SeccompProgramTest, AnswersClone3WithEnosys) {
  EXPECT_EQ(Decide(Program(), SYS_clone3), kEnosys);
}

TEST(SeccompProgramTest, ComparesIoctlRequestsOnTheirLow32Bits) {
  const SeccompProgram p = Program();
  EXPECT_EQ(Decide(p, SYS_ioctl, {0, TIOCSTI}), kEperm);
  EXPECT_EQ(Decide(p, SYS_ioctl, {0, TIOCLINUX}), kEperm);
  EXPECT_EQ(Decide(p, SYS_ioctl, {0, 0xdeadbeef00000000ULL | TIOCSTI}), kEperm);
  EXPECT_EQ(Decide(p, SYS_ioctl, {0, 0x100000000ULL | TIOCLINUX}), kEperm);
  EXPECT_EQ(Decide(p, SYS_ioctl, {0, 0xdeadbeef00000000ULL | TCGETS}), SECCOMP_RET_ALLOW);
}

TEST(SeccompProgramTest, AllowsOnlyThePersonalityQueryAndPerLinux) {
  const SeccompProgram p = Program();
  EXPECT_EQ(Decide(p, SYS_personality, {0xffffffffULL}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Decide(p, SYS_personality, {PER_LINUX}), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Decide(p, SYS_personality, {0xffffffff00000000ULL}), SECCOMP_RET_ALLOW);  // reads 0
  EXPECT_EQ(Decide(p, SYS_personality, {READ_IMPLIES_EXEC}), kEperm);
  EXPECT_EQ(Decide(p, SYS_personality, {ADDR_NO_RANDOMIZE}), kEperm);
  EXPECT_EQ(Decide(p, SYS_personality, {PER_LINUX32}), kEperm);
  EXPECT_EQ(Decide(p, SYS_personality, {0xffffffff00000000ULL | READ_IMPLIES_EXEC}), kEperm);
  EXPECT_EQ(Decide(p, SYS_personality, {0xfffffffeULL}), kEperm);
}

TEST(SeccompProgramTest, HashIsTheSha256OfTheInstructionsAndStable) {
  const SeccompProgram a = Program();
  const SeccompProgram b = Program();
  ASSERT_EQ(a.sha256.size(), 64U);
  EXPECT_EQ(a.sha256.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(a.sha256, b.sha256);
  SeccompProgram changed = Program();
  changed.insns.back().k ^= 1;  // not re-hashed: a different program must not share the hash
  EXPECT_NE(changed.insns.back().k, a.insns.back().k);
}

TEST(SeccompApplyTest, RefusesAnEmptyProgramWithEinval) {
  errno = 0;
  EXPECT_FALSE(child::ApplySeccomp(SeccompProgram{}));
  EXPECT_EQ(errno, EINVAL);
}

// ---- Installed for real ----

class SeccompKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = PrepareSeccomp(SandboxPlan{});
    ASSERT_TRUE(p.has_value()) << p.error().message();
    program_ = std::move(*p);
  }
  int Filtered(const std::function<int()>& fn) const {
    return RunRestricted([this] { return child::ApplySeccomp(program_); }, fn);
  }
  SeccompProgram program_;
};

// One call of each denied syscall (and denied argument). Arguments are chosen so that, were the
// filter missing, each call would fail harmlessly (bad fd, missing path, bad flags) rather than
// act; with the filter every one is EPERM.
struct DeniedCall {
  const char* name;
  long nr;
  long (*call)();
};

constexpr const char* kMissing = "/nonexistent-jitsec-seccomp-test";

const std::vector<DeniedCall>& DeniedCalls() {
  static const std::vector<DeniedCall> calls = {
      {"ptrace", SYS_ptrace,
       [] { return ::syscall(SYS_ptrace, 2 /*PEEKDATA*/, ::getppid(), 0, 0); }},
      {"process_vm_readv", SYS_process_vm_readv,
       [] { return ::syscall(SYS_process_vm_readv, ::getppid(), nullptr, 0, nullptr, 0, 0); }},
      {"process_vm_writev", SYS_process_vm_writev,
       [] { return ::syscall(SYS_process_vm_writev, ::getppid(), nullptr, 0, nullptr, 0, 0); }},
      {"unshare", SYS_unshare, [] { return ::syscall(SYS_unshare, CLONE_NEWNS); }},
      {"unshare(user)", SYS_unshare, [] { return ::syscall(SYS_unshare, CLONE_NEWUSER); }},
      {"setns", SYS_setns, [] { return ::syscall(SYS_setns, -1, 0); }},
      {"mount", SYS_mount,
       [] { return ::syscall(SYS_mount, "none", kMissing, "tmpfs", 0, nullptr); }},
      {"umount2", SYS_umount2, [] { return ::syscall(SYS_umount2, kMissing, 0); }},
      {"pivot_root", SYS_pivot_root, [] { return ::syscall(SYS_pivot_root, kMissing, kMissing); }},
      {"chroot", SYS_chroot, [] { return ::syscall(SYS_chroot, kMissing); }},
      {"fsopen", SYS_fsopen, [] { return ::syscall(SYS_fsopen, "jitsec-no-such-fs", 0); }},
      {"fsconfig", SYS_fsconfig,
       [] { return ::syscall(SYS_fsconfig, -1, 0, nullptr, nullptr, 0); }},
      {"fsmount", SYS_fsmount, [] { return ::syscall(SYS_fsmount, -1, 0, 0); }},
      {"fspick", SYS_fspick, [] { return ::syscall(SYS_fspick, AT_FDCWD, kMissing, 0); }},
      {"open_tree", SYS_open_tree, [] { return ::syscall(SYS_open_tree, AT_FDCWD, kMissing, 0); }},
      {"move_mount", SYS_move_mount,
       [] { return ::syscall(SYS_move_mount, -1, kMissing, -1, kMissing, 0); }},
      {"mount_setattr", SYS_mount_setattr,
       [] { return ::syscall(SYS_mount_setattr, -1, kMissing, 0, nullptr, 0); }},
      {"io_uring_setup", SYS_io_uring_setup,
       [] { return ::syscall(SYS_io_uring_setup, 0, nullptr); }},
      {"io_uring_enter", SYS_io_uring_enter,
       [] { return ::syscall(SYS_io_uring_enter, -1, 0, 0, 0, nullptr, 0); }},
      {"io_uring_register", SYS_io_uring_register,
       [] { return ::syscall(SYS_io_uring_register, -1, 0, nullptr, 0); }},
      {"bpf", SYS_bpf, [] { return ::syscall(SYS_bpf, -1, nullptr, 0); }},
      {"perf_event_open", SYS_perf_event_open,
       [] { return ::syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0); }},
      {"userfaultfd", SYS_userfaultfd, [] { return ::syscall(SYS_userfaultfd, 0xffffffff); }},
      {"add_key", SYS_add_key,
       [] { return ::syscall(SYS_add_key, nullptr, nullptr, nullptr, 0, 0); }},
      {"request_key", SYS_request_key,
       [] { return ::syscall(SYS_request_key, nullptr, nullptr, nullptr, 0); }},
      {"keyctl", SYS_keyctl, [] { return ::syscall(SYS_keyctl, -1, 0, 0, 0, 0); }},
      {"init_module", SYS_init_module,
       [] { return ::syscall(SYS_init_module, nullptr, 0, nullptr); }},
      {"finit_module", SYS_finit_module, [] { return ::syscall(SYS_finit_module, -1, "", 0); }},
      {"delete_module", SYS_delete_module,
       [] { return ::syscall(SYS_delete_module, "jitsec_no_such_module", 0); }},
      {"kexec_load", SYS_kexec_load,
       [] { return ::syscall(SYS_kexec_load, 0, 0, nullptr, 0xffffffffUL); }},
      {"kexec_file_load", SYS_kexec_file_load,
       [] { return ::syscall(SYS_kexec_file_load, -1, -1, 0, nullptr, 0xffffffffUL); }},
      {"reboot", SYS_reboot, [] { return ::syscall(SYS_reboot, 0, 0, 0, nullptr); }},  // bad magic
      {"swapon", SYS_swapon, [] { return ::syscall(SYS_swapon, kMissing, 0); }},
      {"swapoff", SYS_swapoff, [] { return ::syscall(SYS_swapoff, kMissing); }},
      {"acct", SYS_acct, [] { return ::syscall(SYS_acct, kMissing); }},
      {"quotactl", SYS_quotactl, [] { return ::syscall(SYS_quotactl, 0, kMissing, 0, nullptr); }},
      {"lookup_dcookie", SYS_lookup_dcookie,
       [] { return ::syscall(SYS_lookup_dcookie, 0, nullptr, 0); }},
      {"clone(CLONE_NEWUSER)", SYS_clone,
       [] {
         const long rc = ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
         if (rc == 0) ::_exit(0);  // only reached without the filter
         return rc;
       }},
      {"clone(CLONE_NEWNS)", SYS_clone,
       [] {
         const long rc = ::syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
         if (rc == 0) ::_exit(0);  // only reached without the filter
         return rc;
       }},
      {"personality(READ_IMPLIES_EXEC)", SYS_personality,
       [] { return ::syscall(SYS_personality, READ_IMPLIES_EXEC); }},
      {"ioctl(TIOCSTI)", SYS_ioctl,
       [] {
         char c = 'x';
         return ::syscall(SYS_ioctl, 0, 0xdeadbeef00000000UL | TIOCSTI, &c);
       }},
      {"ioctl(TIOCLINUX)", SYS_ioctl, [] { return ::syscall(SYS_ioctl, 0, TIOCLINUX, nullptr); }},
  };
  return calls;
}

TEST_F(SeccompKernelTest, EachDeniedSyscallFailsWithEperm) {
  JITSEC_SKIP_UNLESS(::jitsec::testing::Feature::kSeccomp);
  for (const DeniedCall& c : DeniedCalls()) {
    EXPECT_EQ(Filtered([&] { return ErrnoOf(c.call()); }), EPERM) << c.name;
  }
}

// An errno no syscall here returns on its own.
constexpr int kMarker = EHWPOISON;

// A filter of the test's own that answers syscall `nr` with kMarker and allows everything else.
// Of several filters that return the same action, the most recently installed decides
// (seccomp(2): "the first-seen action value of highest precedence", newest filter first). So
// with the marker installed BEFORE jitsec's filter, a call comes back EPERM only if jitsec's
// filter denied it, and kMarker if jitsec's filter let it through: an EPERM that comes from a
// missing privilege cannot pass for the filter's, and the call never reaches the kernel proper.
// Async-signal-safe (used in RunRestricted's child).
bool ApplyMarker(long nr) noexcept {
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | kMarker),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof code / sizeof code[0], code};
  return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0;
}

// Several denied calls fail with EPERM for an unprivileged caller without any filter (pivot_root,
// the new mount API, modules, kexec, reboot, swapon/swapoff, acct, bpf and userfaultfd on
// hardened settings, TIOCSTI on a terminal that is not the caller's), so EPERM alone would pass
// without the filter. Each call is made twice: under the marker alone (the control: the call
// reaches the marker, so nothing before jitsec's filter answers EPERM), and under the marker plus
// jitsec's filter (EPERM: jitsec's answer).
TEST_F(SeccompKernelTest, EachDenialComesFromTheFilterNotFromMissingPrivilege) {
  JITSEC_SKIP_UNLESS(::jitsec::testing::Feature::kSeccomp);
  for (const DeniedCall& c : DeniedCalls()) {
    const long nr = c.nr;
    auto call = [&] { return ErrnoOf(c.call()); };
    EXPECT_EQ(RunRestricted([nr] { return ApplyMarker(nr); }, call), kMarker)
        << c.name << ": without jitsec's filter";
    EXPECT_EQ(RunRestricted([this, nr] { return ApplyMarker(nr) && child::ApplySeccomp(program_); },
                            call),
              EPERM)
        << c.name;
  }
  // And an allowed call under both still reaches the marker: the marker is not shadowed.
  EXPECT_EQ(
      RunRestricted([this] { return ApplyMarker(SYS_getppid) && child::ApplySeccomp(program_); },
                    [] { return ErrnoOf(::syscall(SYS_getppid)); }),
      kMarker);
}

// The same calls for real, by a caller that has the privilege they check first: an ordinary user
// as PID 1 of new user, mount and PID namespaces (every capability over those namespaces), or
// root. Without the filter each fails with an errno of its own; with it, EPERM.
// Returns fn's result, or 200+ for the harness's own failures.
int RunPrivileged(const SeccompProgram* filter, const std::function<int()>& fn) {
  const bool as_root = ::geteuid() == 0;
  return RunRestricted(
      [as_root] {
        return ::unshare(as_root ? CLONE_NEWNS : CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) == 0;
      },
      [&] {
        const pid_t pid = ::fork();  // the first child in the new PID namespace is its PID 1
        if (pid < 0) return 203;
        if (pid == 0) {
          if (filter != nullptr && !child::ApplySeccomp(*filter)) ::_exit(204);
          ::_exit(fn() & 0xff);
        }
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0) {
          if (errno != EINTR) return 205;
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 206;
      });
}

TEST_F(SeccompKernelTest, PrivilegedCallsFailOtherwiseWithoutTheFilter) {
  JITSEC_SKIP_UNLESS(::jitsec::testing::Feature::kSeccomp);
  const bool as_root = ::geteuid() == 0;
  if (!as_root) JITSEC_SKIP_UNLESS(::jitsec::testing::Feature::kUserNamespaces);
  struct Case {
    const char* name;
    long (*call)();
    int unfiltered;
    bool needs_root;  // checks a capability of the initial user namespace
  };
  const std::vector<Case> cases = {
      {"pivot_root", [] { return ::syscall(SYS_pivot_root, kMissing, kMissing); }, ENOENT, false},
      {"fsopen", [] { return ::syscall(SYS_fsopen, "jitsec-no-such-fs", 0); }, ENODEV, false},
      {"fsmount", [] { return ::syscall(SYS_fsmount, -1, 0, 0); }, EBADF, false},
      {"fspick", [] { return ::syscall(SYS_fspick, AT_FDCWD, kMissing, 0); }, ENOENT, false},
      {"move_mount", [] { return ::syscall(SYS_move_mount, -1, kMissing, -1, kMissing, 0); },
       ENOENT, false},
      {"reboot", [] { return ::syscall(SYS_reboot, 0, 0, 0, nullptr); }, EINVAL, false},
      {"swapon", [] { return ::syscall(SYS_swapon, kMissing, 0); }, ENOENT, true},
      {"swapoff", [] { return ::syscall(SYS_swapoff, kMissing); }, ENOENT, true},
      {"acct", [] { return ::syscall(SYS_acct, kMissing); }, ENOENT, true},
  };
  for (const Case& c : cases) {
    if (c.needs_root && !as_root) {
      // No namespace grants CAP_SYS_ADMIN or CAP_SYS_PACCT of the initial one: for an ordinary
      // user EachDenialComesFromTheFilterNotFromMissingPrivilege is what tells the two apart.
      continue;
    }
    auto call = [&] { return ErrnoOf(c.call()); };
    EXPECT_EQ(RunPrivileged(nullptr, call), c.unfiltered) << c.name << ": without the filter";
    EXPECT_EQ(RunPrivileged(&program_, call), EPERM) << c.name;
  }
}

TEST_F(SeccompKernelTest, Clone3FailsWithEnosys) {
  JITSEC_SKIP_UNLESS(::jitsec::testing::Feature::kSeccomp);
  // Without the filter this is EINVAL (size 0); ENOSYS proves the filter answered.
  EXPECT_EQ(Filtered([] { return ErrnoOf(::syscall(SYS_clone3, nullptr, 0)); }), ENOSYS);
  EXPECT_EQ(RunRestricted(nullptr, [] { return ErrnoOf(::syscall(SYS_clone3, nullptr, 0)); }),
            EINVAL);
}

TEST_F(SeccompKernelTest, ForkAndThreadsStillWork) {
  JITSEC_SKIP_UNLESS(::jitsec::testing::Feature::kSeccomp);
  EXPECT_EQ(Filtered([] {
              const pid_t pid = ::fork();
              if (pid == 0) ::_exit(7);
              if (pid < 0) return 1;
              int status = 0;
              if (::waitpid(pid, &status, 0) != pid) return 2;
              return WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0 : 3;
            }),
            0);
  // glibc's pthread_create tries clone3 first and falls back to clone on ENOSYS.
  EXPECT_EQ(Filtered([] {
              int value = 0;
              std::thread t([&value] { value = 42; });
              t.join();
              return value == 42 ? 0 : 1;
            }),
            0);
}

struct Pty {
  int master = -1;
  int slave = -1;
  ~Pty() {
    if (slave >= 0) ::close(slave);
    if (master >= 0) ::close(master);
  }
};

bool OpenPty(Pty& pty) {
  pty.master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (pty.master < 0 || ::grantpt(pty.master) != 0 || ::unlockpt(pty.master) != 0) return false;
  const char* name = ::ptsname(pty.master);
  if (name == nullptr) return false;
  pty.slave = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  return pty.slave >= 0;
}

TEST_F(SeccompKernelTest, TiocstiOnARealPtyIsDeniedEvenWithHighBitsSet) {
  JITSEC_SKIP_UNLESS(::jitsec::testing::Feature::kSeccomp);
  JITSEC_SKIP_UNLESS(::jitsec::testing::Feature::kPty);
  Pty pty;
  ASSERT_TRUE(OpenPty(pty)) << std::strerror(errno);
  const int slave = pty.slave;
  EXPECT_EQ(Filtered([=] {
              char c = 'x';
              return ErrnoOf(::ioctl(slave, TIOCSTI, &c));
            }),
            EPERM);
  // The kernel reads the request as unsigned int, so this is TIOCSTI too.
  EXPECT_EQ(Filtered([=] {
              char c = 'x';
              return ErrnoOf(::syscall(SYS_ioctl, slave, 0xdeadbeef00000000UL | TIOCSTI, &c));
            }),
            EPERM);
  EXPECT_EQ(Filtered([=] {
              return ErrnoOf(::syscall(SYS_ioctl, slave, 0x100000000UL | TIOCLINUX, nullptr));
            }),
            EPERM);
  EXPECT_EQ(Filtered([=] {
              termios t{};
              return ErrnoOf(::ioctl(slave, TCGETS, &t));
            }),
            0);
}

TEST_F(SeccompKernelTest, PersonalityQueryWorksAndChangesAreDenied) {
  JITSEC_SKIP_UNLESS(::jitsec::testing::Feature::kSeccomp);
  EXPECT_EQ(Filtered([] { return ErrnoOf(::personality(0xffffffff)); }), 0);
  EXPECT_EQ(Filtered([] { return ErrnoOf(::personality(PER_LINUX)); }), 0);
  EXPECT_EQ(Filtered([] { return ErrnoOf(::personality(READ_IMPLIES_EXEC)); }), EPERM);
  EXPECT_EQ(Filtered([] {
              return ErrnoOf(::syscall(SYS_personality, 0xffffffff00000000UL | ADDR_NO_RANDOMIZE));
            }),
            EPERM);
}

// The filter is inherited across execve: a probe program run under it sees the same denials.
TEST_F(SeccompKernelTest, FilterStaysInForceAfterExec) {
  JITSEC_SKIP_UNLESS(::jitsec::testing::Feature::kSeccomp);
  const std::string probe = ::jitsec::testing::Helper("probe_sc_syscall");
  ASSERT_EQ(::access(probe.c_str(), X_OK), 0) << probe << ": " << std::strerror(errno);
  auto run = [&](const char* name) {
    return Filtered([&] {
      const char* argv[] = {probe.c_str(), name, nullptr};
      ::execv(probe.c_str(), const_cast<char* const*>(argv));
      return 127;
    });
  };
  EXPECT_EQ(run("unshare_user"), EPERM);
  EXPECT_EQ(run("io_uring_setup"), EPERM);
  EXPECT_EQ(run("clone3"), ENOSYS);
  EXPECT_EQ(run("personality_query"), 0);
}

TEST_F(SeccompKernelTest, OrdinaryToolsStillWork) {
  JITSEC_SKIP_UNLESS(::jitsec::testing::Feature::kSeccomp);
  const std::vector<std::vector<const char*>> commands = {
      {"sh", "-c", "ls / | wc -l", nullptr},
      {"python3", "-c", "1", nullptr},
      {"cc", "--version", nullptr},
      {"git", "--version", nullptr},
      {"make", "--version", nullptr},
  };
  for (const auto& argv : commands) {
    const int status = Filtered([&] {
      const int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull < 0 || ::dup2(devnull, 1) < 0) return 120;
      ::execvp(argv[0], const_cast<char* const*>(argv.data()));
      return 127;
    });
    EXPECT_EQ(status, 0) << argv[0];
  }
}

}  // namespace
}  // namespace jitsec::sandbox
