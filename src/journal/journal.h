// The lease journal: an append-only file in jitsec's state directory recording every lease
// before the provider is asked (journal-before-act), then its issue and revocation, so that
// a later invocation can revoke what a killed run left. Never holds a secret value.
// flock-protected for concurrent runs; a torn tail is recovered. Parent side.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace jitsec::journal {

enum class LeaseState : uint8_t { kIssuing, kIssued, kRevoked };
std::string_view LeaseStateName(LeaseState s);  // "issuing", "issued", "revoked"

// File format (see journal.cc): a header line "jitsec-lease-journal 1", then one JSON object
// per line, each beginning with {"crc":"<crc32 hex of the rest>", ...}.
inline constexpr std::string_view kJournalFileName = "leases.journal";
// RecordRevoked compacts automatically once the file is larger than this.
inline constexpr uint64_t kAutoCompactBytes = 64 * 1024;

// Identifies the process that owns a run, robust against pid reuse.
struct RunOwner {
  pid_t pid = 0;
  uint64_t start_time = 0;  // field 22 of /proc/<pid>/stat
  std::string boot_id;      // /proc/sys/kernel/random/boot_id
  static RunOwner Self();
  bool IsAlive() const;  // same pid, same start time, same boot
};

struct Entry {
  std::string lease_id;
  std::string run_id;
  RunOwner owner;
  std::string task;
  std::string credential;
  std::string provider;       // resolved provider name
  std::string provider_type;  // "store", "env", "postgres"
  std::string handle;         // provider-side identifier (role name), not secret
  std::map<std::string, std::string> revoke_params;  // non-secret
  std::chrono::system_clock::time_point issued_at;
  std::chrono::system_clock::time_point expires_at;
  LeaseState state = LeaseState::kIssuing;
  std::string last_error;  // of the last failed revoke attempt
};

class Journal {
 public:
  // Opens or creates <state_dir>/leases.journal (0600), recovering a torn tail.
  [[nodiscard]] static Result<Journal> Open(const std::filesystem::path& state_dir);
  Journal(Journal&&) noexcept;
  Journal& operator=(Journal&&) noexcept;
  ~Journal();

  // Appends and fsyncs before returning.
  [[nodiscard]] Status RecordIssuing(const Entry& entry);
  [[nodiscard]] Status RecordIssued(const std::string& lease_id, const std::string& handle,
                                    std::chrono::system_clock::time_point expires_at);
  [[nodiscard]] Status RecordRevoked(const std::string& lease_id);
  [[nodiscard]] Status RecordRevokeFailed(const std::string& lease_id, const std::string& error);

  // Leases not yet revoked (state kIssuing or kIssued), oldest first.
  [[nodiscard]] Result<std::vector<Entry>> Outstanding() const;

  // Rewrites the file without the records of fully revoked leases (tmp + rename, under lock).
  // Cheap when there is nothing to drop (the file is read but not rewritten).
  [[nodiscard]] Status Compact();
  // Compact() only when the file is larger than `threshold_bytes`.
  [[nodiscard]] Status MaybeCompact(uint64_t threshold_bytes = kAutoCompactBytes);

  const std::filesystem::path& path() const { return path_; }

 private:
  Journal(std::filesystem::path path, int fd);
  // Locks fd_ with LOCK_EX, re-opening the path first when a compaction replaced the file.
  [[nodiscard]] Status LockCurrent();
  [[nodiscard]] Status Append(std::string_view body);
  std::filesystem::path path_;
  int fd_ = -1;  // owned; closed in the destructor
};

}  // namespace jitsec::journal
