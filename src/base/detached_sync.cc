#include "base/detached_sync.h"

#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/raw_syscall.h"

namespace jitsec {
namespace {

// Async-signal-safe.
__attribute__((no_sanitize("address", "undefined"))) void CloseRange(unsigned long first,
                                                                     unsigned long last) noexcept {
#ifdef JITSEC_RAW_SYSCALL
  (void)RawSyscall(SYS_close_range, long(first), long(last), 0);
#else
  (void)::syscall(SYS_close_range, first, last, 0U);
#endif
}

#ifdef JITSEC_RAW_SYSCALL

// What the helper works from: a copy in static storage, which the exiting parent never frees
// or unmaps.
struct HelperArgs {
  int fds[3];  // data_fd, write_fd, dir_fd (-1: none)
  size_t size;
  char bytes[DetachedSync::kMaxBytes];
};
HelperArgs g_args;

// The helper's stack, static for the same reason.
alignas(64) unsigned char g_stack[16 * 1024];

// Non-zero while a helper may still be running on g_stack: set before the clone, set to zero by
// the kernel once the helper has exited (CLONE_CHILD_CLEARTID).
pid_t g_busy = 0;

// The helper (see the header). Returns the number of the step that failed, 0 when all
// succeeded; glibc's clone wrapper passes it to exit(2).
// Async-signal-safe.
__attribute__((no_sanitize("address", "undefined"))) int HelperMain(void*) noexcept {
  const HelperArgs& a = g_args;
  child::CloseAllBut(a.fds);
  long r;
  do {
    r = RawSyscall(SYS_fdatasync, a.fds[0]);
  } while (r == -EINTR);
  if (r != 0) return 1;
  if (a.fds[1] >= 0) {
    size_t done = 0;
    while (done < a.size) {
      r = RawSyscall(SYS_pwrite64, a.fds[1], long(a.bytes + done), long(a.size - done), long(done));
      if (r == -EINTR) continue;
      if (r <= 0) return 2;
      done += size_t(r);
    }
  }
  if (a.fds[2] >= 0) {
    do {
      r = RawSyscall(SYS_fsync, a.fds[2]);
    } while (r == -EINTR);
    if (r != 0) return 3;
  }
  return 0;
}

#endif  // JITSEC_RAW_SYSCALL

}  // namespace

namespace child {

// Async-signal-safe.
__attribute__((no_sanitize("address", "undefined"))) void CloseAllBut(
    const int (&keep)[3]) noexcept {
  int sorted[3] = {keep[0], keep[1], keep[2]};
  for (int i = 1; i < 3; ++i) {
    for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; --j) {
      int t = sorted[j];
      sorted[j] = sorted[j - 1];
      sorted[j - 1] = t;
    }
  }
  unsigned long next = 0;
  for (int fd : sorted) {
    if (fd < 0 || static_cast<unsigned long>(fd) < next) continue;
    if (static_cast<unsigned long>(fd) > next) CloseRange(next, static_cast<unsigned long>(fd) - 1);
    next = static_cast<unsigned long>(fd) + 1;
  }
  CloseRange(next, ~0U);
}

}  // namespace child

pid_t StartDetachedSync(const DetachedSync& sync) noexcept {
#ifndef JITSEC_RAW_SYSCALL
  (void)sync;
  errno = ENOSYS;
  return -1;
#else
  if (sync.data_fd < 0 || sync.bytes.size() > DetachedSync::kMaxBytes ||
      (sync.write_fd < 0 && !sync.bytes.empty())) {
    errno = EINVAL;
    return -1;
  }
  if (__atomic_load_n(&g_busy, __ATOMIC_ACQUIRE) != 0) {
    errno = EBUSY;
    return -1;
  }
  g_args.fds[0] = sync.data_fd;
  g_args.fds[1] = sync.write_fd;
  g_args.fds[2] = sync.dir_fd;
  g_args.size = sync.bytes.size();
  if (!sync.bytes.empty()) std::memcpy(g_args.bytes, sync.bytes.data(), sync.bytes.size());
  __atomic_store_n(&g_busy, 1, __ATOMIC_RELEASE);

  // Every signal blocked across the clone: the helper starts with the full mask and keeps it,
  // so that no handler of jitsec's ever runs on the shared memory and a Ctrl-C at the end of a
  // run does not cut the sync short.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::clone(HelperMain, g_stack + sizeof g_stack, CLONE_VM | CLONE_CHILD_CLEARTID,
                      nullptr, nullptr, nullptr, &g_busy);
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    __atomic_store_n(&g_busy, 0, __ATOMIC_RELEASE);
    errno = err;
    return -1;
  }
  return pid;
#endif
}

}  // namespace jitsec
