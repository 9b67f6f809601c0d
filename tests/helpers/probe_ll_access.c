/* probe_ll_access OP ARG: one file-system, signal or socket operation the Landlock layer
 * decides, exiting with its errno (0 on success). Run inside the sandbox by integration tests.
 * OP: read PATH (open O_RDONLY) | write PATH (open O_WRONLY, existing file) | create PATH
 * (O_CREAT|O_EXCL, the file is left in place) | mkdir PATH | unlink PATH | kill PID (signal 0)
 * | abstract NAME (connect to the abstract unix socket "\0NAME"). Exit 100: usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int open_result(const char* path, int flags) {
  int fd = open(path, flags | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: probe_ll_access OP ARG\n");
    return 100;
  }
  const char* op = argv[1];
  const char* arg = argv[2];
  if (!strcmp(op, "read")) return open_result(arg, O_RDONLY);
  if (!strcmp(op, "write")) return open_result(arg, O_WRONLY);
  if (!strcmp(op, "create")) return open_result(arg, O_WRONLY | O_CREAT | O_EXCL);
  if (!strcmp(op, "mkdir")) return mkdir(arg, 0700) == 0 ? 0 : errno;
  if (!strcmp(op, "unlink")) return unlink(arg) == 0 ? 0 : errno;
  if (!strcmp(op, "kill")) return kill((pid_t)atoi(arg), 0) == 0 ? 0 : errno;
  if (!strcmp(op, "abstract")) {
    struct sockaddr_un addr;
    size_t len = strlen(arg);
    if (len + 1 > sizeof(addr.sun_path)) return 100;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path + 1, arg, len);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return errno;
    int rc = connect(s, (struct sockaddr*)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len));
    int err = rc == 0 ? 0 : errno;
    close(s);
    return err;
  }
  fprintf(stderr, "probe_ll_access: unknown operation \"%s\"\n", op);
  return 100;
}
