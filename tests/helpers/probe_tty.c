/* Terminal probe for the pty relay tests. Modes:
 *   info      prints "tty=<0><1><2> ctty=<0|1> size=<rows>x<cols>" (isatty of fds 0-2, whether
 *             /dev/tty opens, window size of fd 1), then "\033[31mRED\033[0m" and exits 0
 *   winch     prints "size=RxC ready", waits for SIGWINCH, prints "resized=RxC", exits 0
 *   wait      prints "ready", waits for any signal; SIGINT kills it (default action)
 *   crash     prints "crashing", then dies of SIGSEGV
 *   readline  prints "prompt> ", reads one line from stdin (canonical mode: the pty edits it),
 *             prints "got=[<line>]"
 *   secret    prints "pw: " with echo off, reads a line, restores echo, prints "len=<n>"
 *   sleep     prints "ready" and sleeps 100 s
 *   name      prints "name=<ttyname of fd 0, 1, 2 or none>" (ttyname checks that the path it
 *             finds is the descriptor's terminal)
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static void size_of(int fd, int* rows, int* cols) {
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  ioctl(fd, TIOCGWINSZ, &ws);
  *rows = ws.ws_row;
  *cols = ws.ws_col;
}

static int read_line(char* buf, size_t size) {
  size_t n = 0;
  while (n + 1 < size) {
    char c;
    ssize_t r = read(0, &c, 1);
    if (r <= 0 || c == '\n') break;
    buf[n++] = c;
  }
  buf[n] = '\0';
  return (int)n;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "info";
  setvbuf(stdout, NULL, _IONBF, 0);
  int rows, cols;
  if (strcmp(mode, "info") == 0) {
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
    size_of(1, &rows, &cols);
    printf("tty=%d%d%d ctty=%d size=%dx%d\n", isatty(0), isatty(1), isatty(2), fd >= 0, rows, cols);
    printf("\033[31mRED\033[0m\n");
    return 0;
  }
  if (strcmp(mode, "name") == 0) {
    for (int fd = 0; fd < 3; ++fd) {
      const char* name = ttyname(fd);
      printf("name%d=%s\n", fd, name != NULL ? name : "none");
    }
    return 0;
  }
  if (strcmp(mode, "winch") == 0) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    sigprocmask(SIG_BLOCK, &set, NULL);
    size_of(1, &rows, &cols);
    printf("size=%dx%d ready\n", rows, cols);
    int sig = 0;
    sigwait(&set, &sig);
    size_of(1, &rows, &cols);
    printf("resized=%dx%d\n", rows, cols);
    return 0;
  }
  if (strcmp(mode, "wait") == 0) {
    printf("ready\n");
    for (;;) pause();
  }
  if (strcmp(mode, "crash") == 0) {
    printf("crashing\n");
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    return 1;
  }
  if (strcmp(mode, "readline") == 0) {
    char line[256];
    printf("prompt> ");
    read_line(line, sizeof line);
    printf("got=[%s]\n", line);
    return 0;
  }
  if (strcmp(mode, "secret") == 0) {
    struct termios saved, quiet;
    tcgetattr(0, &saved);
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(0, TCSANOW, &quiet);
    printf("pw: ");
    char line[256];
    int n = read_line(line, sizeof line);
    tcsetattr(0, TCSANOW, &saved);
    printf("\nlen=%d\n", n);
    return 0;
  }
  if (strcmp(mode, "sleep") == 0) {
    printf("ready\n");
    sleep(100);
    return 0;
  }
  fprintf(stderr, "probe_tty: unknown mode %s\n", mode);
  return 2;
}
