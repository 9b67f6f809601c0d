// A file sync that finishes after jitsec has exited.
//
// `jitsec run` ends with an fdatasync of the audit log: a wait for the disk (0.3-0.5 ms on the
// benchmark machine's virtio disk, more on a busy one) that the command's caller need not pay,
// since the records are already in the page cache and visible to every reader. StartDetachedSync
// clones a helper process that shares jitsec's memory (CLONE_VM: nothing is copied, and the
// teardown of the address space moves to the helper too) but not its descriptor table. The
// helper keeps only the descriptors named here, then, in order:
//   1. fdatasync(data_fd);
//   2. only if that succeeded, pwrite(write_fd, bytes, offset 0) (a file that must never name
//      data the disk may not have, such as the audit log's head);
//   3. fsync(dir_fd), if dir_fd >= 0 (a directory whose new entry must be durable);
// and exits. A lock the caller holds through data_fd's open file description (flock) stays held
// until the helper exits, because flock belongs to the description and the helper's copy keeps
// it open: readers that take the lock see the synced state, never the one in between.
//
// The helper is a process, not a thread: exit signal 0 (no SIGCHLD), every signal blocked, no
// parent-death signal; when jitsec exits it is reparented to init (or the nearest subreaper),
// which reaps it. It makes raw system calls only, on a stack of its own: it touches neither the
// heap nor errno of the process whose memory it shares. A failure of its steps is not reported
// (nobody is left to report it to); the steps after a failed one are skipped.
//
// For a process that exits soon after: a helper that ends first stays a zombie until its parent
// exits or reaps it (waitpid(pid, __WALL)). One helper at a time per process.
#pragma once

#include <sys/types.h>

#include <string_view>

namespace jitsec {

struct DetachedSync {
  int data_fd = -1;        // fdatasync'd first
  int write_fd = -1;       // then `bytes` written at offset 0 (skipped if -1)
  std::string_view bytes;  // copied: the caller's buffer may go away at once (<= kMaxBytes)
  int dir_fd = -1;         // then fsync'd (skipped if -1)

  static constexpr size_t kMaxBytes = 1024;
};

// Starts the helper and returns its pid. Returns -1 with errno set, and starts nothing, when
// the arguments are invalid (EINVAL), a previous helper of this process is still running
// (EBUSY), the architecture has no raw system call stubs here (ENOSYS), or clone fails: the
// caller then does the steps itself.
[[nodiscard]] pid_t StartDetachedSync(const DetachedSync& sync) noexcept;

namespace child {
// The helper's first step: closes every descriptor but those in `keep` (-1 entries ignored,
// any order), so that the caller's pipes and terminal read EOF when jitsec exits, not when the
// helper does. Async-signal-safe; leaves errno alone where the helper exists.
void CloseAllBut(const int (&keep)[3]) noexcept;
}  // namespace child

}  // namespace jitsec
