// The audit log: JSON lines, one record per event, append-only, each record chained to the
// previous one with an HMAC under a per-install audit key so that `jitsec audit verify`
// detects an edited, removed or reordered record. Secret values never enter a record: only
// keyed fingerprints (Fingerprint). Parent side.
// A "<log>.head" file (seq and MAC of the last record, itself MAC'd) lets Verify detect records
// removed from the end, which a chain alone cannot.
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
  // Refuses (kPermissionDenied) a key that other users can access or someone else owns.
  // Do not share one AuditLog across fork(): flock belongs to the open file description, so
  // each process that appends must Open its own.
  [[nodiscard]] static Result<AuditLog> Open(const std::filesystem::path& log_path,
                                             const std::filesystem::path& key_path);
  AuditLog(AuditLog&&) noexcept;
  AuditLog& operator=(AuditLog&&) noexcept;
  ~AuditLog();

  // Adds "v", "time" (RFC 3339 UTC, ms), "seq" and the chain fields, then appends the record as
  // one line under an exclusive lock. `record` must hold "event" and must not hold a secret:
  // callers pass identifiers and Fingerprint()s only, never a revealed SecretBytes. It must not
  // set "v", "seq", "time", "prev" or "mac" (kInvalidArgument). Fails with kCorrupt (appending
  // nothing) when the log ends with an incomplete or unreadable record.
  [[nodiscard]] Status Append(nlohmann::json record);
  // Several records at once (one lock, one tail read, one write): chained in order, with the
  // same time; nothing is written if any of them is invalid.
  [[nodiscard]] Status AppendAll(std::vector<nlohmann::json> records);
  // `settings.audit.syslog`: from now on every record appended to the log is also sent to
  // syslog(3) (facility authpriv, level info, ident "jitsec" with the pid), as its line in the
  // log (the same JSON, chain fields included), once it is in the file. Syslog delivery is best
  // effort, as syslog(3) is: no daemon, no message, no error; the file stays the record.
  void AlsoSyslog();
  // fdatasync of the log, then the head file is pointed at the log's last record (also done
  // when the log is closed); the directory is synced only when this Open created the log. All
  // under the log's exclusive lock. Call at run end.
  [[nodiscard]] Status Sync();
  // Sync for a process that exits next (`jitsec run`): the records are written already and the
  // head is computed now, under the log's exclusive lock; the wait for the disk, and the head
  // write after it, are left to a helper that outlives this process by that wait
  // (base/detached_sync.h) and holds the lock until it is done, so that readers and writers,
  // which take the lock, never see the log's state in between. Falls back to Sync when no
  // helper can be started. The last use of the log: Append fails afterwards.
  [[nodiscard]] Status SyncDetached();

  // "hmac-sha256:" + first 32 hex digits of HMAC-SHA256(audit key, value).
  std::string Fingerprint(const SecretBytes& value) const;

 private:
  struct Impl;
  explicit AuditLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// All records, oldest first; none when the log does not exist. kCorrupt names the line that is
// not valid JSON. Does not check the chain (Verify does).
[[nodiscard]] Result<std::vector<nlohmann::json>> ReadAll(const std::filesystem::path& log_path);

struct VerifyReport {
  bool ok = false;
  size_t records = 0;
  std::string problem;  // "line 7: chain broken (record edited, removed or reordered)"
};
// Recomputes the chain and checks the head file. Problems (edited, removed, reordered records,
// a cut tail) go into the report, first one only; errors are for an unreadable log or key.
// A missing log with no head file is a valid empty log.
[[nodiscard]] Result<VerifyReport> Verify(const std::filesystem::path& log_path,
                                          const std::filesystem::path& key_path);

// One line per record for `jitsec audit show` (time, event, task, env, run id, details).
std::string FormatRecord(const nlohmann::json& record);

}  // namespace jitsec::audit
