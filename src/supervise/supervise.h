// Supervision of the command: spawning it without a sandbox (the sandbox's Launch does it with
// one), the single-threaded poll loop over signalfd, pidfd and the output pipes, signal
// forwarding, max_duration (TERM, grace, KILL), output masking, and exit-status mapping.
// Parent side. Knows nothing of providers or audit: it reports through Events.
#pragma once

#include <signal.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/exec_spec.h"
#include "base/unique_fd.h"
#include "mask/redactor.h"
#include "sandbox/sandbox.h"
#include "supervise/terminal.h"

namespace jitsec::supervise {

// The signals jitsec forwards to the command (and blocks in itself from the start of a run, so
// that one arriving while credentials are issued is acted on, not lost).
inline constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGUSR1, SIGUSR2};

// Blocks the forwarded signals (and SIGCHLD, SIGPIPE) and returns a signalfd for them.
[[nodiscard]] Result<UniqueFd> BlockSignals();
// Returns a pending terminating signal (INT, TERM, HUP, QUIT) if one has arrived, else 0.
int PendingTermination(int signal_fd);

struct ExitStatus {
  enum class Kind : uint8_t { kExited, kSignaled, kTimedOut };
  Kind kind = Kind::kExited;
  int code = 0;    // exit code (kExited)
  int signal = 0;  // signal number (kSignaled)
  std::chrono::milliseconds duration{0};
  // The status `jitsec run` exits with: the command's own, 128+N, or 124.
  int ExitCode() const;
};

struct Options {
  std::optional<std::chrono::milliseconds> max_duration;
  std::chrono::milliseconds grace{5000};  // TERM → KILL on timeout and on a repeated INT/TERM
  // Child output to relay (read ends); invalid when the child writes to our fds directly.
  UniqueFd child_stdout;
  UniqueFd child_stderr;
  int out_fd = 1;
  int err_fd = 2;
  // Pty mode (terminal.h): the master of the command's pty, relayed to out_fd with masking;
  // SIGWINCH then copies the caller's window size to it instead of being forwarded.
  UniqueFd pty_master;
  // The caller's terminal to relay keystrokes from into the pty (-1: none). Never made
  // non-blocking: its file description is shared with the caller's shell.
  int stdin_relay_fd = -1;
  // Without a pty: the write end of the command's stdin pipe that stdin_relay_fd is relayed
  // into (TerminalPlan::stdin_via_pipe); closed when the caller's input ends.
  UniqueFd stdin_pipe;
  std::shared_ptr<const mask::PatternSet> patterns;  // null: no masking
  // True when the child is the sandbox init, which kills the whole namespace itself; false for
  // a plain child, whose process group jitsec kills once the command has exited.
  bool sandboxed = false;
};

// Runs the loop until the command has exited and its output is relayed.
[[nodiscard]] Result<ExitStatus> Supervise(sandbox::Launched& child, int signal_fd, Options& options);
// Waits for the launched process if Supervise has not reaped it (a sandbox init that reported
// the command's exit code first and may still be tearing down its namespaces). Idempotent.
void ReapLaunched(sandbox::Launched& child);

}  // namespace jitsec::supervise
