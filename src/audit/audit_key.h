// The audit key: 32 random bytes, 0600, owned by the caller, generated on first use (temporary
// file + link, so a reader never sees a half-written key). Refuses a key that other users can
// read or write, or that someone else owns. Never logged. Parent side.
// (The rules are base/key_file.h, shared with the store key.)
#pragma once

#include <filesystem>
#include <string_view>

#include "base/error.h"
#include "base/key_file.h"
#include "base/secret.h"

namespace jitsec::audit {

using jitsec::kKeyBytes;
using jitsec::LoadOrCreateKeyFile;
using jitsec::ReadKeyFile;

inline Result<SecretBytes> ReadAuditKey(const std::filesystem::path& path) {
  return ReadKeyFile(path, "audit key");
}
inline Result<SecretBytes> LoadOrCreateAuditKey(const std::filesystem::path& path) {
  return LoadOrCreateKeyFile(path, "audit key");
}

}  // namespace jitsec::audit
