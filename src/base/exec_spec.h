// ExecSpec: everything a child process needs to exec the command, prepared in the parent
// (allocation happens here) so that the child side only reads it. ChildReport: the record a
// child writes on its CLOEXEC report pipe when a setup step fails (EOF means exec succeeded).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jitsec {

struct FdMapping {
  int source = -1;  // descriptor in the parent (may be CLOEXEC)
  int target = -1;  // number the child gets (inherited across exec)
};

// What a child reads to exec: plain pointers and counts, no container. Made from an ExecSpec by
// ExecSpec::View (after Finalize), or by the sandbox init from the command it received on its
// control socket (sandbox/exec_message.h). The child side only reads it, and writes fd_scratch.
struct ExecView {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const FdMapping* fds = nullptr;
  size_t fd_count = 0;
  int* fd_scratch = nullptr;  // fd_count ints for the descriptor shuffle
  const char* cwd = "";       // "": inherit
  bool new_session = true;
  int controlling_tty_target = -1;
  pid_t parent_pid = 0;
  // Async-signal-safe.
  int max_target_fd() const noexcept;
};

struct ExecSpec {
  std::string path;               // absolute path of the executable (already resolved)
  std::vector<std::string> argv;  // argv[0] as the user wrote it
  std::vector<std::string> envp;  // "NAME=value", exactly the child's environment
  std::vector<FdMapping> fds;     // must include targets 0, 1 and 2; all else is closed
  std::string cwd;                // empty: inherit
  bool new_session = true;        // setsid(): no controlling terminal of the caller's
  int controlling_tty_target = -1;  // with a pty: make this target fd the controlling tty
  pid_t parent_pid = 0;           // for the PR_SET_PDEATHSIG race check (0: skip)

  // Builds the null-terminated pointer arrays; call after the vectors are final and before
  // fork. The pointers refer into argv/envp, so the spec must not be modified afterwards.
  void Finalize();
  char* const* argv_ptrs() const { return const_cast<char* const*>(argv_ptrs_.data()); }
  char* const* envp_ptrs() const { return const_cast<char* const*>(envp_ptrs_.data()); }
  int max_target_fd() const;
  // Scratch space for the child's descriptor shuffle, one slot per fds entry, allocated by
  // Finalize so that the child does not allocate. A child started with CLONE_VM writes the
  // parent's copy; nothing reads it afterwards.
  int* fd_scratch() const { return const_cast<int*>(fd_scratch_.data()); }
  bool fd_scratch_fits() const { return fd_scratch_.size() == fds.size(); }
  // The child's view of this spec (Finalize first; it points into this spec).
  ExecView View() const;

 private:
  std::vector<const char*> argv_ptrs_;
  std::vector<const char*> envp_ptrs_;
  std::vector<int> fd_scratch_;
};

enum class ChildStep : uint32_t {
  kNone = 0,
  kFdTable,
  kSignals,
  kSession,
  kParentDeath,
  kChdir,
  kUserNamespace,
  kMounts,
  kNetwork,
  kHostname,
  kNoNewPrivs,
  kCapabilities,
  kLandlock,
  kSeccomp,
  kFork,
  kExec,
  kCommand,  // the sandbox init receiving the command from jitsec
};
std::string_view ChildStepName(ChildStep step);

struct ChildReport {
  ChildStep step = ChildStep::kNone;
  int32_t err = 0;
};

namespace child {

// All functions here are async-signal-safe and run between fork/clone and exec.

// Writes the report and _exits (126 for exec failures, 127 for ENOENT on exec, else 125).
[[noreturn]] void ReportAndExit(int report_fd, ChildStep step, int err) noexcept;

// Restores every default disposition, then unblocks every signal (in that order). False with
// errno set.
bool ResetSignals() noexcept;

// Installs spec.fds as the descriptor table; every other descriptor is marked CLOEXEC (so
// report_fd stays usable until exec and is closed by it). Returns false with errno set.
bool ApplyFdTable(const ExecView& spec) noexcept;

// setsid (when asked), PR_SET_PDEATHSIG(SIGKILL) with the parent check, chdir.
// Returns the failing step or kNone.
ChildStep ApplyProcessSetup(const ExecView& spec) noexcept;

// execve(spec.path); on failure reports kExec with errno and exits.
[[noreturn]] void Exec(const ExecView& spec, int report_fd) noexcept;

}  // namespace child

// Parent side: reads a ChildReport from the report pipe. Returns kNone on EOF (exec happened).
ChildReport ReadChildReport(int report_fd);

}  // namespace jitsec
