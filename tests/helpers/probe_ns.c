/* Probe run inside jitsec's sandbox by the sandbox Launch tests. One mode per call:
 *   ids                    "uid=U gid=G pid=P ppid=Q"
 *   hostname               the UTS name
 *   procs                  the numeric entries of /proc, space separated
 *   fds                    the open descriptors (without the one listing them)
 *   status                 CapEff/CapBnd/CapAmb/NoNewPrivs lines of /proc/self/status
 *   write PATH             create/truncate PATH and write to it
 *   read PATH              read PATH (a file) or list it (a directory)
 *   mkdir PATH             create a directory
 *   rename FROM TO         rename(2)
 *   exchange A B           renameat2(RENAME_EXCHANGE)
 *   rmdir PATH             remove a directory
 *   connect IP PORT        TCP connect
 *   unix PATH              connect to a unix stream socket at PATH
 *   loopback               listen on 127.0.0.1 and connect to it
 *   detach                 setsid + double fork; the grandchild prints "grandchild" and sleeps;
 *                          exits once the grandchild has printed
 *   detach-stay            the same, then sleeps itself
 * File and network modes print "ok" or the errno name, and exit 0 or 1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int report(int ok) {
  if (ok) {
    puts("ok");
    return 0;
  }
  const char* name = strerrorname_np(errno);
  puts(name ? name : "unknown");
  return 1;
}

static int list_numeric(const char* dir, int skip_fd) {
  DIR* d = opendir(dir);
  if (!d) return report(0);
  int first = 1;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (skip_fd >= 0 && atoi(e->d_name) == dirfd(d)) continue;
    printf("%s%s", first ? "" : " ", e->d_name);
    first = 0;
  }
  closedir(d);
  putchar('\n');
  return 0;
}

static void detach(int stay) {
  int sync[2];
  if (pipe(sync) != 0) exit(2);
  setsid();
  pid_t child = fork();
  if (child == 0) {
    setsid();
    if (fork() == 0) {
      close(sync[0]);
      printf("grandchild\n");
      fflush(stdout);
      if (write(sync[1], "x", 1) != 1) _exit(3);
      sleep(300);
      _exit(0);
    }
    _exit(0);
  }
  close(sync[1]);
  waitpid(child, NULL, 0);
  char c;
  if (read(sync[0], &c, 1) != 1) exit(4);
  if (stay) sleep(300);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) return 2;
  const char* mode = argv[1];
  if (!strcmp(mode, "ids")) {
    printf("uid=%d gid=%d pid=%d ppid=%d\n", (int)getuid(), (int)getgid(), (int)getpid(),
           (int)getppid());
    return 0;
  }
  if (!strcmp(mode, "hostname")) {
    char h[256] = {0};
    gethostname(h, sizeof h - 1);
    puts(h);
    return 0;
  }
  if (!strcmp(mode, "procs")) return list_numeric("/proc", -1);
  if (!strcmp(mode, "fds")) return list_numeric("/proc/self/fd", 1);
  if (!strcmp(mode, "status")) {
    FILE* f = fopen("/proc/self/status", "r");
    if (!f) return report(0);
    char line[512];
    while (fgets(line, sizeof line, f)) {
      if (!strncmp(line, "CapEff:", 7) || !strncmp(line, "CapBnd:", 7) ||
          !strncmp(line, "CapAmb:", 7) || !strncmp(line, "CapPrm:", 7) ||
          !strncmp(line, "NoNewPrivs:", 11)) {
        fputs(line, stdout);
      }
    }
    fclose(f);
    return 0;
  }
  if (!strcmp(mode, "write") && argc == 3) {
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return report(0);
    int ok = write(fd, "probe\n", 6) == 6;
    close(fd);
    return report(ok);
  }
  if (!strcmp(mode, "read") && argc == 3) {
    struct stat st;
    if (stat(argv[2], &st) != 0) return report(0);
    if (S_ISDIR(st.st_mode)) {
      DIR* d = opendir(argv[2]);
      if (!d) return report(0);
      closedir(d);
      return report(1);
    }
    int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
    if (fd < 0) return report(0);
    char buf[64];
    int ok = read(fd, buf, sizeof buf) >= 0;
    close(fd);
    return report(ok);
  }
  if (!strcmp(mode, "mkdir") && argc == 3) return report(mkdir(argv[2], 0755) == 0);
  if (!strcmp(mode, "rename") && argc == 4) return report(rename(argv[2], argv[3]) == 0);
  if (!strcmp(mode, "exchange") && argc == 4) {
    return report(renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3], RENAME_EXCHANGE) == 0);
  }
  if (!strcmp(mode, "rmdir") && argc == 3) return report(rmdir(argv[2]) == 0);
  if (!strcmp(mode, "connect") && argc == 4) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(argv[3]));
    inet_pton(AF_INET, argv[2], &a.sin_addr);
    return report(connect(s, (struct sockaddr*)&a, sizeof a) == 0);
  }
  if (!strcmp(mode, "unix") && argc == 3) {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {0};
    a.sun_family = AF_UNIX;
    strncpy(a.sun_path, argv[2], sizeof a.sun_path - 1);
    return report(connect(s, (struct sockaddr*)&a, sizeof a) == 0);
  }
  if (!strcmp(mode, "loopback")) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(l, (struct sockaddr*)&a, sizeof a) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr*)&a, &len) != 0) {
      return report(0);
    }
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    return report(connect(s, (struct sockaddr*)&a, sizeof a) == 0);
  }
  if (!strcmp(mode, "detach")) {
    detach(0);
    return 0;
  }
  if (!strcmp(mode, "detach-stay")) {
    detach(1);
    return 0;
  }
  return 2;
}
