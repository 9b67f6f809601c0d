// Key files (store key, audit key): 32 random bytes, 0600, owned by the caller, created on first
// use with O_EXCL semantics (temporary file + link, so a reader never sees a half-written key).
// Refuses a key that other users can read or write, or that someone else owns. Parent side.
#pragma once

#include <filesystem>
#include <string_view>

#include "base/error.h"
#include "base/secret.h"

namespace jitsec {

inline constexpr size_t kKeyBytes = 32;

// Reads the key at `path` (`what` names it in errors: "store key"). kNotFound when absent;
// kPermissionDenied when its mode or owner is unsafe; kCorrupt when it is not 32 bytes.
[[nodiscard]] Result<SecretBytes> ReadKeyFile(const std::filesystem::path& path,
                                              std::string_view what);
// Reads the key, generating it (and its parent directories, 0700) when absent.
[[nodiscard]] Result<SecretBytes> LoadOrCreateKeyFile(const std::filesystem::path& path,
                                                      std::string_view what);

}  // namespace jitsec
