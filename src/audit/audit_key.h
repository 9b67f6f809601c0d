// The audit key: 32 random bytes, 0600, owned by the caller, generated on first use (temporary
// file + link, so a reader never sees a half-written key). Refuses a key that other users can
// read or write, or that someone else owns. Never logged. Parent side.
// (Same rules as the store key; audit may depend only on base, hence its own copy.)
#pragma once

#include <filesystem>
#include <string_view>

#include "base/error.h"
#include "base/secret.h"

namespace jitsec::audit {

inline constexpr size_t kKeyBytes = 32;

// kNotFound when absent; kPermissionDenied for an unsafe mode or owner; kCorrupt for a bad size.
[[nodiscard]] Result<SecretBytes> ReadKeyFile(const std::filesystem::path& path,
                                              std::string_view what);
[[nodiscard]] Result<SecretBytes> LoadOrCreateKeyFile(const std::filesystem::path& path,
                                                      std::string_view what);

inline Result<SecretBytes> ReadAuditKey(const std::filesystem::path& path) {
  return ReadKeyFile(path, "audit key");
}
inline Result<SecretBytes> LoadOrCreateAuditKey(const std::filesystem::path& path) {
  return LoadOrCreateKeyFile(path, "audit key");
}

}  // namespace jitsec::audit
