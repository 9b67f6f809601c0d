// The terminal side of supervision: when the caller's stdout is a terminal, the command gets a
// pseudo-terminal of its own (never the caller's, whose descriptor would let it inject input or
// reconfigure the caller's terminal), and jitsec relays between the two with masking. Parent
// side only; owns the pty pair, the caller's raw mode and its restoration on every exit path
// (normal return, error, forwarded signal, timeout, and a crash of jitsec itself).
#pragma once

#include <termios.h>

#include <optional>

#include "base/error.h"
#include "base/unique_fd.h"

namespace jitsec::supervise {

// How the command's standard descriptors relate to the caller's terminal.
struct TerminalPlan {
  bool use_pty = false;      // the caller's stdout is a terminal: the command gets a pty
  bool stdin_on_pty = false;  // the caller's stdin is that kind of terminal too: relay keystrokes
  bool stderr_on_pty = false;  // the caller's stderr is a terminal: stderr joins the pty
  // jitsec is in the terminal's foreground process group, so it may switch the caller's
  // terminal to raw mode and read from it (a background job must not: SIGTTIN/SIGTTOU).
  bool raw_mode = false;
  // No pty, but the caller's stdin (stderr) is a terminal: the command gets a pipe instead,
  // never the caller's terminal itself (whose descriptor would let it reconfigure that terminal
  // and write to it unmasked). stdin is relayed into its pipe only when jitsec is in the
  // terminal's foreground (relay_stdin); a background jitsec gives the command end of file.
  bool stdin_via_pipe = false;
  bool relay_stdin = false;
  bool stderr_via_pipe = false;
};

// Whether the command gets a pty: the caller's stdout is a terminal (TerminalPlan::use_pty; known
// before anything else is, so that a sandbox can make the pty in its own devpts).
bool CommandGetsTerminal();

// Decides from the caller's descriptors 0, 1, 2. `stdin_taken`: a credential is delivered on
// stdin, so the caller's stdin is not relayed.
TerminalPlan PlanTerminal(bool stdin_taken);

struct Pty {
  UniqueFd master;  // O_NONBLOCK, CLOEXEC; relayed by Supervise
  UniqueFd slave;   // CLOEXEC; becomes the command's 0/1/2 and controlling terminal
};

// Opens a pty whose modes and window size are the caller's terminal's (read from fd 0 when it is a
// terminal, else fd 1). With `caller_raw` the caller's terminal passes bytes through untouched, so
// the pty keeps the caller's output processing; without it the caller's terminal still does that
// (ONLCR and the like) and the pty's output processing is turned off so it is not done twice.
// With `master` (a pty master made elsewhere: the sandbox's own devpts, sandbox::ReceivePtyMaster)
// that pair is used instead of a new one of jitsec's devpts.
[[nodiscard]] Result<Pty> OpenPty(bool caller_raw, UniqueFd master = UniqueFd());

// Copies the caller's window size (fd 1) to the pty; the kernel then sends SIGWINCH to the
// command's foreground process group.
void PropagateWindowSize(int pty_master);

// Puts the caller's terminal (fd 0) into raw mode and restores the saved modes when destroyed.
// Restoration also happens if jitsec dies of SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT
// (handlers installed for the guard's lifetime, async-signal-safe). Not after SIGKILL: nothing
// can run then (`stty sane` repairs the terminal).
class RawModeGuard {
 public:
  RawModeGuard() = default;
  RawModeGuard(const RawModeGuard&) = delete;
  RawModeGuard& operator=(const RawModeGuard&) = delete;
  ~RawModeGuard();
  // Enters raw mode on fd 0. Fails (and changes nothing) when fd 0 is not a terminal.
  [[nodiscard]] Status Enter();
  void Restore();
  bool active() const { return active_; }

 private:
  bool active_ = false;
  struct termios saved_ {};
};

}  // namespace jitsec::supervise
