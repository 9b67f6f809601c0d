// The command, sent by jitsec to a sandbox init that was started before the credentials were
// issued (sandbox::Start): a fixed header carrying the command's descriptors and the Landlock
// ruleset (SCM_RIGHTS), then the descriptor targets, the seccomp program and the strings (path,
// cwd, argv, envp), over a private socketpair. The ruleset and the program travel with the
// command so that jitsec builds them while the init is already setting up.
// SendCommand is parent side; ReceiveCommand is child side (async-signal-safe, allocates only
// with mmap). The other way, the init answers a terminal request (SendTerminal, ReceiveTerminal).
#pragma once

#include <linux/filter.h>

#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "base/exec_spec.h"
#include "base/unique_fd.h"

namespace jitsec::sandbox {

// The most descriptors one message carries (the kernel's SCM_MAX_FD).
inline constexpr size_t kMaxCommandFds = 253;

struct CommandHeader {
  uint32_t magic = 0;
  uint32_t body_bytes = 0;  // int32 targets[fd_count], sock_filter[filter_len], then the
                            // strings, each NUL-terminated
  uint32_t argc = 0;
  uint32_t envc = 0;
  uint32_t fd_count = 0;    // the command's descriptors attached to the header (spec.fds order)
  uint32_t has_landlock = 0;  // 1: the Landlock ruleset is attached after them
  uint32_t filter_len = 0;    // seccomp instructions (0: none)
  int32_t controlling_tty_target = -1;
  int32_t parent_pid = 0;
  uint32_t new_session = 1;
};

// What the command is confined with, besides its plan: built by jitsec after the init started.
struct Confinement {
  int landlock_fd = -1;  // ruleset (-1: Landlock not enforced)
  const struct sock_filter* filter = nullptr;
  size_t filter_len = 0;  // 0: no seccomp filter
};

// Sends spec (finalised) and the confinement on sock. Fails with kChildSetup when the init is
// gone (EPIPE): its report then says why.
[[nodiscard]] Status SendCommand(int sock, const ExecSpec& spec, const Confinement& confinement = {});

// The command's terminal, when jitsec asked for one: a pty the init made in the sandbox's own
// devpts, whose master travels the other way (init to jitsec): one byte, kTerminal with the
// descriptor, or kNoTerminal without one when the init could not make it.
inline constexpr char kTerminal = 'P';
inline constexpr char kNoTerminal = '-';

// Parent side: reads that answer. The master (checked to be a pty master), or an empty
// descriptor for kNoTerminal. *gone is set when the socket closed first (the init exited: its
// report says why); other errors (kChildSetup) are malformed answers.
[[nodiscard]] Result<UniqueFd> ReceiveTerminal(int sock, bool* gone);

namespace child {

// Sends the answer above: `master` (the init keeps its own copy), or kNoTerminal when it is -1.
// A failed send is left to the command message (jitsec then finds the init gone).
// Async-signal-safe.
void SendTerminal(int sock, int master) noexcept;

enum class Received : uint8_t { kCommand, kClosed, kError };

// Reads one command from sock into a private anonymous mapping (never unmapped: the init
// keeps it until it exits) and points *out and *confinement into it; the received descriptors
// are the sources of out->fds and the ruleset (close-on-exec). kClosed: jitsec closed the
// socket without sending (the run ended before the command started). kError: errno set
// (EINVAL for a malformed message). Async-signal-safe.
Received ReceiveCommand(int sock, ExecView* out, Confinement* confinement) noexcept;

}  // namespace child
}  // namespace jitsec::sandbox
