#include "base/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/random.h"
#include "base/unique_fd.h"

namespace jitsec {
namespace {

template <class Buf>
Status ReadInto(const std::filesystem::path& path, bool nofollow, Buf& out) {
  int flags = O_RDONLY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0);
  UniqueFd fd(::open(path.c_str(), flags));
  if (!fd) return FailErrno(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                            "cannot open " + path.string());
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno(ErrorCode::kIo, "cannot read " + path.string());
    }
    if (n == 0) break;
    out.append(std::string_view(buf, size_t(n)));
  }
  explicit_bzero(buf, sizeof buf);
  return Ok();
}

struct SecretAppender {
  SecretBytes bytes;
  void append(std::string_view s) { bytes.Append(s); }
};

}  // namespace

Result<std::string> ReadFile(const std::filesystem::path& path, bool nofollow) {
  std::string out;
  JITSEC_TRY(ReadInto(path, nofollow, out));
  return out;
}

Result<SecretBytes> ReadSecretFile(const std::filesystem::path& path) {
  SecretAppender out;
  JITSEC_TRY(ReadInto(path, true, out));
  return std::move(out.bytes);
}

Status WriteAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno(ErrorCode::kIo, what);
    }
    data.remove_prefix(size_t(n));
  }
  return Ok();
}

Status WriteFileAtomic(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  std::string tmp = (dir / ("." + path.filename().string() + ".tmp-" + RandomHex(6))).string();
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) return FailErrno(ErrorCode::kIo, "cannot create " + tmp);
  auto cleanup_fail = [&](Error e) {
    ::unlink(tmp.c_str());
    return Fail(std::move(e));
  };
  if (::fchmod(fd.get(), mode) != 0) return cleanup_fail(Error::FromErrno(ErrorCode::kIo, "chmod " + tmp));
  if (auto st = WriteAll(fd.get(), data, "cannot write " + tmp); !st) return cleanup_fail(st.error());
  if (::fsync(fd.get()) != 0) return cleanup_fail(Error::FromErrno(ErrorCode::kIo, "fsync " + tmp));
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return cleanup_fail(Error::FromErrno(ErrorCode::kIo, "cannot rename to " + path.string()));
  }
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd) (void)::fsync(dfd.get());
  return Ok();
}

Status EnsureDirectory(const std::filesystem::path& path, mode_t mode) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Ok();
  if (path.has_parent_path() && path.parent_path() != path) {
    JITSEC_TRY(EnsureDirectory(path.parent_path(), mode));
  }
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return FailErrno(ErrorCode::kIo, "cannot create directory " + path.string());
  }
  return Ok();
}

}  // namespace jitsec
