/* Prints the open descriptor numbers of this process, one per line (from /proc/self/fd). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return 2;
  int self = dirfd(d);
  struct dirent* e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd != self) printf("%d\n", fd);
  }
  closedir(d);
  return 0;
}
