// Child side of the sandbox: the namespace init (pid 1 of the new PID namespace, same binary,
// no exec) and the command it forks. Everything here runs between clone and exec: it only reads
// what Prepare computed, never allocates, never logs, and reports failures as a ChildReport on
// the report pipe. Async-signal-safe throughout.
#pragma once

#include <cstddef>

#include "base/exec_spec.h"
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

struct InitArgs {
  const PreparedSandbox::Impl* sandbox = nullptr;
  const ExecSpec* command = nullptr;  // parent_pid already set to 1 (the init)
  int report_fd = -1;                 // write end, above every fd target of the command
  int* scratch = nullptr;             // sandbox->source_count ints, owned by the parent
  IdMapLine uid_map;                  // jitsec's euid, mapped to itself
  IdMapLine gid_map;                  // jitsec's egid, mapped to itself
};

// The namespace init. Order (each step reports its ChildStep on failure):
//  1. PR_SET_PDEATHSIG(SIGKILL); if jitsec died before that took effect (no reader left on the
//     report pipe), exit quietly; setsid;
//  2. its own uid/gid maps: setgroups "deny", "U U 1", "G G 1" through /proc/self, dumpable
//     only while the three files are opened (kUserNamespace);
//  3. mounts: rprivate /, clone every source tree, build the new root at /tmp (the old root's
//     /tmp is hidden by it), /dev, /proc, pivot_root, detach the old root; Landlock rules for the
//     fresh /tmp, /dev and /proc;
//  4. hostname "jitsec"; loopback up when the network namespace is private;
//  5. block the forwarded signals and SIGCHLD, fork the command (RunCommand), close every
//     descriptor, then loop on sigwaitinfo: forward INT/TERM/HUP/QUIT/WINCH/USR1/USR2 to the
//     command, reap on SIGCHLD; when the command exits, SIGKILL every process left in the
//     namespace, reap them, and exit with the command's status (128+N for a signal).
[[noreturn]] void RunInit(const InitArgs& args) noexcept;

// The command, in order: fd table → signals → session/pdeathsig/cwd → no_new_privs → every
// capability dropped (securebits locked, bounding set, ambient, capset) → Landlock → seccomp →
// exec. Seccomp is last: after it the filter would refuse the earlier steps' syscalls.
[[noreturn]] void RunCommand(const PreparedSandbox::Impl& sandbox, const ExecSpec& spec,
                             int report_fd) noexcept;

// Drops every capability for good. Returns false with errno set.
bool DropCapabilities(int cap_last) noexcept;

// Without a sandbox: fd table → signals → process setup → exec.
[[noreturn]] void RunPlain(const ExecSpec& spec, int report_fd) noexcept;

}  // namespace jitsec::sandbox::child
