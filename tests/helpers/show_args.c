/* Prints the command line of the process given as argv[1] ("self" or a pid), NULs as spaces. */
#include <stdio.h>
int main(int argc, char** argv) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/cmdline", argc > 1 ? argv[1] : "self");
  FILE* f = fopen(path, "r");
  if (!f) { perror(path); return 3; }
  int c;
  while ((c = fgetc(f)) != EOF) putchar(c ? c : ' ');
  putchar('\n');
  fclose(f);
  return 0;
}
