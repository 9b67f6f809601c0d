// System calls that return -errno instead of setting errno, for code that runs on another
// process's TLS: a helper cloned with CLONE_VM (base/detached_sync.h, the sandbox's namespace
// helper) shares the errno of the process whose memory it shares, which may be running at the
// same time. JITSEC_RAW_SYSCALL is defined where the call is made without libc (x86-64,
// AArch64); elsewhere RawSyscall goes through syscall(2) and does write errno.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace jitsec {

#if defined(__x86_64__)
#define JITSEC_RAW_SYSCALL 1
inline long RawSyscall(long nr, long a = 0, long b = 0, long c = 0, long d = 0) noexcept {
  long ret;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                   : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
#define JITSEC_RAW_SYSCALL 1
inline long RawSyscall(long nr, long a = 0, long b = 0, long c = 0, long d = 0) noexcept {
  register long x8 __asm__("x8") = nr;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  return x0;
}
#else
inline long RawSyscall(long nr, long a = 0, long b = 0, long c = 0, long d = 0) noexcept {
  long r = ::syscall(nr, a, b, c, d);
  return r < 0 ? -long(errno) : r;
}
#endif

}  // namespace jitsec
