/* Interleaved start-up timer: runs each command (groups separated by a lone ":::") once per
 * round, N rounds, and prints one line per command: the median, min and max wall time in ms.
 * Usage: spawn_timer N cmd1 args ::: cmd2 args ::: ...
 * (stdin, stdout and stderr of the commands: /dev/null). The separator is not "--" because
 * commands such as `jitsec run --task T -- CMD` contain that. Exits 4 when a command fails. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  int n = atoi(argv[1]);
  char** cmds[16];
  int ncmd = 0;
  cmds[ncmd++] = &argv[2];
  for (int i = 2; i < argc; ++i) {
    if (strcmp(argv[i], ":::") == 0) {
      argv[i] = NULL;
      if (ncmd == 16 || i + 1 == argc) {
        fprintf(stderr, "spawn_timer: at most 16 commands, none empty\n");
        return 2;
      }
      cmds[ncmd++] = &argv[i + 1];
    }
  }
  double* t = calloc((size_t)(n * ncmd), sizeof *t);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < ncmd; ++c) {
      struct timespec a, b;
      clock_gettime(CLOCK_MONOTONIC, &a);
      pid_t pid;
      if (posix_spawn(&pid, cmds[c][0], &fa, NULL, cmds[c], environ) != 0) return 3;
      int st;
      waitpid(pid, &st, 0);
      clock_gettime(CLOCK_MONOTONIC, &b);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "command %d failed (status %d)\n", c + 1, st);
        return 4;
      }
      t[c * n + r] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    }
  }
  for (int c = 0; c < ncmd; ++c) {
    qsort(t + c * n, (size_t)n, sizeof *t, cmp);
    printf("%.3f %.3f %.3f\n", t[c * n + n / 2], t[c * n], t[c * n + n - 1]);
  }
  return 0;
}
