#include "supervise/supervise.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <cerrno>
#include <cstring>

#include "base/fs.h"
#include "base/log.h"

namespace jitsec::supervise {
namespace {

using Clock = std::chrono::steady_clock;

int PidfdSendSignal(int pidfd, int sig) { return int(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0)); }

bool IsTermination(int sig) { return sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT; }

// One relayed output stream: read end of the child's pipe, its redactor, where it goes.
struct Stream {
  int fd = -1;
  int out = -1;
  std::unique_ptr<mask::Redactor> redactor;
  mask::OutputSpans spans;  // the redactor's output: mostly runs of the read buffer itself
  bool open() const { return fd >= 0; }
};

// Writes the spans in order, up to kIov of them per writev (a chunk full of secrets has many).
Status WriteSpans(int fd, const mask::OutputSpans& spans) {
  constexpr size_t kIov = 64;
  struct iovec iov[kIov];
  for (size_t i = 0; i < spans.span_count();) {
    size_t n = 0;
    for (; n < kIov && i < spans.span_count(); ++n, ++i) {
      const std::string_view span = spans.span(i);
      iov[n] = {const_cast<char*>(span.data()), span.size()};
    }
    struct iovec* v = iov;
    while (n > 0) {
      ssize_t put = ::writev(fd, v, int(n));
      if (put < 0) {
        if (errno == EINTR) continue;
        return FailErrno(ErrorCode::kIo, "write command output");
      }
      auto left = size_t(put);
      while (n > 0 && left >= v->iov_len) {
        left -= v->iov_len;
        ++v;
        --n;
      }
      if (n > 0) {
        v->iov_base = static_cast<char*>(v->iov_base) + left;
        v->iov_len -= left;
      }
    }
  }
  return Ok();
}

// Masks `data` and writes it on before the caller reads into its buffer again: the unchanged
// runs are written from `data` itself, not copied first.
Status Relay(Stream& s, std::string_view data) {
  if (s.redactor) {
    s.spans.clear();
    s.redactor->Feed(data, s.spans);
    return WriteSpans(s.out, s.spans);
  }
  return WriteAll(s.out, data, "write command output");
}

// Flushes what the redactor holds back and closes the stream.
void FinishAndClose(Stream& s) {
  if (s.redactor) {
    s.spans.clear();
    s.redactor->Finish(s.spans);
    (void)WriteSpans(s.out, s.spans);
  }
  ::close(s.fd);
  s.fd = -1;
}

constexpr int kReadsPerWake = 8;

// Reads what is available. Returns false at EOF or error (the stream is then closed and its
// redactor flushed). *used: the most bytes of buf ever filled (what has to be wiped).
bool Pump(Stream& s, char* buf, size_t size, size_t* used, bool drain) {
  for (int reads = 1;; ++reads) {
    ssize_t n = ::read(s.fd, buf, size);
    if (n > 0) {
      *used = std::max(*used, size_t(n));
      if (!Relay(s, std::string_view(buf, size_t(n)))) {
        // The reader of our output went away (EPIPE): keep draining so the child is not blocked.
        s.redactor.reset();
        s.out = -1;
      }
      if (drain) continue;
      // A full buffer: the command is streaming, more is likely there. Read on without a poll
      // round trip, but only a few times, so that signals and the other stream wait at most
      // kReadsPerWake reads.
      if (size_t(n) == size && reads < kReadsPerWake) continue;
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    FinishAndClose(s);  // EOF or error
    return false;
  }
}

}  // namespace

int ExitStatus::ExitCode() const {
  switch (kind) {
    case Kind::kExited: return code;
    case Kind::kSignaled: return 128 + signal;
    case Kind::kTimedOut: return 124;
  }
  return 125;
}

Result<UniqueFd> BlockSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : kForwardedSignals) sigaddset(&set, s);
  sigaddset(&set, SIGCHLD);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return FailErrno(ErrorCode::kInternal, "sigprocmask");
  // A closed reader must not kill jitsec before it revokes: writes then fail with EPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return FailErrno(ErrorCode::kInternal, "signalfd");
  return UniqueFd(fd);
}

int PendingTermination(int signal_fd) {
  struct signalfd_siginfo si {};
  int found = 0;
  while (::read(signal_fd, &si, sizeof si) == ssize_t(sizeof si)) {
    if (IsTermination(int(si.ssi_signo)) && found == 0) found = int(si.ssi_signo);
  }
  return found;
}

Result<ExitStatus> Supervise(sandbox::Launched& child, int signal_fd, Options& options) {
  const auto start = Clock::now();
  std::optional<Clock::time_point> deadline;
  if (options.max_duration) deadline = start + *options.max_duration;
  std::optional<Clock::time_point> kill_at;  // set once TERM was sent for a timeout
  std::optional<Clock::time_point> first_termination;
  bool timed_out = false;

  Stream streams[2];
  streams[0].fd = options.child_stdout.release();
  streams[0].out = options.out_fd;
  streams[1].fd = options.child_stderr.release();
  streams[1].out = options.err_fd;
  if (options.pty_master) {
    // The output stream reads a duplicate so that closing it at EOF (EIO once the last slave
    // descriptor is gone) leaves the master for keystrokes and window sizes until the end.
    streams[0].fd = ::fcntl(options.pty_master.get(), F_DUPFD_CLOEXEC, 0);
    if (streams[0].fd < 0) return FailErrno(ErrorCode::kInternal, "dup pty master");
  }
  const int relay_to = options.pty_master ? options.pty_master.get() : options.stdin_pipe.get();
  int relay_in = relay_to >= 0 ? options.stdin_relay_fd : -1;
  std::string pending_in;  // keystrokes read but not yet accepted by the pty or pipe
  auto stop_relay = [&] {
    relay_in = -1;
    options.stdin_pipe.reset();  // the command reads end of file
  };
  for (auto& s : streams) {
    if (s.fd >= 0) {
      ::fcntl(s.fd, F_SETFL, ::fcntl(s.fd, F_GETFL) | O_NONBLOCK);
      if (options.patterns) s.redactor = std::make_unique<mask::Redactor>(options.patterns);
    }
  }
  auto close_streams = [&] {
    for (auto& s : streams) {
      if (s.fd >= 0) ::close(s.fd);
      s.fd = -1;
    }
  };

  static char buf[65536];
  size_t buf_used = 0;  // wiped at the end: the output may hold secrets (--no-mask)
  bool exited = false;
  std::optional<int32_t> reported;  // the exit code the sandbox init sent on its status pipe
  while (!exited) {
    // Readiness order: output first (so nothing is lost), then signals, then the child's exit.
    struct pollfd pfds[6];
    nfds_t n = 0;
    int idx_stream[2] = {-1, -1};
    for (int i = 0; i < 2; ++i) {
      if (streams[i].open()) {
        idx_stream[i] = int(n);
        pfds[n++] = {streams[i].fd, POLLIN, 0};
      }
    }
    int idx_in = -1;
    if (relay_in >= 0 && (!options.pty_master || streams[0].open())) {
      idx_in = int(n);
      pfds[n++] = pending_in.empty() ? pollfd{relay_in, POLLIN, 0} : pollfd{relay_to, POLLOUT, 0};
    }
    int idx_sig = int(n);
    pfds[n++] = {signal_fd, POLLIN, 0};
    int idx_pid = int(n);
    pfds[n++] = {child.pidfd.get(), POLLIN, 0};
    int idx_status = -1;
    if (child.status) {
      idx_status = int(n);
      pfds[n++] = {child.status.get(), POLLIN, 0};
    }

    int timeout_ms = -1;
    auto now = Clock::now();
    auto next = kill_at ? kill_at : deadline;
    if (next) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*next - now).count();
      timeout_ms = left < 0 ? 0 : int(std::min<long long>(left, 1 << 30));
    }
    int r = ::poll(pfds, n, timeout_ms);
    if (r < 0 && errno != EINTR) {
      close_streams();
      return FailErrno(ErrorCode::kInternal, "poll");
    }
    for (int i = 0; i < 2; ++i) {
      if (idx_stream[i] >= 0 && (pfds[idx_stream[i]].revents & (POLLIN | POLLHUP | POLLERR))) {
        Pump(streams[i], buf, sizeof buf, &buf_used, false);
      }
    }
    if (idx_in >= 0 && pfds[idx_in].revents != 0) {
      if (pending_in.empty()) {
        char in[4096];
        ssize_t got = ::read(relay_in, in, sizeof in);
        if (got > 0) {
          pending_in.assign(in, size_t(got));
          explicit_bzero(in, sizeof in);  // keystrokes may be a password typed at a prompt
        } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
          stop_relay();  // end of the caller's input: the command sees no more
        }
      }
      if (!pending_in.empty()) {
        ssize_t put = ::write(relay_to, pending_in.data(), pending_in.size());
        if (put > 0) {
          pending_in.erase(0, size_t(put));
        } else if (put < 0 && errno != EINTR && errno != EAGAIN) {
          explicit_bzero(pending_in.data(), pending_in.size());
          pending_in.clear();
          stop_relay();  // the command closed its stdin (EPIPE)
        }
      }
    }
    if (pfds[idx_sig].revents & POLLIN) {
      struct signalfd_siginfo si {};
      while (::read(signal_fd, &si, sizeof si) == ssize_t(sizeof si)) {
        int sig = int(si.ssi_signo);
        if (sig == SIGCHLD) continue;
        if (sig == SIGWINCH && options.pty_master) {
          PropagateWindowSize(options.pty_master.get());
          continue;
        }
        if (IsTermination(sig)) {
          auto t = Clock::now();
          if (first_termination && t - *first_termination >= options.grace) {
            log::Info("second termination signal: killing the command");
            (void)PidfdSendSignal(child.pidfd.get(), SIGKILL);
            continue;
          }
          if (!first_termination) first_termination = t;
        }
        (void)PidfdSendSignal(child.pidfd.get(), sig);
      }
    }
    now = Clock::now();
    if (kill_at && now >= *kill_at) {
      (void)PidfdSendSignal(child.pidfd.get(), SIGKILL);
      if (!options.sandboxed) (void)::kill(-child.pid, SIGKILL);
      kill_at.reset();
      deadline.reset();
    } else if (deadline && now >= *deadline && !timed_out) {
      timed_out = true;
      log::Warn("command exceeded max_duration: sending SIGTERM");
      (void)PidfdSendSignal(child.pidfd.get(), SIGTERM);
      if (!options.sandboxed) (void)::kill(-child.pid, SIGTERM);
      kill_at = now + options.grace;
      deadline.reset();
    }
    if (pfds[idx_pid].revents & POLLIN) exited = true;
    if (idx_status >= 0 && (pfds[idx_status].revents & (POLLIN | POLLHUP))) {
      // The sandbox init's report of the command's exit, sent before the init's own teardown:
      // the init itself is reaped later (ReapLaunched). EOF: it died without one; wait for it.
      int32_t code = 0;
      ssize_t got;
      do {
        got = ::read(child.status.get(), &code, sizeof code);
      } while (got < 0 && errno == EINTR);
      if (got == ssize_t(sizeof code)) {
        reported = code;
        exited = true;
      }
      child.status.reset();
    }
  }

  siginfo_t info{};
  if (reported) {
    info.si_code = CLD_EXITED;
    info.si_status = *reported;
  } else {
    while (::waitid(P_PIDFD, id_t(child.pidfd.get()), &info, WEXITED) != 0) {
      if (errno != EINTR) {
        close_streams();
        return FailErrno(ErrorCode::kInternal, "waitid");
      }
    }
    child.pidfd.reset();  // reaped
  }
  if (!options.sandboxed) {
    // Anything the command left in its process group dies with it (it may hold secrets).
    (void)::kill(-child.pid, SIGKILL);
  }
  // Drain what the command wrote before exiting. With a sandbox every writer is dead now; a
  // plain command's stragglers were killed above, but a descendant in another process group
  // may still hold the pipe: read only what is there.
  for (auto& s : streams) {
    if (s.open()) {
      if (options.sandboxed) {
        ::fcntl(s.fd, F_SETFL, ::fcntl(s.fd, F_GETFL) & ~O_NONBLOCK);
        while (Pump(s, buf, sizeof buf, &buf_used, true)) {
        }
      } else {
        Pump(s, buf, sizeof buf, &buf_used, true);
        if (s.open()) FinishAndClose(s);
      }
    }
  }
  explicit_bzero(buf, buf_used);  // not all 64 KiB: untouched pages would be faulted in

  ExitStatus status;
  status.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  if (timed_out) {
    status.kind = ExitStatus::Kind::kTimedOut;
  } else if (info.si_code == CLD_EXITED) {
    status.kind = ExitStatus::Kind::kExited;
    status.code = info.si_status;
    // The sandbox init reports a signal death of the command as 128+N.
    if (options.sandboxed && status.code > 128 && status.code < 128 + 65) {
      status.kind = ExitStatus::Kind::kSignaled;
      status.signal = status.code - 128;
    }
  } else {
    status.kind = ExitStatus::Kind::kSignaled;
    status.signal = info.si_status;
  }
  return status;
}

void ReapLaunched(sandbox::Launched& child) {
  if (!child.pidfd) return;
  siginfo_t info{};
  while (::waitid(P_PIDFD, id_t(child.pidfd.get()), &info, WEXITED) != 0 && errno == EINTR) {
  }
  child.pidfd.reset();
}

}  // namespace jitsec::supervise
