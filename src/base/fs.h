// Small file-system helpers with jitsec's error text. Parent side.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/secret.h"

namespace jitsec {

// Reads a whole regular file (O_CLOEXEC|O_NOFOLLOW when nofollow).
[[nodiscard]] Result<std::string> ReadFile(const std::filesystem::path& path, bool nofollow = false);
[[nodiscard]] Result<SecretBytes> ReadSecretFile(const std::filesystem::path& path);
// Writes via a temporary file in the same directory, fsync, rename, fsync of the directory.
[[nodiscard]] Status WriteFileAtomic(const std::filesystem::path& path, std::string_view data,
                                     mode_t mode = 0600);
// Creates the directory and missing parents with `mode` (existing ones are left as they are).
[[nodiscard]] Status EnsureDirectory(const std::filesystem::path& path, mode_t mode = 0700);
// Writes all of `data` to fd, retrying on EINTR and short writes.
[[nodiscard]] Status WriteAll(int fd, std::string_view data, std::string_view what);

}  // namespace jitsec
