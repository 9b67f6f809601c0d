/* jitsec_copy_filter: the baseline for throughput.sh, a plain read/write copy of stdin to
 * stdout. Usage: jitsec_copy_filter [BUFFER_BYTES=65536]. Prints max RSS to stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char** argv) {
  size_t size = argc > 1 ? strtoul(argv[1], NULL, 10) : 65536;
  char* buf = malloc(size);
  if (buf == NULL) return 1;
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1;
    if (n == 0) break;
    for (ssize_t at = 0; at < n;) {
      ssize_t w = write(STDOUT_FILENO, buf + at, (size_t)(n - at));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return 1;
      at += w;
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  fprintf(stderr, "jitsec_copy_filter: max_rss_kib=%ld\n", ru.ru_maxrss);
  free(buf);
  return 0;
}
