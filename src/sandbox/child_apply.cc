#include "sandbox/child_apply.h"

#include "sandbox/exec_message.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/futex.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "base/raw_syscall.h"

#if defined(__SANITIZE_ADDRESS__)
#define JITSEC_CHILD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JITSEC_CHILD_ASAN 1
#endif
#endif
#ifdef JITSEC_CHILD_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace jitsec::sandbox::child {

using ::jitsec::RawSyscall;
using ::jitsec::child::ApplyFdTable;
using ::jitsec::child::ApplyProcessSetup;
using ::jitsec::child::Exec;
using ::jitsec::child::ReportAndExit;

namespace {

// The new root is assembled at the old root's /tmp (as bubblewrap does): nothing of the host is
// written there, and pivot_root detaches the old root (with its /tmp) afterwards.
constexpr const char kBase[] = "/tmp";

// What the init keeps between building the root and attaching the secret files.
struct RootState {
  int root = -1;     // the new root (at kBase), O_PATH
  int staging = -1;  // the staging tmpfs, when the plan needs one
  bool tmpfs_root = true;
};

[[noreturn]] void Fail(int report_fd, ChildStep step) noexcept {
  ReportAndExit(report_fd, step, errno);
}

int OpenAt2(int dirfd, const char* path, uint64_t flags, uint64_t resolve) noexcept {
  struct open_how how {};
  how.flags = flags;
  how.resolve = resolve;
  return int(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

constexpr uint64_t kBeneath = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH;

// "/proc/self/fd/N" into buf (at least 32 bytes).
const char* FdPath(int fd, char* buf) noexcept {
  constexpr const char kPrefix[] = "/proc/self/fd/";
  std::memcpy(buf, kPrefix, sizeof kPrefix);
  char digits[16];
  int n = 0;
  unsigned v = unsigned(fd);
  do {
    digits[n++] = char('0' + v % 10);
    v /= 10;
  } while (v != 0 && n < 15);
  size_t at = sizeof kPrefix - 1;
  while (n > 0) buf[at++] = digits[--n];
  buf[at] = '\0';
  return buf;
}

void CloseQuietly(int fd) noexcept {
  if (fd >= 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
  }
}

// Opens `rel` below root_fd without following any link; when it is missing and `create` is
// set, creates the missing directories (and a final empty file when !is_dir) first. Only ever
// creates inside the new root's own tmpfs layers: below a host bind the path already exists.
int OpenTarget(int root_fd, const char* rel, bool create, bool is_dir) noexcept {
  if (rel[0] == '\0') return OpenAt2(root_fd, ".", O_PATH | O_CLOEXEC, kBeneath);
  int fd = OpenAt2(root_fd, rel, O_PATH | O_CLOEXEC, kBeneath);
  if (fd >= 0 || errno != ENOENT || !create) return fd;
  char buf[PATH_MAX];
  size_t len = std::strlen(rel);
  if (len >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(buf, rel, len + 1);
  int cur = root_fd;
  char* part = buf;
  while (true) {
    char* slash = std::strchr(part, '/');
    bool last = slash == nullptr;
    if (!last) *slash = '\0';
    if (!last || is_dir) {
      if (::mkdirat(cur, part, 0755) != 0 && errno != EEXIST) break;
    } else {
      int f = ::openat(cur, part, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (f < 0) break;
      ::close(f);
    }
    int next = OpenAt2(cur, part, O_PATH | O_CLOEXEC, kBeneath);
    if (cur != root_fd) CloseQuietly(cur);
    if (next < 0) return -1;
    cur = next;
    if (last) return cur;
    part = slash + 1;
  }
  if (cur != root_fd) CloseQuietly(cur);
  return -1;
}

// dir + "/" + name into buf (PATH_MAX). False (ENAMETOOLONG) when it does not fit.
bool JoinPath(const char* dir, const char* name, char* buf) noexcept {
  size_t dlen = std::strlen(dir);
  size_t nlen = std::strlen(name);
  if (dlen + 1 + nlen + 1 > PATH_MAX) {
    errno = ENAMETOOLONG;
    return false;
  }
  std::memcpy(buf, dir, dlen);
  size_t at = dlen;
  if (dlen > 0 && buf[dlen - 1] != '/') buf[at++] = '/';
  std::memcpy(buf + at, name, nlen + 1);
  return true;
}

// A detached, recursive clone of a host path (no link followed anywhere in it).
int CloneTree(const char* path, bool read_only) noexcept {
  int src = OpenAt2(AT_FDCWD, path, O_PATH | O_CLOEXEC, RESOLVE_NO_SYMLINKS);
  if (src < 0) return -1;
  int tree = int(::open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
                                          AT_EMPTY_PATH));
  CloseQuietly(src);
  if (tree < 0) return -1;
  if (read_only) {
    struct mount_attr attr {};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if (::mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) {
      CloseQuietly(tree);
      return -1;
    }
  }
  return tree;
}

bool Attach(int tree, int target) noexcept {
  return ::move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) ==
         0;
}

// Phase 1: every host source is cloned before the new root hides the old /tmp.
bool CloneSources(const PreparedSandbox::Impl& sb, int* scratch) noexcept {
  size_t k = 0;
  char buf[PATH_MAX];
  for (const auto& op : sb.mounts.ops) {
    switch (op.kind) {
      case MountKind::kBindReadOnly:
      case MountKind::kBindWritable:
      case MountKind::kProtect:
      case MountKind::kPin: {
        bool ro = op.kind != MountKind::kBindWritable && op.kind != MountKind::kPin;
        scratch[k] = CloneTree(op.path.c_str(), ro);
        // A protected or pinned path that vanished since Prepare has nothing left to hold.
        bool may_vanish = op.kind == MountKind::kProtect || op.kind == MountKind::kPin;
        if (scratch[k] < 0 && !(may_vanish && errno == ENOENT)) return false;
        ++k;
        break;
      }
      case MountKind::kFreeze: {
        scratch[k] = CloneTree(op.path.c_str(), /*read_only=*/true);
        if (scratch[k] < 0) return false;
        ++k;
        for (const auto& name : op.writable_entries) {
          if (!JoinPath(op.path.c_str(), name.c_str(), buf)) return false;
          scratch[k] = CloneTree(buf, /*read_only=*/false);
          // Links cannot carry a mount, and an entry removed meanwhile needs none.
          if (scratch[k] < 0 && errno != ELOOP && errno != ENOENT) return false;
          ++k;
        }
        break;
      }
      case MountKind::kMirror:
        for (const auto& e : op.mirror) {
          scratch[k] = -1;
          if (e.type != MirrorEntry::Type::kLink) {
            if (!JoinPath(op.path.c_str(), e.name.c_str(), buf)) return false;
            scratch[k] = CloneTree(buf, !op.mirror_writable);
            if (scratch[k] < 0 && errno != ELOOP && errno != ENOENT) return false;
          }
          ++k;
        }
        break;
      case MountKind::kSecret:
        scratch[k++] = -1;  // filled by CopySecrets once the staging tmpfs exists
        break;
      case MountKind::kPrivateTmp:
      case MountKind::kDenyDir:
      case MountKind::kDenyFile: break;
    }
  }
  return true;
}

// The fd of the command that holds the memfd delivered for `target`, or -1.
int SourceFor(const ExecView& spec, int target) noexcept {
  for (size_t i = 0; i < spec.fd_count; ++i) {
    if (spec.fds[i].target == target) return spec.fds[i].source;
  }
  return -1;
}

// Copies the memfd of a `file: {path}` delivery into a 0400 file of the staging tmpfs (reached
// through its descriptor: the new root covers it by now) and returns a read-only clone of it.
int CopySecret(int staging, int src, size_t slot) noexcept {
  char name[32] = "secret-";
  char num[32];
  std::memcpy(name + 7, FdPath(int(slot), num) + 14, 12);
  int f = ::openat(staging, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
  if (f < 0) return -1;
  char buf[4096];
  off_t off = 0;
  bool ok = true;
  while (ok) {
    ssize_t n = ::pread(src, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    for (ssize_t done = 0; ok && done < n;) {
      ssize_t w = ::write(f, buf + done, size_t(n - done));
      if (w < 0 && errno == EINTR) continue;
      ok = w > 0;
      done += w > 0 ? w : 0;
    }
    off += n;
  }
  ::explicit_bzero(buf, sizeof buf);
  CloseQuietly(f);
  if (!ok) return -1;
  int tree = int(::open_tree(staging, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (tree < 0) return -1;
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  if (::mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
    CloseQuietly(tree);
    return -1;
  }
  return tree;
}

bool MountAtFd(const char* source, int target, const char* type, unsigned long flags,
               const char* data) noexcept {
  char path[32];
  return ::mount(source, FdPath(target, path), type, flags, data) == 0;
}

bool SetupDev(int root_fd) noexcept {
  int target = OpenTarget(root_fd, "dev", /*create=*/true, /*is_dir=*/true);
  if (target < 0) return false;
  bool ok = MountAtFd("tmpfs", target, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755");
  CloseQuietly(target);
  if (!ok) return false;
  int dev = OpenAt2(root_fd, "dev", O_PATH | O_DIRECTORY | O_CLOEXEC, kBeneath);
  if (dev < 0) return false;
  static constexpr const char* kNodes[][2] = {
      {"/dev/null", "/tmp/dev/null"},       {"/dev/zero", "/tmp/dev/zero"},
      {"/dev/full", "/tmp/dev/full"},       {"/dev/random", "/tmp/dev/random"},
      {"/dev/urandom", "/tmp/dev/urandom"}, {"/dev/tty", "/tmp/dev/tty"},
  };
  for (const auto& node : kNodes) {
    const char* name = node[0] + 5;
    int f = ::openat(dev, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (f < 0) goto fail;
    ::close(f);
    if (::mount(node[0], node[1], nullptr, MS_BIND, nullptr) != 0) {
      if (errno == ENOENT) continue;  // the host has no such node (some containers)
      goto fail;
    }
  }
  if (::mkdirat(dev, "pts", 0755) != 0 || ::mkdirat(dev, "shm", 01777) != 0) goto fail;
  if (::mount("devpts", "/tmp/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0666,mode=0620") != 0) {
    goto fail;
  }
  if (::mount("tmpfs", "/tmp/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
    goto fail;
  }
  if (::symlinkat("pts/ptmx", dev, "ptmx") != 0 || ::symlinkat("/proc/self/fd", dev, "fd") != 0 ||
      ::symlinkat("/proc/self/fd/0", dev, "stdin") != 0 ||
      ::symlinkat("/proc/self/fd/1", dev, "stdout") != 0 ||
      ::symlinkat("/proc/self/fd/2", dev, "stderr") != 0) {
    goto fail;
  }
  CloseQuietly(dev);
  return true;
fail:
  CloseQuietly(dev);
  return false;
}

// Phase 2: the new root, /dev and /proc, everything but the secret files (which need the
// command's descriptors). Returns false with errno set.
bool BuildRoot(const PreparedSandbox::Impl& sb, int* scratch, RootState* st) noexcept {
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  if (!CloneSources(sb, scratch)) return false;

  // The staging tmpfs holds the empty mode-000 file that denied files are covered with and the
  // copies of secret files. It is mounted at the old /tmp and then hidden under the new root;
  // only its descriptor is used afterwards.
  int empty = -1;
  if (sb.needs_staging) {
    if (::mount("tmpfs", kBase, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") != 0) {
      return false;
    }
    st->staging = ::open(kBase, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->staging < 0) return false;
    int f = ::openat(st->staging, "empty", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (f < 0) return false;
    ::close(f);
    empty = ::openat(st->staging, "empty", O_PATH | O_CLOEXEC);
    if (empty < 0) return false;
  }

  // The new root: the clone of "/" when it is a tree, else an empty tmpfs (made read-only last).
  const auto& ops = sb.mounts.ops;
  size_t first = 0;
  size_t k = 0;
  bool tmpfs_root = true;
  if (!ops.empty() && ops[0].path == "/" &&
      (ops[0].kind == MountKind::kBindReadOnly || ops[0].kind == MountKind::kBindWritable)) {
    if (::move_mount(scratch[0], "", AT_FDCWD, kBase, MOVE_MOUNT_F_EMPTY_PATH) != 0) return false;
    first = 1;
    k = 1;
    tmpfs_root = false;
  } else if (::mount("tmpfs", kBase, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0) {
    return false;
  }
  int root = ::open(kBase, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return false;

  for (size_t i = first; i < ops.size(); ++i) {
    const MountOp& op = ops[i];
    const char* rel = sb.rels[i].c_str();
    int target = -1;
    bool ok = true;
    switch (op.kind) {
      case MountKind::kBindReadOnly:
      case MountKind::kBindWritable:
        target = OpenTarget(root, rel, /*create=*/true, op.is_dir);
        ok = target >= 0 && Attach(scratch[k], target);
        ++k;
        break;
      case MountKind::kProtect:
      case MountKind::kPin: {
        int tree = scratch[k++];
        if (tree < 0) break;  // vanished since Prepare
        target = OpenTarget(root, rel, false, op.is_dir);
        if (target < 0 && errno == ENOENT) break;  // not visible inside
        ok = target >= 0 && Attach(tree, target);
        break;
      }
      case MountKind::kPrivateTmp:
        target = OpenTarget(root, rel, true, true);
        ok = target >= 0 &&
             MountAtFd("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
        break;
      case MountKind::kFreeze: {
        target = OpenTarget(root, rel, false, true);
        ok = target >= 0 && Attach(scratch[k], target);
        ++k;
        char buf[PATH_MAX];
        for (const auto& name : op.writable_entries) {
          int tree = scratch[k++];
          if (!ok || tree < 0) continue;
          size_t rlen = std::strlen(rel);
          std::memcpy(buf, rel, rlen);
          size_t at = rlen;
          if (rlen > 0) buf[at++] = '/';
          std::memcpy(buf + at, name.c_str(), name.size() + 1);
          int t = OpenAt2(root, buf, O_PATH | O_CLOEXEC, kBeneath);
          ok = t >= 0 && Attach(tree, t);
          CloseQuietly(t);
        }
        break;
      }
      case MountKind::kDenyDir:
        target = OpenTarget(root, rel, false, true);
        if (target < 0 && errno == ENOENT) break;
        ok = target >= 0 && MountAtFd("tmpfs", target, "tmpfs",
                                      MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                      "mode=000,size=4k,nr_inodes=1");
        break;
      case MountKind::kMirror: {
        target = OpenTarget(root, rel, false, true);
        ok = target >= 0 && MountAtFd("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
        int dir = -1;
        if (ok) {
          dir = rel[0] == '\0' ? ::open(kBase, O_PATH | O_DIRECTORY | O_CLOEXEC)
                                : OpenAt2(root, rel, O_PATH | O_DIRECTORY | O_CLOEXEC, kBeneath);
          ok = dir >= 0;
        }
        for (const auto& e : op.mirror) {
          int tree = scratch[k++];  // closed with the others after the loop
          if (!ok) continue;
          const char* name = e.name.c_str();
          if (e.type == MirrorEntry::Type::kLink) {
            ok = ::symlinkat(e.link_target.c_str(), dir, name) == 0;
            continue;
          }
          if (tree < 0) continue;
          if (e.type == MirrorEntry::Type::kDir) {
            ok = ::mkdirat(dir, name, 0755) == 0;
          } else {
            int f = ::openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            ok = f >= 0;
            CloseQuietly(f);
          }
          int t = ok ? OpenAt2(dir, name, O_PATH | O_CLOEXEC, kBeneath) : -1;
          ok = ok && t >= 0 && Attach(tree, t);
          CloseQuietly(t);
        }
        for (const auto& file : op.create_files) {
          if (!ok) break;
          int t = OpenTarget(dir, file.c_str(), /*create=*/true, /*is_dir=*/false);
          ok = t >= 0;
          CloseQuietly(t);
        }
        if (ok) {
          struct mount_attr attr {};
          attr.attr_set = MOUNT_ATTR_RDONLY;
          ok = ::mount_setattr(dir, "", AT_EMPTY_PATH, &attr, sizeof attr) == 0;
        }
        CloseQuietly(dir);
        if (ok && rel[0] == '\0') {  // the root itself is now the mirror
          CloseQuietly(root);
          root = ::open(kBase, O_PATH | O_DIRECTORY | O_CLOEXEC);
          ok = root >= 0;
        }
        break;
      }
      case MountKind::kSecret:
        ++k;  // AttachSecrets, once the command's descriptors are here (nothing can cover a file)
        break;
      case MountKind::kDenyFile: {
        target = OpenTarget(root, rel, false, false);
        if (target < 0 && errno == ENOENT) break;
        int tree = target < 0 ? -1
                              : int(::open_tree(empty, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                                               AT_EMPTY_PATH));
        struct mount_attr attr {};
        attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                        MOUNT_ATTR_NOEXEC;
        ok = tree >= 0 && ::mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) == 0 &&
             Attach(tree, target);
        CloseQuietly(tree);
        break;
      }
    }
    CloseQuietly(target);
    if (!ok) return false;
  }
  // Every slot, including the root's (scratch[0] when "/" is a tree), is closed exactly once.
  for (size_t i = 0; i < k; ++i) CloseQuietly(scratch[i]);
  CloseQuietly(empty);

  st->root = root;
  st->tmpfs_root = tmpfs_root;
  if (!SetupDev(root)) return false;
  int proc = OpenTarget(root, "proc", /*create=*/true, /*is_dir=*/true);
  if (proc < 0) return false;
  bool ok = MountAtFd("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  CloseQuietly(proc);
  return ok;
}

// Phase 3: the secret files of `file: {path}` deliveries, copied from the command's memfds (they
// need the staging tmpfs of the old root, so they come before the pivot). Returns false with
// errno set.
bool AttachSecrets(const PreparedSandbox::Impl& sb, const ExecView& spec, RootState* st) noexcept {
  size_t slot = 0;
  for (size_t i = 0; i < sb.mounts.ops.size(); ++i) {
    const MountOp& op = sb.mounts.ops[i];
    if (op.kind != MountKind::kSecret) {
      slot += SourceSlots(op);
      continue;
    }
    int src = SourceFor(spec, op.secret_fd_target);
    if (src < 0 || st->staging < 0) {
      errno = EBADF;
      return false;
    }
    int tree = CopySecret(st->staging, src, slot++);
    int target = tree < 0 ? -1 : OpenTarget(st->root, sb.rels[i].c_str(), /*create=*/true,
                                            /*is_dir=*/false);
    bool ok = target >= 0 && Attach(tree, target);
    CloseQuietly(target);
    CloseQuietly(tree);
    if (!ok) return false;
  }
  return true;
}

// Phase 4: pivot_root into the new root and detach the old one. Returns false with errno set.
bool PivotIntoRoot(RootState* st) noexcept {
  CloseQuietly(st->staging);
  st->staging = -1;
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching "." removes it.
  if (::fchdir(st->root) != 0) return false;
  CloseQuietly(st->root);
  st->root = -1;
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return false;
  if (::umount2(".", MNT_DETACH) != 0) return false;
  if (::chdir("/") != 0) return false;
  if (st->tmpfs_root) {
    struct mount_attr attr {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof attr) != 0) return false;
  }
  return true;
}

// Landlock rules for what only exists inside: the private /tmp, /dev and /proc.
bool AddInsideRules(const PreparedSandbox::Impl& sb, int ruleset_fd) noexcept {
  if (sb.landlock_abi == 0) return true;
  struct {
    const char* path;
    uint64_t access;
  } const rules[] = {{"/tmp", sb.landlock_full}, {"/dev", sb.landlock_full},
                     {"/proc", sb.landlock_proc}};
  for (const auto& r : rules) {
    int fd = ::open(r.path, O_PATH | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      return false;
    }
    bool ok = AddLandlockRule(sb.landlock_abi, ruleset_fd, fd, r.access);
    CloseQuietly(fd);
    if (!ok) return false;
  }
  for (const auto& op : sb.mounts.ops) {
    if (op.kind != MountKind::kSecret) continue;
    int fd = ::open(op.path.c_str(), O_PATH | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return false;
    bool ok = AddLandlockRule(sb.landlock_abi, ruleset_fd, fd, sb.landlock_read);
    CloseQuietly(fd);
    if (!ok) return false;
  }
  return true;
}

// Brings the loopback of the caller's network namespace up. Raw system calls: it runs in the
// Prestart helper, on jitsec's TLS. Returns 0 or -errno.
__attribute__((no_sanitize("address", "undefined"))) long LoopbackUp() noexcept {
  long s = RawSyscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return s;
  struct ifreq ifr {};
  ifr.ifr_name[0] = 'l';
  ifr.ifr_name[1] = 'o';
  ifr.ifr_flags = IFF_UP | IFF_RUNNING;
  long r = RawSyscall(SYS_ioctl, s, SIOCSIFFLAGS, long(&ifr));
  (void)RawSyscall(SYS_close, s);
  return r < 0 ? r : 0;
}

// Publishes a failure: whatever jitsec posted (kClone, kAbort) is answered by it.
__attribute__((no_sanitize("address", "undefined"))) void PrestartFail(Prestart* p, ChildStep step,
                                                                       long err) noexcept {
  p->step = step;
  p->err = int(-err);
  __atomic_store_n(&p->state, int(PrestartState::kFailed), __ATOMIC_RELEASE);
  (void)RawSyscall(SYS_futex, long(&p->state), FUTEX_WAKE_PRIVATE, 1);
}

// The Prestart helper (child_apply.h). Returns to glibc's clone wrapper, which exits: nothing
// noreturn runs on this stack, which the sanitizers do not know, in the helper's own life.
__attribute__((no_sanitize("address", "undefined"))) int PrestartMain(void* arg) noexcept {
  auto* p = static_cast<Prestart*>(arg);
  // Dies with jitsec; a jitsec already gone (this process reparented) gets no namespaces.
  if (long r = RawSyscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL); r < 0) {
    PrestartFail(p, ChildStep::kParentDeath, r);
    return 0;
  }
  if (RawSyscall(SYS_getppid) != p->parent) return 0;
  if (long r = RawSyscall(SYS_unshare, CLONE_NEWUSER); r < 0) {
    PrestartFail(p, ChildStep::kUserNamespace, r);
    return 0;
  }
  // In the new user namespace the helper has every capability, maps or not (the init writes
  // them): enough to make the network namespace, which the new user namespace owns.
  if (p->network) {
    long r = RawSyscall(SYS_unshare, CLONE_NEWNET);
    if (r == 0) r = LoopbackUp();
    if (r < 0) {
      PrestartFail(p, ChildStep::kNetwork, r);
      return 0;
    }
  }
  if (PrestartWait(p, PrestartState::kStarting) != PrestartState::kClone) return 0;
  const InitArgs& init = *p->init;
  // clone3 refuses an exit signal with CLONE_PARENT: the init's is the helper's (SIGCHLD).
  struct clone_args ca {};
  ca.flags = CLONE_PARENT | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_PIDFD;
  ca.pidfd = uint64_t(uintptr_t(&p->init_pidfd));
  long pid = RawSyscall(SYS_clone3, long(&ca), long(sizeof ca));
  if (pid == -ENOSYS) {  // before Linux 5.3: clone, the pidfd where the parent tid would go
    pid = RawSyscall(SYS_clone, long(ca.flags), 0, long(&p->init_pidfd), 0);
  }
  if (pid == 0) {
    // The init: a copy of jitsec's memory, on a copy of this stack.
#ifdef JITSEC_CHILD_ASAN
    __sanitizer_start_switch_fiber(nullptr, static_cast<char*>(p->stack_top) - ChildStack::kSize,
                                   ChildStack::kSize);
    __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
    for (int fd : init.jitsec_ends) {
      if (fd >= 0) (void)RawSyscall(SYS_close, fd);
    }
    RunInit(init);
  }
  p->init_pid = pid_t(pid);
  (void)PrestartAdvance(p, PrestartState::kClone, PrestartState::kCloned);
  return 0;
}

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGUSR1, SIGUSR2};

[[noreturn]] void Supervise(pid_t command, const sigset_t& set, int status_fd) noexcept {
  int status = 0;
  while (true) {
    siginfo_t info;
    int sig = ::sigwaitinfo(&set, &info);
    if (sig < 0) continue;  // EINTR
    if (sig != SIGCHLD) {
      (void)::kill(command, sig);
      continue;
    }
    bool done = false;
    while (true) {
      int st = 0;
      pid_t p = ::waitpid(-1, &st, WNOHANG);
      if (p <= 0) break;
      if (p == command) {
        status = st;
        done = true;
      }
    }
    if (done) break;
  }
  // The command is gone: nothing else of the namespace may outlive it.
  (void)::kill(-1, SIGKILL);
  while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
  }
  // Everything in the namespace is dead: jitsec may go on (audit, revoke) while this process
  // and the namespaces are torn down.
  const int32_t code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  ssize_t w;
  do {
    w = ::write(status_fd, &code, sizeof code);
  } while (w < 0 && errno == EINTR);
  ::_exit(code);
}

// The report pipe's read end is jitsec's alone (the init closed its copy before RunInit). A
// dying process closes its descriptors before it reparents its children and sends their
// PR_SET_PDEATHSIG, so once the prctl has taken effect either the signal comes or this sees
// the pipe without a reader (POLLERR on the write end).
bool ParentGone(int report_fd) noexcept {
  struct pollfd p = {report_fd, POLLOUT, 0};
  int n;
  do {
    n = ::poll(&p, 1, 0);
  } while (n < 0 && errno == EINTR);
  return n > 0 && (p.revents & POLLERR) != 0;
}

// Writes all of text to fd (one write: the kernel takes a map in one piece). False with errno.
bool WriteMap(int fd, const char* text, size_t size) noexcept {
  ssize_t n;
  do {
    n = ::write(fd, text, size);
  } while (n < 0 && errno == EINTR);
  if (n >= 0 && size_t(n) != size) errno = EIO;
  return n >= 0 && size_t(n) == size;
}

// The init maps its own ids, as `unshare --map-root-user` does: a process in a new user
// namespace may map its euid and egid to themselves with one line each once setgroups is
// denied. jitsec is not dumpable, and neither is this copy of it (the flag is copied with the
// address space); but then its /proc/self/{setgroups,uid_map,gid_map} belong to root of the
// initial namespace and an unprivileged init cannot open them. So it is dumpable only while it
// opens the three files, and not dumpable again before it writes them (the writes check the
// opener's credentials and capabilities, not the files' owner); nothing else happens in that
// window. A copy of jitsec's memory (which may hold issued secrets) must not stay open to a
// ptrace or /proc/PID/mem of the same user: failing to drop the flag again is fatal.
bool MapOwnIds(const InitArgs& a) noexcept {
  if (::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) return false;
  int setgroups = ::open("/proc/self/setgroups", O_WRONLY | O_CLOEXEC);
  int uid_map = setgroups < 0 ? -1 : ::open("/proc/self/uid_map", O_WRONLY | O_CLOEXEC);
  int gid_map = uid_map < 0 ? -1 : ::open("/proc/self/gid_map", O_WRONLY | O_CLOEXEC);
  int saved = errno;
  bool ok = ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0;  // on failure the init reports and exits
  if (ok) errno = saved;
  // The order is the kernel's: setgroups must be denied before an unprivileged gid_map.
  ok = ok && gid_map >= 0 && WriteMap(setgroups, "deny", 4) &&
       WriteMap(uid_map, a.uid_map.text, a.uid_map.size) &&
       WriteMap(gid_map, a.gid_map.text, a.gid_map.size);
  saved = errno;
  CloseQuietly(setgroups);
  CloseQuietly(uid_map);
  CloseQuietly(gid_map);
  errno = saved;
  return ok;
}

struct CommandArgs {
  const PreparedSandbox::Impl* sandbox;
  const ExecView* spec;
  const Confinement* confinement;  // landlock_fd raised above the command's targets
  int report_fd;
};

int CommandMain(void* p) {
  const auto* c = static_cast<const CommandArgs*>(p);
  RunCommand(*c->sandbox, *c->spec, *c->confinement, c->report_fd);
}

struct PlainArgs {
  const ExecView* spec;
  int report_fd;
};

int PlainMain(void* p) {
  const auto* c = static_cast<const PlainArgs*>(p);
  RunPlain(*c->spec, c->report_fd);
}

// The first frame of a CloneVfork child. Under AddressSanitizer the thread (shared with the
// parent) is told that it now runs on the child stack, or every call of a noreturn function
// (exec, _exit) would print a warning about an unknown stack on the command's stderr; the
// parent's stack bounds come back here for the parent to switch back (the only thing the child
// writes for the parent to read).
struct VforkStart {
  int (*fn)(void*);
  void* arg;
#ifdef JITSEC_CHILD_ASAN
  bool switched = false;
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
#endif
};

int VforkTrampoline(void* p) {
  auto* start = static_cast<VforkStart*>(p);
#ifdef JITSEC_CHILD_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &start->stack_bottom, &start->stack_size);
  start->switched = true;
#endif
  return start->fn(start->arg);
}

}  // namespace

__attribute__((no_sanitize("address", "undefined"))) bool PrestartAdvance(
    Prestart* p, PrestartState from, PrestartState to) noexcept {
  int expected = int(from);
  if (!__atomic_compare_exchange_n(&p->state, &expected, int(to), false, __ATOMIC_ACQ_REL,
                                   __ATOMIC_ACQUIRE)) {
    return false;
  }
  (void)RawSyscall(SYS_futex, long(&p->state), FUTEX_WAKE_PRIVATE, 1);
  return true;
}

__attribute__((no_sanitize("address", "undefined"))) PrestartState PrestartWait(
    Prestart* p, PrestartState from) noexcept {
  int now;
  while ((now = __atomic_load_n(&p->state, __ATOMIC_ACQUIRE)) == int(from)) {
    (void)RawSyscall(SYS_futex, long(&p->state), FUTEX_WAIT_PRIVATE, int(from), 0);
  }
  return PrestartState(now);
}

pid_t StartPrestart(Prestart* p, void* stack_top) noexcept {
  if (stack_top == nullptr) {
    errno = EINVAL;
    return -1;
  }
  p->parent = ::getpid();
  p->stack_top = stack_top;
  return ::clone(PrestartMain, stack_top, CLONE_VM | CLONE_FILES | SIGCHLD, p);
}

IdMapLine FormatIdMapLine(unsigned id) noexcept {
  IdMapLine line;
  char digits[16];
  int n = 0;
  do {
    digits[n++] = char('0' + id % 10);
    id /= 10;
  } while (id != 0);
  for (int copy = 0; copy < 2; ++copy) {
    for (int i = n; i > 0;) line.text[line.size++] = digits[--i];
    line.text[line.size++] = ' ';
  }
  line.text[line.size++] = '1';
  return line;
}

ChildStack::ChildStack(ChildStack&& other) noexcept : base_(other.base_) { other.base_ = nullptr; }

ChildStack& ChildStack::operator=(ChildStack&& other) noexcept {
  if (this != &other) {
    reset();
    base_ = other.base_;
    other.base_ = nullptr;
  }
  return *this;
}

namespace {
size_t PageSize() noexcept {
  long p = ::sysconf(_SC_PAGESIZE);
  return p > 0 ? size_t(p) : 4096;
}
}  // namespace

bool ChildStack::Allocate() noexcept {
  reset();
  const size_t guard = PageSize();
  void* p = ::mmap(nullptr, guard + kSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  if (::mprotect(p, guard, PROT_NONE) != 0) {
    int saved = errno;
    ::munmap(p, guard + kSize);
    errno = saved;
    return false;
  }
  base_ = p;
  return true;
}

void ChildStack::reset() noexcept {
  if (base_ == nullptr) return;
  int saved = errno;
#ifdef JITSEC_CHILD_ASAN
  // A child's frames left their redzones poisoned; the next mapping here starts clean.
  __asan_unpoison_memory_region(static_cast<char*>(base_) + PageSize(), kSize);
#endif
  ::munmap(base_, PageSize() + kSize);
  errno = saved;
  base_ = nullptr;
}

void* ChildStack::top() const {
  return base_ == nullptr ? nullptr : static_cast<char*>(base_) + PageSize() + kSize;
}

pid_t CloneVfork(int (*fn)(void*), void* arg, void* stack_top, int extra_flags,
                 int* pidfd) noexcept {
  if (stack_top == nullptr || (extra_flags & CLONE_SIGHAND) != 0) {
    errno = EINVAL;
    return -1;
  }
  VforkStart start{fn, arg};
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  if (::sigprocmask(SIG_SETMASK, &all, &old) != 0) return -1;
#ifdef JITSEC_CHILD_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, static_cast<char*>(stack_top) - ChildStack::kSize,
                                 ChildStack::kSize);
#endif
  pid_t pid = ::clone(VforkTrampoline, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD | extra_flags,
                      &start, pidfd);
  int saved = errno;
#ifdef JITSEC_CHILD_ASAN
  if (!start.switched) {  // no child got as far as its first line: end the switch begun above
    __sanitizer_finish_switch_fiber(nullptr, &start.stack_bottom, &start.stack_size);
  }
  void* unused = nullptr;  // back to this stack, as the child left the thread on its own
  __sanitizer_start_switch_fiber(&unused, start.stack_bottom, start.stack_size);
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
  (void)::sigprocmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return pid;
}

bool DropCapabilities(int cap_last) noexcept {
  // Locked securebits: uid 0 inside (jitsec run as root) gains nothing from exec or setuid.
  if (::prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                                     SECBIT_NO_CAP_AMBIENT_RAISE |
                                     SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
              0, 0, 0) != 0) {
    return false;
  }
  for (int c = 0; c <= cap_last; ++c) {
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) return false;
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return false;
  struct __user_cap_header_struct header {};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  struct __user_cap_data_struct data[2] {};
  return ::syscall(SYS_capset, &header, data) == 0;
}

void RunCommand(const PreparedSandbox::Impl& sb, const ExecView& spec, const Confinement& confinement,
                int report_fd) noexcept {
  if (!ApplyFdTable(spec)) Fail(report_fd, ChildStep::kFdTable);
  if (!::jitsec::child::ResetSignals()) Fail(report_fd, ChildStep::kSignals);
  if (ChildStep s = ApplyProcessSetup(spec); s != ChildStep::kNone) Fail(report_fd, s);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Fail(report_fd, ChildStep::kNoNewPrivs);
  if (!DropCapabilities(sb.cap_last)) Fail(report_fd, ChildStep::kCapabilities);
  // Landlock as planned: a ruleset the plan needs but the command did not bring is a failure.
  if (sb.landlock_abi != 0 &&
      (confinement.landlock_fd < 0 || !ApplyLandlock(sb.landlock_abi, confinement.landlock_fd))) {
    Fail(report_fd, ChildStep::kLandlock);
  }
  if (sb.plan.seccomp && !ApplySeccomp(confinement.filter, confinement.filter_len)) {
    Fail(report_fd, ChildStep::kSeccomp);
  }
  Exec(spec, report_fd);
}

void RunInit(const InitArgs& a) noexcept {
  const PreparedSandbox::Impl& sb = *a.sandbox;
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) Fail(a.report_fd, ChildStep::kParentDeath);
  // getppid() is 0 in a new PID namespace, so the usual check is on the report pipe: jitsec
  // holds its only read end, which is closed before an exiting process reparents its children.
  if (ParentGone(a.report_fd)) ::_exit(125);
  // Out of the caller's process group: signals from the caller's terminal (Ctrl-C, SIGWINCH,
  // hang-up) go to the terminal's foreground group, which is jitsec's; jitsec forwards them
  // once, and the init must not get them too. A process group is enough for that (the command
  // gets a session of its own); setsid would also make the scheduler a new autogroup, ~0.1 ms.
  if (::setpgid(0, 0) != 0) Fail(a.report_fd, ChildStep::kSession);
  if (!MapOwnIds(a)) Fail(a.report_fd, ChildStep::kUserNamespace);

  RootState root;
  if (!BuildRoot(sb, a.scratch, &root)) Fail(a.report_fd, ChildStep::kMounts);
  // The command's terminal, when jitsec asked for one, comes from this sandbox's own devpts: a
  // pty of the host's is not mounted here, so ttyname() (`tty`, GPG_TTY=$(tty)) would find no
  // name for it. Its master goes to jitsec (exec_message.h); a failure leaves jitsec to use a
  // pty of its own.
  if (a.terminal) {
    int master = OpenAt2(root.root, "dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC, kBeneath);
    SendTerminal(a.control_fd, master);
    CloseQuietly(master);
  }
  if (::sethostname("jitsec", 6) != 0) Fail(a.report_fd, ChildStep::kHostname);
  // Without `file: {path}` deliveries nothing more comes from the old root: pivot before the
  // command arrives (its detach is ~0.2 ms of work off the path to the command).
  if (!sb.has_secret_files && !PivotIntoRoot(&root)) Fail(a.report_fd, ChildStep::kMounts);

  // Everything so far overlaps jitsec's issuance. Now the command: its descriptors, argv and
  // environment, sent once the credentials exist; a closed socket means the run ended first.
  ExecView command;
  Confinement confinement;
  switch (ReceiveCommand(a.control_fd, &command, &confinement)) {
    case Received::kCommand: break;
    case Received::kClosed: ::_exit(125);
    case Received::kError: Fail(a.report_fd, ChildStep::kCommand);
  }
  CloseQuietly(a.control_fd);
  // The report pipe and the Landlock ruleset (both opened before the command's descriptors
  // were known) must outlive the command's descriptor shuffle until exec: raise them above it.
  int report_fd = ::fcntl(a.report_fd, F_DUPFD_CLOEXEC, command.max_target_fd() + 1);
  if (report_fd < 0) Fail(a.report_fd, ChildStep::kCommand);
  CloseQuietly(a.report_fd);
  if (confinement.landlock_fd >= 0) {
    int raised = ::fcntl(confinement.landlock_fd, F_DUPFD_CLOEXEC, command.max_target_fd() + 1);
    if (raised < 0) Fail(report_fd, ChildStep::kLandlock);
    CloseQuietly(confinement.landlock_fd);
    confinement.landlock_fd = raised;
  }
  command.parent_pid = 1;  // inside the PID namespace the command's parent is the init

  if (sb.has_secret_files &&
      (!AttachSecrets(sb, command, &root) || !PivotIntoRoot(&root))) {
    Fail(report_fd, ChildStep::kMounts);
  }
  if (!AddInsideRules(sb, confinement.landlock_fd)) Fail(report_fd, ChildStep::kLandlock);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (int s : kForwarded) sigaddset(&set, s);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) Fail(report_fd, ChildStep::kSignals);

  // The command shares the init's memory until it execs (CloneVfork): it only reads `command`
  // and sb, and writes nothing but its own stack, errno and the command's fd scratch, which the
  // init never reads. The init resumes once the command has exec'd or exited.
  CommandArgs args{&sb, &command, &confinement, report_fd};
  pid_t pid = CloneVfork(CommandMain, &args, a.command_stack_top, 0, nullptr);
  if (pid < 0) Fail(report_fd, ChildStep::kFork);
  // The command has exec'd (or failed to): the init, which lives as long as the run, keeps no
  // copy of its environment, where `unsafe: true` deliveries put secret values.
  for (char* const* e = command.envp; e != nullptr && *e != nullptr; ++e) {
    explicit_bzero(*e, std::strlen(*e));
  }
  // The init keeps nothing of jitsec's but the status pipe: the report pipe's EOF then means
  // the command exec'd, and the output pipes close when the command's side does.
  if (a.status_fd > 0) (void)::syscall(SYS_close_range, 0U, unsigned(a.status_fd) - 1, 0U);
  (void)::syscall(SYS_close_range, unsigned(a.status_fd) + 1, ~0U, 0U);
  Supervise(pid, set, a.status_fd);
}

void RunPlain(const ExecView& spec, int report_fd) noexcept {
  if (!ApplyFdTable(spec)) Fail(report_fd, ChildStep::kFdTable);
  if (!::jitsec::child::ResetSignals()) Fail(report_fd, ChildStep::kSignals);
  if (ChildStep s = ApplyProcessSetup(spec); s != ChildStep::kNone) Fail(report_fd, s);
  Exec(spec, report_fd);
}

pid_t SpawnPlain(const ExecView& spec, int report_fd, int* pidfd) noexcept {
  ChildStack stack;
  if (!stack.Allocate()) return -1;
  PlainArgs args{&spec, report_fd};
  *pidfd = -1;
  pid_t pid = CloneVfork(PlainMain, &args, stack.top(), CLONE_PIDFD, pidfd);
  if (pid < 0 && errno == EINVAL) {  // a kernel that refuses CLONE_PIDFD (before 5.2)
    *pidfd = -1;
    pid = CloneVfork(PlainMain, &args, stack.top(), 0, nullptr);
  }
  return pid;  // the stack is unmapped here: the child has exec'd or exited
}

}  // namespace jitsec::sandbox::child
