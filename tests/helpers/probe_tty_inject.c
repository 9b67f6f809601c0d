/* Probe run inside jitsec's sandbox by the keystroke-injection test (tests/integration/compat).
 *   probe_tty_inject TEXT
 * Tries to push TEXT into the input queue of the terminal on fd 0 and of /dev/tty (the
 * controlling terminal, if any) with ioctl(TIOCSTI), one byte at a time, and tries
 * ioctl(TIOCLINUX, TIOCL_PASTESEL) on fd 0. Prints one line per attempt:
 *   TIOCSTI fd0: ok | <errno name>
 *   TIOCSTI /dev/tty: ok | <errno name> | open <errno name>
 *   TIOCLINUX fd0: ok | <errno name>
 * and exits 0. It never reads its input. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char* ErrName(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "unknown";
}

/* 0 when every byte was pushed, else the errno of the first failure. */
static int Inject(int fd, const char* text) {
  for (const char* p = text; *p != '\0'; ++p) {
    if (ioctl(fd, TIOCSTI, p) != 0) return errno;
  }
  return 0;
}

static void Report(const char* what, int err) {
  printf("%s: %s\n", what, err == 0 ? "ok" : ErrName(err));
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc != 2) return 2;
  const char* text = argv[1];
  Report("TIOCSTI fd0", Inject(0, text));
  int tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (tty < 0) {
    printf("TIOCSTI /dev/tty: open %s\n", ErrName(errno));
  } else {
    Report("TIOCSTI /dev/tty", Inject(tty, text));
    close(tty);
  }
  char subcode = 3; /* TIOCL_PASTESEL: paste the console selection as input */
  Report("TIOCLINUX fd0", ioctl(0, TIOCLINUX, &subcode) == 0 ? 0 : errno);
  return 0;
}
