/* Reads the file named by argv[1] (e.g. /dev/fd/3, or "-" for stdin) and prints its length and
 * a FNV-1a 64 digest, so a test can prove what arrived without the value appearing in output. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (argc < 2) return 2;
  int fd = strcmp(argv[1], "-") == 0 ? 0 : open(argv[1], O_RDONLY);
  if (fd < 0) { perror(argv[1]); return 3; }
  uint64_t h = 1469598103934665603ULL;
  unsigned long n = 0;
  unsigned char buf[4096];
  ssize_t r;
  while ((r = read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < r; ++i) { h ^= buf[i]; h *= 1099511628211ULL; }
    n += (unsigned long)r;
  }
  printf("len=%lu fnv=%016llx\n", n, (unsigned long long)h);
  /* A write must fail: the memfd is 0400 (root may still open it for writing) and sealed
   * against writes, so the write itself is refused (EPERM). */
  if (fd != 0) {
    int w = open(argv[1], O_WRONLY);
    int wrote = w >= 0 && write(w, "x", 1) == 1;
    printf("writable=%s\n", wrote ? "yes" : "no");
  }
  return 0;
}
