// Test helper for the Landlock and seccomp unit tests: runs a function in a forked child that
// has set no_new_privs and applied a layer, and returns the child's exit status. The child
// always leaves through _exit, so neither gtest nor LeakSanitizer (which needs ptrace, denied by
// the filter) runs under the restrictions.
#pragma once

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>

namespace jitsec::sandbox::testing {

// fn returns 0..255; `apply` runs after PR_SET_NO_NEW_PRIVS and returns false with errno set.
// Exit status 200+ are the helper's own failures: 201 no_new_privs, 202 apply.
inline int RunRestricted(const std::function<bool()>& apply, const std::function<int()>& fn) {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(201);
    if (apply && !apply()) ::_exit(202);
    ::_exit(fn() & 0xff);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

// errno of a failed call, 0 on success.
inline int ErrnoOf(long rc) { return rc < 0 ? errno : 0; }

}  // namespace jitsec::sandbox::testing
