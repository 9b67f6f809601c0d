// seccomp: the deny-list compiled with libseccomp and exported as BPF (parent), installed with
// prctl (child, async-signal-safe). libseccomp is used nowhere else in jitsec.
#include "sandbox/seccomp.h"

#include <elf.h>
#include <link.h>
#include <seccomp.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "base/defer.h"
#include "base/encoding.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/unique_fd.h"

namespace jitsec::sandbox {
namespace {

// Denied outright with EPERM.
constexpr std::array<const char*, 36> kDeniedSyscalls = {
    // Tracing and reading other processes' memory.
    "ptrace", "process_vm_readv", "process_vm_writev",
    // New namespaces and mounts by any route (clone is filtered by flags below).
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
    "fsopen", "fsconfig", "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr",
    // Kernel attack surface a build does not need.
    "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "perf_event_open",
    "userfaultfd", "add_key", "request_key", "keyctl",
    // Modules, kexec, reboot and other system administration.
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "lookup_dcookie",
};

constexpr std::array<uint64_t, 7> kCloneNewFlags = {
    CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
    CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
};

constexpr uint32_t kTiocsti = TIOCSTI;
constexpr uint32_t kTioclinux = TIOCLINUX;

#if defined(__s390__) || defined(__s390x__)
constexpr unsigned kCloneFlagsArg = 1;  // s390 swaps clone's first two arguments
#else
constexpr unsigned kCloneFlagsArg = 0;
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr uint32_t kArg0Low = offsetof(struct seccomp_data, args[0]);
#else
constexpr uint32_t kArg0Low = offsetof(struct seccomp_data, args[0]) + 4;
#endif

std::string SeccompError(std::string_view call, std::string_view what, int neg_err) {
  std::string msg(call);
  if (!what.empty()) msg += " \"" + std::string(what) + "\"";
  msg += ": ";
  msg += std::strerror(-neg_err);
  return msg;
}

// personality(2) is allowed only for PER_LINUX (0) and the 0xffffffff query. libseccomp 2.5
// refuses two comparisons on the same argument in one rule, so this check is a short BPF
// prefix placed before libseccomp's program. It only returns EPERM or falls through to the
// program, which starts with the architecture check, so it cannot let anything past it.
// The kernel reads the argument as `unsigned int`: only the low 32 bits are compared.
std::vector<sock_filter> PersonalityPrefix() {
  return {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_personality, 0, 4),  // not personality: program
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kArg0Low),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0),           // PER_LINUX: program
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffU, 1, 0),  // query: program
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
  };
}

Result<std::vector<sock_filter>> ExportBpf(scmp_filter_ctx ctx) {
  UniqueFd fd(::memfd_create("jitsec-seccomp-bpf", MFD_CLOEXEC));
  if (!fd) return FailErrno(ErrorCode::kIo, "memfd_create \"jitsec-seccomp-bpf\"");
  if (int rc = seccomp_export_bpf(ctx, fd.get()); rc != 0) {
    return Fail(ErrorCode::kInternal, SeccompError("seccomp_export_bpf", "", rc));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return FailErrno(ErrorCode::kIo, "fstat of the exported filter");
  const auto size = static_cast<size_t>(st.st_size);
  if (size == 0 || size % sizeof(sock_filter) != 0) {
    return Fail(ErrorCode::kInternal,
                "seccomp_export_bpf: unexpected program size " + std::to_string(size));
  }
  std::vector<sock_filter> insns(size / sizeof(sock_filter));
  size_t done = 0;
  auto* bytes = reinterpret_cast<char*>(insns.data());
  while (done < size) {
    const ssize_t n = ::pread(fd.get(), bytes + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno(ErrorCode::kIo, "read of the exported filter");
    if (n == 0) return Fail(ErrorCode::kIo, "read of the exported filter: unexpected end of file");
    done += static_cast<size_t>(n);
  }
  return insns;
}


}  // namespace

Result<SeccompProgram> PrepareSeccomp(const SandboxPlan& /*plan*/) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return Fail(ErrorCode::kInternal, "seccomp_init failed");
  Defer release([ctx] { seccomp_release(ctx); });  // the only owner of ctx

  // Other architectures (i386 through int 0x80 on x86_64) kill the process. On x86_64
  // libseccomp also sends x32 syscall numbers (bit 30) to this action when the x32 ABI is
  // not part of the filter, which it is not (checked by a unit test on the exported program).
  if (int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); rc != 0) {
    return Fail(ErrorCode::kInternal, SeccompError("seccomp_attr_set", "ACT_BADARCH", rc));
  }

  const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
  auto resolve = [](const char* name) -> Result<int> {
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) {
      return Fail(ErrorCode::kInternal, "seccomp: libseccomp does not know syscall \"" +
                                            std::string(name) + "\"");
    }
    return nr;
  };
  for (const char* name : kDeniedSyscalls) {
    JITSEC_ASSIGN_OR_RETURN(const int nr, resolve(name));
    if (int rc = seccomp_rule_add(ctx, deny, nr, 0); rc != 0) {
      return Fail(ErrorCode::kInternal, SeccompError("seccomp_rule_add", name, rc));
    }
  }

  // clone: any namespace flag. The kernel reads the flags as unsigned long (all 64 bits).
  JITSEC_ASSIGN_OR_RETURN(const int clone_nr, resolve("clone"));
  for (const uint64_t flag : kCloneNewFlags) {
    const scmp_arg_cmp cmp = {kCloneFlagsArg, SCMP_CMP_MASKED_EQ, flag, flag};
    if (int rc = seccomp_rule_add_array(ctx, deny, clone_nr, 1, &cmp); rc != 0) {
      return Fail(ErrorCode::kInternal, SeccompError("seccomp_rule_add", "clone", rc));
    }
  }

  // clone3: its flags are in memory the filter cannot read; ENOSYS makes libc fall back.
  JITSEC_ASSIGN_OR_RETURN(const int clone3_nr, resolve("clone3"));
  if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), clone3_nr, 0); rc != 0) {
    return Fail(ErrorCode::kInternal, SeccompError("seccomp_rule_add", "clone3", rc));
  }

  // ioctl: the request is `unsigned int` in the kernel; compare the low 32 bits only, so
  // junk in the upper half of the register cannot slip TIOCSTI past the filter.
  JITSEC_ASSIGN_OR_RETURN(const int ioctl_nr, resolve("ioctl"));
  for (const uint32_t request : {kTiocsti, kTioclinux}) {
    const scmp_arg_cmp cmp = {1, SCMP_CMP_MASKED_EQ, 0xffffffffULL, request};
    if (int rc = seccomp_rule_add_array(ctx, deny, ioctl_nr, 1, &cmp); rc != 0) {
      return Fail(ErrorCode::kInternal, SeccompError("seccomp_rule_add", "ioctl", rc));
    }
  }

  JITSEC_ASSIGN_OR_RETURN(std::vector<sock_filter> body, ExportBpf(ctx));
  SeccompProgram program;
  program.insns = PersonalityPrefix();
  program.insns.insert(program.insns.end(), body.begin(), body.end());
  if (program.insns.size() > BPF_MAXINSNS) {
    return Fail(ErrorCode::kInternal,
                "seccomp filter too long: " + std::to_string(program.insns.size()) + " instructions");
  }
  JITSEC_ASSIGN_OR_RETURN(program.sha256,
                          crypto::Sha256Hex(std::string_view(reinterpret_cast<const char*>(program.insns.data()),
                                                             program.insns.size() * sizeof(sock_filter))));
  return program;
}

std::string OwnBuildId() {
  static const std::string id = [] {
    std::string out;
    ::dl_iterate_phdr(
        [](struct dl_phdr_info* info, size_t, void* data) -> int {
          auto* found = static_cast<std::string*>(data);
          for (int i = 0; i < info->dlpi_phnum; ++i) {
            const ElfW(Phdr)& ph = info->dlpi_phdr[i];
            if (ph.p_type != PT_NOTE) continue;
            const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
            const char* end = p + ph.p_memsz;
            while (p + sizeof(ElfW(Nhdr)) <= end) {
              const auto* n = reinterpret_cast<const ElfW(Nhdr)*>(p);
              const char* name = p + sizeof(ElfW(Nhdr));
              const char* desc = name + ((n->n_namesz + 3) & ~3U);
              if (desc + n->n_descsz > end) break;
              if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
                *found = HexEncode(std::string_view(desc, n->n_descsz));
                return 1;
              }
              p = desc + ((n->n_descsz + 3) & ~3U);
            }
          }
          return 1;  // the first object is the executable itself
        },
        &out);
    return out;
  }();
  return id;
}

namespace {

constexpr int kSeccompCacheFormat = 1;

std::optional<SeccompProgram> FromCache(const std::string& text, const std::string& build,
                                        std::string_view release) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto str = [&j](const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto format = j.find("format");
  if (format == j.end() || !format->is_number_integer() || format->get<int>() != kSeccompCacheFormat ||
      str("build") != build || str("release") != release) {
    return std::nullopt;
  }
  auto bytes = HexDecode(str("program"));
  if (!bytes || bytes->empty() || bytes->size() % sizeof(sock_filter) != 0 ||
      bytes->size() / sizeof(sock_filter) > BPF_MAXINSNS) {
    return std::nullopt;
  }
  auto sha = crypto::Sha256Hex(*bytes);
  if (!sha || *sha != str("sha256")) return std::nullopt;
  SeccompProgram p;
  p.insns.resize(bytes->size() / sizeof(sock_filter));
  std::memcpy(p.insns.data(), bytes->data(), bytes->size());
  p.sha256 = std::move(*sha);
  return p;
}

}  // namespace

Result<SeccompProgram> PrepareSeccompCached(const SandboxPlan& plan, const std::filesystem::path& cache_file,
                                            std::string_view kernel_release) {
  const std::string& build = OwnBuildId();
  if (cache_file.empty() || build.empty() || kernel_release.empty()) return PrepareSeccomp(plan);
  if (auto text = ReadFile(cache_file, /*nofollow=*/true)) {
    if (auto cached = FromCache(*text, build, kernel_release)) return std::move(*cached);
  }
  JITSEC_ASSIGN_OR_RETURN(SeccompProgram program, PrepareSeccomp(plan));
  const std::string_view raw(reinterpret_cast<const char*>(program.insns.data()),
                             program.insns.size() * sizeof(sock_filter));
  nlohmann::json j = {{"format", kSeccompCacheFormat}, {"build", build},
                      {"release", std::string(kernel_release)}, {"sha256", program.sha256},
                      {"program", HexEncode(raw)}};
  // The cache is an optimisation: failing to write it must not fail the run.
  if (Status st = WriteFileAtomic(cache_file, j.dump() + "\n", 0600); !st) {
    log::Debug("not caching the seccomp program: {}", st.error().message());
  }
  return program;
}

namespace child {

bool ApplySeccomp(const SeccompProgram& p) noexcept { return ApplySeccomp(p.insns.data(), p.insns.size()); }

bool ApplySeccomp(const struct sock_filter* insns, size_t count) noexcept {
  if (insns == nullptr || count == 0 || count > BPF_MAXINSNS) {
    errno = EINVAL;
    return false;
  }
  struct sock_fprog prog {};
  prog.len = static_cast<unsigned short>(count);
  prog.filter = const_cast<sock_filter*>(insns);
  return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0;
}

}  // namespace child
}  // namespace jitsec::sandbox
