#include "base/key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "base/fs.h"
#include "base/random.h"
#include "base/unique_fd.h"

namespace jitsec {
namespace {

std::string Quote(const std::filesystem::path& p) { return "\"" + p.string() + "\""; }

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", unsigned(mode & 07777));
  return buf;
}

}  // namespace

Result<SecretBytes> ReadKeyFile(const std::filesystem::path& path, std::string_view what) {
  const std::string name = std::string(what) + " " + Quote(path);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    if (errno == ENOENT) return FailErrno(ErrorCode::kNotFound, "cannot open " + name);
    if (errno == ELOOP) {
      return Fail(ErrorCode::kPermissionDenied, name + " is a symbolic link (refusing to follow it)");
    }
    return FailErrno(ErrorCode::kIo, "cannot open " + name);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return FailErrno(ErrorCode::kIo, "cannot stat " + name);
  if (!S_ISREG(st.st_mode)) {
    return Fail(ErrorCode::kPermissionDenied, name + " is not a regular file");
  }
  if (st.st_uid != ::geteuid()) {
    return Fail(ErrorCode::kPermissionDenied,
                name + " is owned by uid " + std::to_string(st.st_uid) + ", not by you (uid " +
                    std::to_string(::geteuid()) + "); fix: chown " + std::to_string(::geteuid()) +
                    " " + path.string() + " (or point jitsec at your own key)");
  }
  if ((st.st_mode & 077) != 0) {
    return Fail(ErrorCode::kPermissionDenied,
                name + " is accessible by other users (mode " + Octal(st.st_mode) +
                    "); fix: chmod 600 " + path.string());
  }
  if (st.st_size != off_t(kKeyBytes)) {
    return Fail(ErrorCode::kCorrupt, name + " has " + std::to_string(st.st_size) +
                                         " bytes, expected " + std::to_string(kKeyBytes));
  }
  SecretBytes key(kKeyBytes);
  size_t got = 0;
  while (got < kKeyBytes) {
    ssize_t n = ::read(fd.get(), key.mutable_data() + got, kKeyBytes - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FailErrno(ErrorCode::kIo, "cannot read " + name);
    if (n == 0) break;
    got += size_t(n);
  }
  if (got != kKeyBytes) {
    return Fail(ErrorCode::kCorrupt, name + " is shorter than " + std::to_string(kKeyBytes) +
                                         " bytes");
  }
  return key;
}

Result<SecretBytes> LoadOrCreateKeyFile(const std::filesystem::path& path, std::string_view what) {
  auto existing = ReadKeyFile(path, what);
  if (existing || existing.error().code() != ErrorCode::kNotFound) return existing;

  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  JITSEC_TRY(EnsureDirectory(dir, 0700));
  // Write the whole key to a private temporary file, then link() it into place: link fails
  // with EEXIST like O_EXCL, and a concurrent reader never sees a partly written key.
  const std::string tmp = (dir / ("." + path.filename().string() + ".new-" + RandomHex(6))).string();
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return FailErrno(ErrorCode::kIo, "cannot create " + std::string(what) + " " + Quote(tmp));
  SecretBytes key = RandomSecret(kKeyBytes);
  Status written = WriteAll(fd.get(), key.Reveal(), "cannot write " + std::string(what) + " " + Quote(tmp));
  if (written && ::fchmod(fd.get(), 0600) != 0) {
    written = FailErrno(ErrorCode::kIo, "chmod " + Quote(tmp));
  }
  if (written && ::fsync(fd.get()) != 0) written = FailErrno(ErrorCode::kIo, "fsync " + Quote(tmp));
  fd.reset();
  if (!written) {
    ::unlink(tmp.c_str());
    return Fail(written.error());
  }
  int link_err = ::link(tmp.c_str(), path.c_str()) == 0 ? 0 : errno;
  ::unlink(tmp.c_str());
  if (link_err == EEXIST) return ReadKeyFile(path, what);  // lost a race: use the winner's key
  if (link_err != 0) {
    return FailErrno(ErrorCode::kIo, "cannot create " + std::string(what) + " " + Quote(path),
                     link_err);
  }
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) (void)::fsync(dfd.get());
  return key;
}

}  // namespace jitsec
