/* Interleaved start-up timer: runs each command (groups separated by a lone ":::") once per
 * round, N rounds, and prints one line per command (in the order given): the median, min and
 * max wall time in ms. The order within a round is shuffled (a fixed-seed generator, so runs
 * are repeatable): a command that creates namespaces leaves kernel work behind it (the network
 * namespace's cleanup runs in a kernel worker after the process has gone) that slows whatever
 * runs next, and a fixed order would charge it to the same commands every round.
 * Usage: spawn_timer N cmd1 args ::: cmd2 args ::: ...  (at most 32 commands)
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
  enum { kMaxCommands = 32 };
  char** cmds[kMaxCommands];
  int ncmd = 0;
  cmds[ncmd++] = &argv[2];
  for (int i = 2; i < argc; ++i) {
    if (strcmp(argv[i], ":::") == 0) {
      argv[i] = NULL;
      if (ncmd == kMaxCommands || i + 1 == argc) {
        fprintf(stderr, "spawn_timer: at most %d commands, none empty\n", kMaxCommands);
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
  int order[kMaxCommands];
  for (int c = 0; c < ncmd; ++c) order[c] = c;
  unsigned long long rng = 0x9e3779b97f4a7c15ULL;  /* xorshift64 */
  for (int r = 0; r < n; ++r) {
    for (int i = ncmd - 1; i > 0; --i) {  /* Fisher-Yates */
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      int j = (int)(rng % (unsigned long long)(i + 1));
      int tmp = order[i];
      order[i] = order[j];
      order[j] = tmp;
    }
    for (int k = 0; k < ncmd; ++k) {
      const int c = order[k];
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
