/* probe_sc_syscall NAME [FD]: makes one syscall the seccomp layer filters, with harmless
 * arguments, and exits with its errno (0 on success). Run inside the sandbox by integration
 * tests. NAMES: ptrace process_vm_readv unshare_user unshare_ns setns mount fsopen open_tree
 * io_uring_setup bpf perf_event_open userfaultfd keyctl add_key init_module reboot
 * clone_newuser clone3 personality_rie personality_query tiocsti tiocsti_high tcgets.
 * tiocsti* and tcgets act on FD (default 0), e.g. the pty the command got as stdin.
 * More NAMES: process_vm_writev clone_newns fsconfig fsmount fspick move_mount mount_setattr
 * io_uring_enter io_uring_register request_key finit_module delete_module kexec_load
 * kexec_file_load.
 * probe_sc_syscall --traced NR NAME [FD]: first installs a filter of its own (after
 * no_new_privs) that answers syscall NR with SECCOMP_RET_TRACE. Of the filters in force the
 * action of highest precedence wins, and ERRNO outranks TRACE: the call comes back with the errno
 * of an older filter that denies it (jitsec's EPERM), or, when every older filter allows it,
 * ENOSYS (TRACE with no tracer) without running. So EPERM here cannot come from a missing
 * privilege. Exit 101: the filter could not be installed.
 * Exit 100: unknown name. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

static int result(long rc) { return rc < 0 ? errno : 0; }

static int trace_syscall(long nr) {
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof code / sizeof code[0], code};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0;
}

int main(int argc, char** argv) {
  if (argc >= 4 && !strcmp(argv[1], "--traced")) {
    if (!trace_syscall(strtol(argv[2], NULL, 10))) {
      perror("probe_sc_syscall: installing the trace filter");
      return 101;
    }
    argc -= 2;
    argv += 2;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: probe_sc_syscall NAME [FD]\n");
    return 100;
  }
  const char* n = argv[1];
  const int fd = argc > 2 ? atoi(argv[2]) : 0;
  const char* missing = "/nonexistent-jitsec-probe";
  char c = '\n';
  struct termios t;
  long rc;
  if (!strcmp(n, "ptrace")) return result(syscall(SYS_ptrace, 2, getppid(), 0, 0));
  if (!strcmp(n, "process_vm_readv"))
    return result(syscall(SYS_process_vm_readv, getppid(), NULL, 0, NULL, 0, 0));
  if (!strcmp(n, "unshare_user")) return result(syscall(SYS_unshare, CLONE_NEWUSER));
  if (!strcmp(n, "unshare_ns")) return result(syscall(SYS_unshare, CLONE_NEWNS));
  if (!strcmp(n, "setns")) return result(syscall(SYS_setns, -1, 0));
  if (!strcmp(n, "mount")) return result(syscall(SYS_mount, "none", missing, "tmpfs", 0, NULL));
  if (!strcmp(n, "fsopen")) return result(syscall(SYS_fsopen, "tmpfs", 0));
  if (!strcmp(n, "open_tree")) return result(syscall(SYS_open_tree, AT_FDCWD, "/", 1 /*CLONE*/));
  if (!strcmp(n, "io_uring_setup")) return result(syscall(SYS_io_uring_setup, 0, NULL));
  if (!strcmp(n, "bpf")) return result(syscall(SYS_bpf, -1, NULL, 0));
  if (!strcmp(n, "perf_event_open"))
    return result(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
  if (!strcmp(n, "userfaultfd")) return result(syscall(SYS_userfaultfd, 0));
  if (!strcmp(n, "keyctl")) return result(syscall(SYS_keyctl, 0 /*GET_KEYRING_ID*/, -3, 0));
  if (!strcmp(n, "add_key")) return result(syscall(SYS_add_key, "user", "jitsec", "x", 1, -3));
  if (!strcmp(n, "init_module")) return result(syscall(SYS_init_module, NULL, 0, ""));
  if (!strcmp(n, "reboot")) return result(syscall(SYS_reboot, 0, 0, 0, NULL)); /* bad magic */
  if (!strcmp(n, "clone_newuser")) {
    rc = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (rc == 0) _exit(0);
    return result(rc);
  }
  if (!strcmp(n, "clone_newns")) {
    rc = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
    if (rc == 0) _exit(0);
    return result(rc);
  }
  if (!strcmp(n, "process_vm_writev"))
    return result(syscall(SYS_process_vm_writev, getppid(), NULL, 0, NULL, 0, 0));
  if (!strcmp(n, "fsconfig")) return result(syscall(SYS_fsconfig, -1, 0, NULL, NULL, 0));
  if (!strcmp(n, "fsmount")) return result(syscall(SYS_fsmount, -1, 0, 0));
  if (!strcmp(n, "fspick")) return result(syscall(SYS_fspick, AT_FDCWD, missing, 0));
  if (!strcmp(n, "move_mount"))
    return result(syscall(SYS_move_mount, -1, missing, -1, missing, 0));
  if (!strcmp(n, "mount_setattr"))
    return result(syscall(SYS_mount_setattr, -1, missing, 0, NULL, 0));
  if (!strcmp(n, "io_uring_enter")) return result(syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0));
  if (!strcmp(n, "io_uring_register")) return result(syscall(SYS_io_uring_register, -1, 0, NULL, 0));
  if (!strcmp(n, "request_key")) return result(syscall(SYS_request_key, "user", "jitsec", NULL, 0));
  if (!strcmp(n, "finit_module")) return result(syscall(SYS_finit_module, -1, "", 0));
  if (!strcmp(n, "delete_module")) return result(syscall(SYS_delete_module, "jitsec_none", 0));
  if (!strcmp(n, "kexec_load")) return result(syscall(SYS_kexec_load, 0, 0, NULL, 0xffffffffUL));
  if (!strcmp(n, "kexec_file_load"))
    return result(syscall(SYS_kexec_file_load, -1, -1, 0, NULL, 0xffffffffUL));
  if (!strcmp(n, "clone3")) return result(syscall(SYS_clone3, NULL, 0));
  if (!strcmp(n, "personality_rie")) return result(syscall(SYS_personality, READ_IMPLIES_EXEC));
  if (!strcmp(n, "personality_query")) return result(syscall(SYS_personality, 0xffffffffUL));
  if (!strcmp(n, "tiocsti")) return result(ioctl(fd, TIOCSTI, &c));
  if (!strcmp(n, "tiocsti_high"))
    return result(syscall(SYS_ioctl, fd, 0xdeadbeef00000000UL | TIOCSTI, &c));
  if (!strcmp(n, "tcgets")) return result(ioctl(fd, TCGETS, &t));
  fprintf(stderr, "probe_sc_syscall: unknown name \"%s\"\n", n);
  return 100;
}
