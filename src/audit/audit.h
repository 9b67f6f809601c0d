// The audit log: JSON lines, one record per event, append-only, each record chained to the
// previous one with an HMAC under a per-install audit key so that `jitsec audit verify`
// detects an edited, removed or reordered record. Secret values never enter a record: only
// keyed fingerprints (Fingerprint). Parent side.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/secret.h"

namespace jitsec::audit {

class AuditLog {
 public:
  // Opens (creating, 0600) the log and the audit key (generated 0600 on first use).
  [[nodiscard]] static Result<AuditLog> Open(const std::filesystem::path& log_path,
                                             const std::filesystem::path& key_path);
  AuditLog(AuditLog&&) noexcept;
  AuditLog& operator=(AuditLog&&) noexcept;
  ~AuditLog();

  // Adds "v", "time" (RFC 3339 UTC, ms), "seq" and the chain fields, then appends the record as
  // one line under an exclusive lock. `record` must hold "event" and must not hold a secret.
  [[nodiscard]] Status Append(nlohmann::json record);
  [[nodiscard]] Status Sync();

  // "hmac-sha256:" + first 32 hex digits of HMAC-SHA256(audit key, value).
  std::string Fingerprint(const SecretBytes& value) const;

 private:
  struct Impl;
  explicit AuditLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// All records, oldest first. kCorrupt names the line that is not valid JSON.
[[nodiscard]] Result<std::vector<nlohmann::json>> ReadAll(const std::filesystem::path& log_path);

struct VerifyReport {
  bool ok = false;
  size_t records = 0;
  std::string problem;  // "line 7: chain broken (record edited, removed or reordered)"
};
[[nodiscard]] Result<VerifyReport> Verify(const std::filesystem::path& log_path,
                                          const std::filesystem::path& key_path);

// One line per record for `jitsec audit show` (time, event, task, env, run id, details).
std::string FormatRecord(const nlohmann::json& record);

}  // namespace jitsec::audit
