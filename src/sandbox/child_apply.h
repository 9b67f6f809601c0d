// Child side of the sandbox: the namespace init (pid 1 of the new PID namespace, same binary,
// no exec) and the command it starts. Everything here runs between clone and exec: it only reads
// what Prepare computed, never allocates, never logs, and reports failures as a ChildReport on
// the report pipe. Async-signal-safe throughout.
#pragma once

#include <cstddef>

#include "base/exec_spec.h"
#include "sandbox/exec_message.h"
#include "sandbox/prepared.h"

namespace jitsec::sandbox::child {

// One line of /proc/self/{uid,gid}_map, "ID ID 1", formatted by the parent (FormatIdMapLine)
// so that the init only copies bytes.
struct IdMapLine {
  char text[32] = {};  // "4294967295 4294967295 1" is 23 bytes
  size_t size = 0;
};

// "id id 1". Async-signal-safe (digits by hand, no allocation).
IdMapLine FormatIdMapLine(unsigned id) noexcept;

// The stack of a child that runs in its parent's memory until it execs (clone with CLONE_VM |
// CLONE_VFORK, the technique of glibc's posix_spawn): kSize bytes above a PROT_NONE guard page.
// Allocated by jitsec before the clone of the namespace init, which inherits the mapping, so
// that nothing is allocated in a child. Move-only; unmaps on destruction (the init's inherited
// copy stays mapped until the init exits).
class ChildStack {
 public:
  static constexpr size_t kSize = 256 * 1024;

  ChildStack() = default;
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;
  ChildStack(ChildStack&& other) noexcept;
  ChildStack& operator=(ChildStack&& other) noexcept;
  ~ChildStack() { reset(); }

  // mmap + guard page. False with errno set.
  [[nodiscard]] bool Allocate() noexcept;
  void reset() noexcept;
  explicit operator bool() const { return base_ != nullptr; }
  void* base() const { return base_; }  // the guard page
  void* top() const;                     // where the (downward-growing) stack starts

 private:
  void* base_ = nullptr;
};

// Runs fn(arg) in a child created with clone(CLONE_VM | CLONE_VFORK | SIGCHLD | extra_flags) on
// the stack whose top is stack_top, and returns in the caller once the child has exec'd or
// exited: no copy of the caller's page tables (the cost of fork grows with jitsec's ~9 MB
// binary and heap). Every signal is blocked around the clone, so that no handler inherited from
// jitsec runs in the child on the shared memory; the child must restore dispositions before it
// unblocks (child::ResetSignals in base/exec_spec.h does). fn must be async-signal-safe and
// write nothing the caller reads afterwards (errno aside): the caller's memory is the child's. CLONE_SIGHAND must not be
// in extra_flags (the child resets its own dispositions). With CLONE_PIDFD the pidfd is stored
// in *pidfd. Returns the child's pid, or -1 with errno set.
pid_t CloneVfork(int (*fn)(void*), void* arg, void* stack_top, int extra_flags,
                 int* pidfd) noexcept;

struct InitArgs {
  const PreparedSandbox::Impl* sandbox = nullptr;
  int jitsec_ends[3] = {-1, -1, -1};  // jitsec's ends of the pipes and socket: the init closes them
  int control_fd = -1;                // the init's end of the socketpair the command comes on
  int report_fd = -1;                 // write end (the init raises it above the command's fds)
  int status_fd = -1;                 // write end: the command's exit code, before the init exits
  int* scratch = nullptr;             // sandbox->source_count ints, owned by the parent
  void* command_stack_top = nullptr;  // a ChildStack mapped by the parent before the clone
  bool terminal = false;              // make a pty in the new devpts for jitsec (step 3)
  IdMapLine uid_map;                  // jitsec's euid, mapped to itself
  IdMapLine gid_map;                  // jitsec's egid, mapped to itself
};

// The namespaces a run's init is made in, started before the init so that the kernel's costly
// part (the network namespace and its loopback, ~0.7 ms) runs on another CPU while jitsec reads
// the policy and prepares the sandbox. A helper shares jitsec's memory and descriptor table
// (clone CLONE_VM | CLONE_FILES, on a ChildStack of its own, raw system calls only: it runs on
// jitsec's TLS, errno included), unshares the user namespace and, with `network`, the network
// namespace, brings its loopback up, and waits for the init's arguments (or has them already).
// It clones the init into those namespaces (clone3 CLONE_PARENT: the init is jitsec's child, as
// if jitsec had cloned it, with new mount, PID, IPC and UTS namespaces owned by the new user
// namespace), says so, and exits. The init is a copy of jitsec's memory taken before anything
// is issued: jitsec waits for kCloned before it reads any key or secret. The fields are shared
// between jitsec and the helper; `state` changes atomically, with futex wake-ups.
enum class PrestartState : int {
  kStarting = 0,  // the helper is making the namespaces, or waits for kClone or kAbort
  kClone,         // jitsec: `init` is set; clone it once the namespaces are made
  kAbort,         // jitsec: exit without cloning
  kFailed,        // helper: failed at `step` with `err` (no init)
  kCloned,        // helper: the init is cloned (`init_pid`, `init_pidfd`), or clone failed (-errno)
};
struct Prestart {
  int state = int(PrestartState::kStarting);
  pid_t parent = 0;           // jitsec: the helper exits if its parent is another by then
  bool network = false;       // unshare the network namespace too (network: none)
  void* stack_top = nullptr;  // the helper's stack (StartPrestart), which the init starts on
  ChildStep step = ChildStep::kNone;
  int err = 0;
  const InitArgs* init = nullptr;  // set by jitsec with kClone
  pid_t init_pid = -1;             // the init, or -errno of the clone
  int init_pidfd = -1;
};

// Starts the helper on the stack whose top is stack_top. Returns its pid (a child of the caller,
// to be reaped with __WALL once it has exited; its stack stays mapped until then), or -1 with
// errno set.
pid_t StartPrestart(Prestart* p, void* stack_top) noexcept;
// Moves p->state from `from` to `to` (false: it was not `from`) and wakes the other side.
bool PrestartAdvance(Prestart* p, PrestartState from, PrestartState to) noexcept;
// Waits while p->state is `from`; returns the state it changed to.
PrestartState PrestartWait(Prestart* p, PrestartState from) noexcept;

// The namespace init, started by sandbox::Start before jitsec issues anything. Order (each step
// reports its ChildStep on failure):
//  1. PR_SET_PDEATHSIG(SIGKILL); if jitsec died before that took effect (no reader left on the
//     report pipe), exit quietly; a process group of its own (setpgid);
//  2. its own uid/gid maps: setgroups "deny", "U U 1", "G G 1" through /proc/self, dumpable
//     only while the three files are opened (kUserNamespace); the user namespace, and the
//     network namespace unless the network is the host's, were made by the Prestart helper;
//  3. mounts: rprivate /, clone every source tree, build the new root at /tmp (the old root's
//     /tmp is hidden by it), /dev, /proc; when jitsec asked for a terminal, a pty of the new
//     devpts, its master sent to jitsec on the control socket (SendTerminal); hostname
//     "jitsec"; without `file: {path}` deliveries, pivot_root and a detach of the old root now;
//  4. wait for the command on the control socket (ReceiveCommand; exits quietly when jitsec
//     closes it without sending: the run was refused or issuance failed) (kCommand);
//  5. with `file: {path}` deliveries, the secret files (copied from the received memfds),
//     then pivot_root and a detach of the old root; Landlock rules for the fresh /tmp, /dev,
//     /proc and the secret files;
//  6. block the forwarded signals and SIGCHLD, start the command (RunCommand) with CloneVfork on
//     the command stack (the init is suspended until the command execs or fails), close every
//     descriptor, then loop on sigwaitinfo: forward INT/TERM/HUP/QUIT/WINCH/USR1/USR2 to the
//     command, reap on SIGCHLD; when the command exits, SIGKILL every process left in the
//     namespace, reap them, and exit with the command's status (128+N for a signal).
[[noreturn]] void RunInit(const InitArgs& args) noexcept;

// The command, in order: fd table → signals → session/pdeathsig/cwd → no_new_privs → every
// capability dropped (securebits locked, bounding set, ambient, capset) → Landlock → seccomp →
// exec. Seccomp is last: after it the filter would refuse the earlier steps' syscalls.
// report_fd and confinement.landlock_fd (the ruleset received with the command) must be above
// every target of spec: ApplyFdTable would clobber them.
[[noreturn]] void RunCommand(const PreparedSandbox::Impl& sandbox, const ExecView& spec,
                             const Confinement& confinement, int report_fd) noexcept;

// Drops every capability for good. Returns false with errno set.
bool DropCapabilities(int cap_last) noexcept;

// Without a sandbox: fd table → signals → process setup → exec.
[[noreturn]] void RunPlain(const ExecView& spec, int report_fd) noexcept;

// Without a sandbox, for LaunchPlain: RunPlain(spec, report_fd) in a child
// of CloneVfork (with CLONE_PIDFD; *pidfd stays -1 on a kernel that ignores the flag) on a
// ChildStack allocated here and unmapped once the child has exec'd. Returns the pid, or -1 with
// errno set. report_fd must be above every target of spec (ApplyFdTable would clobber it).
pid_t SpawnPlain(const ExecView& spec, int report_fd, int* pidfd) noexcept;
inline pid_t SpawnPlain(const ExecSpec& spec, int report_fd, int* pidfd) noexcept {
  const ExecView view = spec.View();  // read by the child before SpawnPlain returns
  return SpawnPlain(view, report_fd, pidfd);
}

}  // namespace jitsec::sandbox::child
