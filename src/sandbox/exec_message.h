// The command, sent by jitsec to a sandbox init that was started before the credentials were
// issued (sandbox::Start): a fixed header carrying the command's descriptors (SCM_RIGHTS), then
// the descriptor targets and the strings (path, cwd, argv, envp), over a private socketpair.
// SendCommand is parent side; ReceiveCommand is child side (async-signal-safe, allocates only
// with mmap).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/error.h"
#include "base/exec_spec.h"

namespace jitsec::sandbox {

// The most descriptors one message carries (the kernel's SCM_MAX_FD).
inline constexpr size_t kMaxCommandFds = 253;

struct CommandHeader {
  uint32_t magic = 0;
  uint32_t body_bytes = 0;  // int32 targets[fd_count], then the strings, each NUL-terminated
  uint32_t argc = 0;
  uint32_t envc = 0;
  uint32_t fd_count = 0;    // descriptors attached to the header, in the order of spec.fds
  int32_t controlling_tty_target = -1;
  int32_t parent_pid = 0;
  uint32_t new_session = 1;
};

// Sends spec (finalised) on sock. Fails with kChildSetup when the init is gone (EPIPE): its
// report then says why.
[[nodiscard]] Status SendCommand(int sock, const ExecSpec& spec);

namespace child {

enum class Received : uint8_t { kCommand, kClosed, kError };

// Reads one command from sock into a private anonymous mapping (never unmapped: the init
// keeps it until it exits) and points *out into it; the received descriptors are the sources
// of out->fds (close-on-exec). kClosed: jitsec closed the socket without sending (the run
// ended before the command started). kError: errno set (EINVAL for a malformed message).
// Async-signal-safe.
Received ReceiveCommand(int sock, ExecView* out) noexcept;

}  // namespace child
}  // namespace jitsec::sandbox
