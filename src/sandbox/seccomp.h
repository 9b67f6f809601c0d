// seccomp layer of the sandbox: a deny-list filter compiled with libseccomp in the parent and
// exported as raw BPF (libseccomp is seen only in seccomp.cc), installed in the command's child
// as the very last step before exec. It must not break ordinary build tools (default ALLOW) and
// must not allocate in the child. Parent side: PrepareSeccomp. Child side: child::ApplySeccomp.
#pragma once

#include <linux/filter.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "sandbox/sandbox.h"

namespace jitsec::sandbox {

struct SeccompProgram {
  std::vector<struct sock_filter> insns;
  std::string sha256;  // lowercase hex of the instructions as installed (for the audit record)
};

// Builds the filter for the native architecture:
//  - any other architecture (i386 via int 0x80) and, on x86_64, x32 syscall numbers: the whole
//    process is killed (SECCOMP_RET_KILL_PROCESS);
//  - EPERM: ptrace, process_vm_readv/writev, unshare, setns, mount, umount2, pivot_root,
//    chroot, the new mount API (fsopen, fsconfig, fsmount, fspick, open_tree, move_mount,
//    mount_setattr), io_uring_setup/enter/register, bpf, perf_event_open, userfaultfd,
//    add_key, request_key, keyctl, init/finit/delete_module, kexec_load/kexec_file_load,
//    reboot, swapon/swapoff, acct, quotactl, lookup_dcookie;
//  - EPERM: clone with any CLONE_NEW* flag; ioctl TIOCSTI/TIOCLINUX (request compared on its
//    low 32 bits, as the kernel reads it); personality with anything but PER_LINUX (0) or the
//    0xffffffff query (low 32 bits);
//  - ENOSYS: clone3 (its flags live in memory the filter cannot read; libc falls back to clone);
//  - everything else allowed.
// chroot is denied although the command has no capabilities: nothing legitimate needs it there.
// The plan is taken for future policy-dependent rules; none depend on it today.
// Fails with kInternal naming the libseccomp call, kIo if the export cannot be read back.
[[nodiscard]] Result<SeccompProgram> PrepareSeccomp(const SandboxPlan& plan);

// PrepareSeccomp through a cache file (performance.md: "cache the exported program"): the
// program depends only on jitsec's build and the kernel, so it is kept in `cache_file`, keyed
// by the GNU build ID of the running binary and the kernel release, with its SHA-256. A cache
// that is missing, stale, unreadable or does not match its hash is rebuilt and rewritten;
// failing to write it is not an error. Without a build ID (or with an empty path) nothing is
// cached. The file is in jitsec's state directory: read-only inside every sandbox, and what a
// process of the same user outside one could change there it could change in the policy too.
[[nodiscard]] Result<SeccompProgram> PrepareSeccompCached(const SandboxPlan& plan,
                                                          const std::filesystem::path& cache_file,
                                                          std::string_view kernel_release);

// The GNU build ID of the running executable, lowercase hex ("" when it has none).
std::string OwnBuildId();

namespace child {

// prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER) with the program. PR_SET_NO_NEW_PRIVS must be set
// first (the kernel refuses with EACCES otherwise, unless CAP_SYS_ADMIN). Install it last: after
// it, mount/unshare/etc. fail. Returns false with errno set (EINVAL for an empty program).
// Async-signal-safe.
bool ApplySeccomp(const SeccompProgram& p) noexcept;
// The same for a program received with the command (exec_message.h).
bool ApplySeccomp(const struct sock_filter* insns, size_t count) noexcept;

}  // namespace child
}  // namespace jitsec::sandbox
