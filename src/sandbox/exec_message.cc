#include "sandbox/exec_message.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace jitsec::sandbox {
namespace {

constexpr uint32_t kMagic = 0x4a584543;              // "JXEC"
constexpr uint32_t kMaxBodyBytes = 64U << 20;         // far above ARG_MAX; a bound for mmap

size_t AlignUp(size_t n) { return (n + 7) & ~size_t{7}; }

// Points msg at `control` (CMSG_SPACE(n ints), aligned) holding one SCM_RIGHTS message with
// fds[0..n), n > 0. Async-signal-safe.
void AttachFds(struct msghdr* msg, char* control, const int* fds, size_t n) noexcept {
  msg->msg_control = control;
  msg->msg_controllen = CMSG_SPACE(sizeof(int) * n);
  struct cmsghdr* c = CMSG_FIRSTHDR(msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * n);
  std::memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
}

// recvmsg of up to `size` bytes into buf, with room for descriptors (close-on-exec) in
// `control`; *msg then describes what came (CollectFds). Retried on EINTR. Async-signal-safe.
ssize_t ReceiveWithFds(int sock, void* buf, size_t size, char* control, size_t control_size,
                       struct msghdr* msg) noexcept {
  struct iovec iov = {buf, size};
  *msg = {};
  msg->msg_iov = &iov;
  msg->msg_iovlen = 1;
  msg->msg_control = control;
  msg->msg_controllen = control_size;
  ssize_t n;
  do {
    n = ::recvmsg(sock, msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  msg->msg_iov = nullptr;  // iov ends here
  msg->msg_iovlen = 0;
  return n;
}

// The descriptors of a received message's SCM_RIGHTS parts into fds[0..max), their number in
// *count. False when there were more, or the kernel had to drop some (MSG_CTRUNC): the message
// is then malformed. Async-signal-safe.
bool CollectFds(const struct msghdr& msg, int* fds, size_t max, size_t* count) noexcept {
  *count = 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(const_cast<struct msghdr*>(&msg), c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    if (*count + k > max) return false;
    std::memcpy(fds + *count, CMSG_DATA(c), k * sizeof(int));
    *count += k;
  }
  return (msg.msg_flags & MSG_CTRUNC) == 0;
}

}  // namespace

Status SendCommand(int sock, const ExecSpec& spec, const Confinement& confinement) {
  const size_t fd_total = spec.fds.size() + (confinement.landlock_fd >= 0 ? 1 : 0);
  if (fd_total > kMaxCommandFds) {
    return Fail(ErrorCode::kInvalidArgument,
                "the command would get " + std::to_string(fd_total) +
                    " descriptors; at most " + std::to_string(kMaxCommandFds) + " can be passed");
  }
  if (confinement.filter_len > BPF_MAXINSNS) {
    return Fail(ErrorCode::kInternal, "the seccomp program is too long");
  }
  size_t size = spec.fds.size() * sizeof(int32_t) +
                confinement.filter_len * sizeof(struct sock_filter) + spec.path.size() +
                spec.cwd.size() + 2;
  for (const auto& a : spec.argv) size += a.size() + 1;
  for (const auto& e : spec.envp) size += e.size() + 1;
  if (size > kMaxBodyBytes) {
    return Fail(ErrorCode::kInvalidArgument, "the command's arguments and environment are too large");
  }
  // Reserved once: the environment may carry `unsafe: true` secrets, and the buffer is wiped
  // below, so it must never be reallocated (leaving a copy behind).
  std::string body;
  body.reserve(size);
  for (const auto& f : spec.fds) {
    int32_t t = f.target;
    body.append(reinterpret_cast<const char*>(&t), sizeof t);
  }
  body.append(reinterpret_cast<const char*>(confinement.filter),
              confinement.filter_len * sizeof(struct sock_filter));
  auto add = [&body](const std::string& s) {
    body.append(s);
    body.push_back('\0');
  };
  add(spec.path);
  add(spec.cwd);
  for (const auto& a : spec.argv) add(a);
  for (const auto& e : spec.envp) add(e);

  CommandHeader h;
  h.magic = kMagic;
  h.body_bytes = uint32_t(body.size());
  h.argc = uint32_t(spec.argv.size());
  h.envc = uint32_t(spec.envp.size());
  h.fd_count = uint32_t(spec.fds.size());
  h.has_landlock = confinement.landlock_fd >= 0 ? 1 : 0;
  h.filter_len = uint32_t(confinement.filter_len);
  h.controlling_tty_target = spec.controlling_tty_target;
  h.parent_pid = spec.parent_pid;
  h.new_session = spec.new_session ? 1 : 0;

  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxCommandFds)] = {};
  struct iovec iov = {&h, sizeof h};
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (fd_total > 0) {
    int fds[kMaxCommandFds];
    for (size_t i = 0; i < spec.fds.size(); ++i) fds[i] = spec.fds[i].source;
    if (confinement.landlock_fd >= 0) fds[spec.fds.size()] = confinement.landlock_fd;
    AttachFds(&msg, control, fds, fd_total);
  }
  Status st = Ok();
  ssize_t n;
  do {
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  // The rest of the header (a stream socket may take it in parts), then the body.
  const char* parts[2] = {reinterpret_cast<const char*>(&h), body.data()};
  size_t sizes[2] = {sizeof h, body.size()};
  size_t done = n < 0 ? 0 : size_t(n);
  for (int p = 0; p < 2 && n >= 0; ++p) {
    while (done < sizes[p]) {
      n = ::send(sock, parts[p] + done, sizes[p] - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      done += size_t(n);
    }
    done = 0;
  }
  if (n < 0) st = FailErrno(ErrorCode::kChildSetup, "sandbox setup failed at sending the command");
  ::explicit_bzero(body.data(), body.size());
  return st;
}

Result<UniqueFd> ReceiveTerminal(int sock, bool* gone) {
  *gone = false;
  char tag = 0;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg;
  const ssize_t n = ReceiveWithFds(sock, &tag, 1, control, sizeof control, &msg);
  if (n <= 0) {
    *gone = true;
    return FailErrno(ErrorCode::kChildSetup, "sandbox setup failed at receiving the terminal");
  }
  int fd = -1;
  size_t count = 0;
  const bool one = CollectFds(msg, &fd, 1, &count);
  UniqueFd master(count == 1 ? fd : -1);
  if (one && tag == kNoTerminal && !master) return UniqueFd();
  unsigned number = 0;
  if (!one || tag != kTerminal || !master || ::ioctl(master.get(), TIOCGPTN, &number) != 0) {
    return Fail(ErrorCode::kChildSetup, "sandbox setup failed at receiving the terminal: not a pty");
  }
  return master;
}

namespace child {
namespace {

// Reads exactly size bytes. False with errno (EPIPE for an early end of stream).
bool ReadFull(int fd, char* p, size_t size) noexcept {
  while (size > 0) {
    ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EPIPE;
      return false;
    }
    p += n;
    size -= size_t(n);
  }
  return true;
}

Received Malformed() noexcept {
  errno = EINVAL;
  return Received::kError;
}

}  // namespace

Received ReceiveCommand(int sock, ExecView* out, Confinement* confinement) noexcept {
  CommandHeader h;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxCommandFds)];
  struct msghdr msg;
  const ssize_t n = ReceiveWithFds(sock, &h, sizeof h, control, sizeof control, &msg);
  if (n == 0) return Received::kClosed;
  if (n < 0) return Received::kError;
  int fds[kMaxCommandFds];
  size_t fd_count = 0;
  if (!CollectFds(msg, fds, kMaxCommandFds, &fd_count)) return Malformed();
  if (size_t(n) < sizeof h && !ReadFull(sock, reinterpret_cast<char*>(&h) + n, sizeof h - size_t(n))) {
    return Received::kError;
  }
  // Every string takes at least its NUL: the counts are bounded by the body.
  if (h.magic != kMagic || h.has_landlock > 1 || h.fd_count + h.has_landlock != fd_count ||
      h.filter_len > BPF_MAXINSNS || h.body_bytes > kMaxBodyBytes || h.argc == 0 ||
      uint64_t(h.argc) + h.envc + 2 > h.body_bytes) {
    return Malformed();
  }
  const size_t command_fds = h.fd_count;
  // One mapping: the body (and a final NUL), the argv and envp arrays, the fd table, its scratch.
  const size_t body_at = 0;
  const size_t argv_at = AlignUp(body_at + h.body_bytes + 1);
  const size_t envp_at = argv_at + (h.argc + 1) * sizeof(char*);
  const size_t fds_at = envp_at + (h.envc + 1) * sizeof(char*);
  const size_t scratch_at = fds_at + command_fds * sizeof(FdMapping);
  const size_t total = scratch_at + command_fds * sizeof(int);
  void* map = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return Received::kError;
  char* base = static_cast<char*>(map);
  char* body = base + body_at;
  if (!ReadFull(sock, body, h.body_bytes)) return Received::kError;
  body[h.body_bytes] = '\0';

  const size_t targets_bytes = command_fds * sizeof(int32_t);
  const size_t filter_bytes = size_t(h.filter_len) * sizeof(struct sock_filter);
  if (targets_bytes + filter_bytes > h.body_bytes) return Malformed();
  auto* table = reinterpret_cast<FdMapping*>(base + fds_at);
  for (size_t i = 0; i < command_fds; ++i) {
    int32_t t;
    std::memcpy(&t, body + i * sizeof t, sizeof t);
    if (t < 0) return Malformed();
    table[i].source = fds[i];
    table[i].target = t;
  }
  // The strings: path, cwd, argv, envp; each must end inside the body.
  // The mapping is page-aligned and the targets are 4-byte ints: the program is aligned.
  confinement->filter =
      h.filter_len == 0 ? nullptr : reinterpret_cast<const struct sock_filter*>(body + targets_bytes);
  confinement->filter_len = h.filter_len;
  confinement->landlock_fd = h.has_landlock != 0 ? fds[command_fds] : -1;
  char* at = body + targets_bytes + filter_bytes;
  char* const end = body + h.body_bytes;
  auto next = [&at, end]() noexcept -> char* {
    if (at >= end) return nullptr;
    char* s = at;
    char* nul = static_cast<char*>(std::memchr(at, '\0', size_t(end - at)));
    if (nul == nullptr) return nullptr;
    at = nul + 1;
    return s;
  };
  const char* path = next();
  const char* cwd = next();
  if (path == nullptr || cwd == nullptr || path[0] != '/') return Malformed();
  auto** argv = reinterpret_cast<char**>(base + argv_at);
  auto** envp = reinterpret_cast<char**>(base + envp_at);
  for (uint32_t i = 0; i < h.argc; ++i) {
    if ((argv[i] = next()) == nullptr) return Malformed();
  }
  argv[h.argc] = nullptr;
  for (uint32_t i = 0; i < h.envc; ++i) {
    if ((envp[i] = next()) == nullptr) return Malformed();
  }
  envp[h.envc] = nullptr;
  if (at != end) return Malformed();

  out->path = path;
  out->argv = argv;
  out->envp = envp;
  out->fds = table;
  out->fd_count = command_fds;
  out->fd_scratch = reinterpret_cast<int*>(base + scratch_at);
  out->cwd = cwd;
  out->new_session = h.new_session != 0;
  out->controlling_tty_target = h.controlling_tty_target;
  out->parent_pid = h.parent_pid;
  return Received::kCommand;
}

void SendTerminal(int sock, int master) noexcept {
  const int saved = errno;
  char tag = master >= 0 ? kTerminal : kNoTerminal;
  struct iovec iov = {&tag, 1};
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (master >= 0) AttachFds(&msg, control, &master, 1);
  ssize_t n;
  do {
    n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  errno = saved;
}

}  // namespace child
}  // namespace jitsec::sandbox
