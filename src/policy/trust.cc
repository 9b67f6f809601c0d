// Trust check and file loading. A policy decides what a command may receive, so a file that
// another user or a sandboxed command could have edited is refused before it is parsed (the
// same rule as ssh's config checks). The file is opened once and checked through its fd, so
// what is checked is what is read.
#include "base/unique_fd.h"
#include "policy/internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace jitsec::policy {
namespace {

constexpr size_t kMaxPolicyBytes = 1024 * 1024;

tl::unexpected<std::vector<Diagnostic>> One(const std::string& file, std::string message,
                                            DiagnosticKind kind) {
  Diagnostic d;
  d.file = file;
  d.message = std::move(message);
  d.kind = kind;
  return tl::unexpected(std::vector<Diagnostic>{std::move(d)});
}

bool OwnerOk(uid_t owner) { return owner == 0 || owner == ::getuid(); }

}  // namespace

tl::expected<Policy, std::vector<Diagnostic>> LoadPolicyFile(const std::filesystem::path& path) {
  const std::string file = path.string();
  // O_NONBLOCK: a FIFO planted as the policy must not hang the open; it fails the regular-file
  // check below.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) {
    int err = errno;
    if (err == ENOENT) {
      return One(file, "policy file not found (give one with --policy or $JITSEC_POLICY)",
                 DiagnosticKind::kUnreadable);
    }
    return One(file, std::string("cannot open policy file: ") + std::strerror(err),
               DiagnosticKind::kUnreadable);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return One(file, std::string("cannot stat policy file: ") + std::strerror(errno),
               DiagnosticKind::kUnreadable);
  }
  if (!S_ISREG(st.st_mode)) {
    return One(file, "policy file is not a regular file", DiagnosticKind::kUntrusted);
  }
  if (!OwnerOk(st.st_uid)) {
    return One(file,
               "policy file is owned by uid " + std::to_string(st.st_uid) + ", not by you or root",
               DiagnosticKind::kUntrusted);
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return One(file, "policy file is writable by group or others (chmod go-w " + file + ")",
               DiagnosticKind::kUntrusted);
  }
  // The directory: whoever can write it can replace the file. A sticky directory (like /tmp)
  // only lets the file's owner rename or remove it, and the file's owner was checked above.
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  struct stat dst {};
  if (::stat(dir.c_str(), &dst) != 0) {
    return One(file, "cannot stat directory " + dir.string() + ": " + std::strerror(errno),
               DiagnosticKind::kUnreadable);
  }
  if (!OwnerOk(dst.st_uid)) {
    return One(file,
               "directory " + dir.string() + " is owned by uid " + std::to_string(dst.st_uid) +
                   ", not by you or root",
               DiagnosticKind::kUntrusted);
  }
  if ((dst.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (dst.st_mode & S_ISVTX) == 0) {
    return One(file,
               "directory " + dir.string() + " is writable by group or others (chmod go-w " +
                   dir.string() + ")",
               DiagnosticKind::kUntrusted);
  }
  if (size_t(st.st_size) > kMaxPolicyBytes) {
    return One(file, "policy file is larger than 1 MiB", DiagnosticKind::kInvalid);
  }
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return One(file, std::string("cannot read policy file: ") + std::strerror(errno),
                 DiagnosticKind::kUnreadable);
    }
    if (n == 0) break;
    text.append(buf, size_t(n));
    if (text.size() > kMaxPolicyBytes) {
      return One(file, "policy file is larger than 1 MiB", DiagnosticKind::kInvalid);
    }
  }
  auto policy = ParsePolicy(text, file);
  if (policy) policy->file = path;
  return policy;
}

Result<Policy> LoadPolicy(const std::filesystem::path& path) {
  auto policy = LoadPolicyFile(path);
  if (policy) return std::move(*policy);
  const std::vector<Diagnostic>& diags = policy.error();
  const Diagnostic& first = diags.front();
  std::string message = first.ToString();
  if (diags.size() > 1) {
    size_t more = diags.size() - 1;
    message += " (and " + std::to_string(more) + (more == 1 ? " more error" : " more errors") +
               "; run jitsec check)";
  }
  ErrorCode code = ErrorCode::kPolicyInvalid;
  switch (first.kind) {
    case DiagnosticKind::kInvalid: code = ErrorCode::kPolicyInvalid; break;
    case DiagnosticKind::kSyntax: code = ErrorCode::kPolicySyntax; break;
    case DiagnosticKind::kUntrusted: code = ErrorCode::kPolicyUntrusted; break;
    case DiagnosticKind::kUnreadable:
      code = first.message.starts_with("policy file not found") ? ErrorCode::kNotFound
                                                                : ErrorCode::kIo;
      break;
  }
  return Fail(code, std::move(message));
}

}  // namespace jitsec::policy
