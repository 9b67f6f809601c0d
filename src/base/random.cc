#include "base/random.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/encoding.h"

namespace jitsec {

void FillRandom(void* buf, size_t size) {
  auto* p = static_cast<unsigned char*>(buf);
  while (size > 0) {
    ssize_t n = ::getrandom(p, size, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        n = ::read(fd, p, size);
        ::close(fd);
      }
      if (n <= 0) continue;
    }
    p += n;
    size -= size_t(n);
  }
}

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  FillRandom(raw.data(), raw.size());
  return HexEncode(raw);
}

SecretBytes RandomSecret(size_t bytes) {
  SecretBytes s(bytes);
  FillRandom(s.mutable_data(), bytes);
  return s;
}

std::string NewId(std::string_view prefix, size_t bytes) {
  return std::string(prefix) + RandomHex(bytes);
}

}  // namespace jitsec
