/* probe_pid1 [child]: tries to get at the descriptors, memory and environment of PID 1 (inside
 * jitsec's sandbox: the PID namespace's init, a fork of jitsec that holds jitsec's status pipe)
 * and prints one line per attempt, "WHAT: ok" or "WHAT: ERRNO-NAME":
 *   comm                 the target's /proc/PID/comm (readable by anyone)
 *   opendir fd           /proc/PID/fd
 *   listed fds: N        how many descriptors the listing shows (only when it could be read)
 *   readlink fd/SET      /proc/PID/fd/N for each N in SET (one line if all agree, else one per N)
 *   open fd/SET          open(/proc/PID/fd/N, O_RDONLY) likewise
 *   open mem, open environ
 *   pidfd_open           pidfd_open(PID, 0)
 *   pidfd_getfd SET      pidfd_getfd(pidfd, N, 0) likewise
 * SET is "listed" (the descriptors the listing showed) when /proc/PID/fd could be read, else the
 * range 0-63. `child`: the same against a child of the probe's own (same user, dumpable, a
 * descendant), the control that shows the attempts can succeed.
 * Exit 0; 2 on a set-up failure. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* name_of(int err) {
  switch (err) {
    case 0: return "ok";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case EXDEV: return "EXDEV";
  }
  static char buf[32];
  snprintf(buf, sizeof buf, "errno %d", err);
  return buf;
}

static int pid;

static int do_readlink(int fd) {
  char path[64], target[4096];
  snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, fd);
  return readlink(path, target, sizeof target) < 0 ? errno : 0;
}

static int do_open(int fd) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, fd);
  int f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (f < 0) return errno;
  close(f);
  return 0;
}

static int pidfd = -1;
static int do_getfd(int fd) {
  long f = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
  if (f < 0) return errno;
  close((int)f);
  return 0;
}

static int fds[1024];
static int fd_count;
static const char* set_name;

/* One line for the set when every N gives the same result, else one line per N. */
static void each(const char* what, int (*fn)(int)) {
  static int results[1024];
  int same = 1;
  for (int i = 0; i < fd_count; ++i) {
    results[i] = fn(fds[i]);
    same = same && results[i] == results[0];
  }
  if (same) {
    printf("%s%s: %s\n", what, set_name, fd_count == 0 ? "nothing to try" : name_of(results[0]));
    return;
  }
  for (int i = 0; i < fd_count; ++i) printf("%s%d: %s\n", what, fds[i], name_of(results[i]));
}

static void open_file(const char* what) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", pid, what);
  int f = open(path, O_RDONLY | O_CLOEXEC);
  printf("open %s: %s\n", what, name_of(f < 0 ? errno : 0));
  if (f >= 0) close(f);
}

int main(int argc, char** argv) {
  pid_t child = -1;
  pid = 1;
  if (argc > 1 && !strcmp(argv[1], "child")) {
    child = fork();
    if (child < 0) return 2;
    if (child == 0) {
      pause();
      _exit(0);
    }
    pid = child;
  }
  char path[64], comm[64] = "";
  snprintf(path, sizeof path, "/proc/%d/comm", pid);
  FILE* f = fopen(path, "r");
  if (f != NULL) {
    if (fgets(comm, sizeof comm, f) != NULL) comm[strcspn(comm, "\n")] = '\0';
    fclose(f);
  }
  printf("comm: %s\n", comm);
  snprintf(path, sizeof path, "/proc/%d/fd", pid);
  DIR* d = opendir(path);
  printf("opendir fd: %s\n", name_of(d == NULL ? errno : 0));
  if (d != NULL) {
    struct dirent* e;
    while ((e = readdir(d)) != NULL && fd_count < 1024) {
      if (e->d_name[0] != '.') fds[fd_count++] = atoi(e->d_name);
    }
    closedir(d);
    printf("listed fds: %d\n", fd_count);
    set_name = "listed";
  } else {
    for (fd_count = 0; fd_count < 64; ++fd_count) fds[fd_count] = fd_count;
    set_name = "0-63";
  }
  each("readlink fd/", do_readlink);
  each("open fd/", do_open);
  open_file("mem");
  open_file("environ");
  pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  printf("pidfd_open: %s\n", name_of(pidfd < 0 ? errno : 0));
  if (pidfd >= 0) each("pidfd_getfd ", do_getfd);
  if (child > 0) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
  }
  return 0;
}
