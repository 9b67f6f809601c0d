#include "journal/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include "base/defer.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/random.h"
#include "base/unique_fd.h"

#include <nlohmann/json.hpp>

// File format, version 1:
//
//   jitsec-lease-journal 1\n
//   {"crc":"1a2b3c4d","lease_id":"l-...","t":"issuing",...}\n
//   {"crc":"...","expires_at_ms":...,"handle":"...","lease_id":"l-...","t":"issued"}\n
//
// Each record is one JSON object on one line. Its first member is "crc": the CRC-32 (IEEE) of
// the line with that member removed, i.e. of "{" + everything after `{"crc":"XXXXXXXX",`. So a
// line is checked byte for byte, without re-serialising, and the file stays plain JSON lines.
// Records: issuing (the Entry, no secret: Entry has no secret member), issued, revoked,
// revoke_failed. Folding them by lease_id in file order gives each lease's state.
//
// Concurrency: every writer appends one whole line with O_APPEND under flock(LOCK_EX) and
// fdatasyncs before unlocking; readers take LOCK_SH. Compaction writes a new file and renames it
// over the old one while holding LOCK_EX on the old one, so whoever was waiting for that lock
// must notice that its descriptor no longer names the journal: LockCurrent compares the
// descriptor's inode with the path's after every lock and re-opens when they differ.
//
// Torn tails: a writer killed mid-write leaves a partial last line. Open and every append
// (under LOCK_EX, so no writer is mid-write) cut the file back to the end of the last complete,
// valid record, with a warning. A garbled line in the middle is skipped when reading (warning)
// and dropped by the next compaction.

namespace jitsec::journal {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::system_clock;

constexpr std::string_view kSignature = "jitsec-lease-journal ";
constexpr int kVersion = 1;
constexpr std::string_view kHeader = "jitsec-lease-journal 1\n";
constexpr std::string_view kCrcPrefix = "{\"crc\":\"";

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1U) != 0 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

uint32_t Crc32(std::string_view data) {
  uint32_t c = 0xFFFFFFFFU;
  for (char ch : data) c = kCrcTable[(c ^ static_cast<unsigned char>(ch)) & 0xFFU] ^ (c >> 8);
  return c ^ 0xFFFFFFFFU;
}

std::string Quoted(const std::filesystem::path& p) { return "\"" + p.string() + "\""; }

int64_t ToMs(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
Clock::time_point FromMs(int64_t ms) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(ms)));
}

// One framed line, newline included. Never throws: invalid UTF-8 is replaced, not rejected.
std::string Frame(const Json& body) {
  std::string b = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::array<char, 9> crc{};
  std::snprintf(crc.data(), crc.size(), "%08x", Crc32(b));
  std::string line;
  line.reserve(b.size() + 20);
  line.append(kCrcPrefix).append(crc.data(), 8).append("\",").append(b, 1).append("\n");
  return line;
}

// The record body of a complete line (without its newline), or nullopt when it is not intact.
std::optional<Json> Unframe(std::string_view line) {
  constexpr size_t kHexAt = kCrcPrefix.size();
  constexpr size_t kBodyAt = kHexAt + 8 + 2;
  if (line.size() <= kBodyAt + 1 || !line.starts_with(kCrcPrefix) ||
      line.substr(kHexAt + 8, 2) != "\",") {
    return std::nullopt;
  }
  uint32_t crc = 0;
  auto hex = line.substr(kHexAt, 8);
  auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), crc, 16);
  if (ec != std::errc() || end != hex.data() + hex.size()) return std::nullopt;
  std::string body = "{";
  body.append(line.substr(kBodyAt));
  if (Crc32(body) != crc) return std::nullopt;
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  auto t = j.find("t");
  auto id = j.find("lease_id");
  if (t == j.end() || !t->is_string() || id == j.end() || !id->is_string() ||
      id->get_ref<const std::string&>().empty()) {
    return std::nullopt;
  }
  return j;
}

struct Record {
  Json body;
  std::string_view line;  // with its newline, into the scanned content
};

struct Scan {
  bool needs_header = false;  // empty file, or a torn header from an interrupted creation
  std::vector<Record> records;
  uint64_t valid_end = 0;     // offset just past the last valid record (or the header)
  size_t skipped_lines = 0;   // invalid complete lines before valid_end
};

Result<Scan> ScanContent(std::string_view content, const std::filesystem::path& path) {
  Scan scan;
  if (content.size() < kHeader.size() && kHeader.starts_with(content)) {
    scan.needs_header = true;
    return scan;
  }
  if (!content.starts_with(kSignature)) {
    return Fail(ErrorCode::kCorrupt,
                "lease journal " + Quoted(path) + ": not a jitsec lease journal (bad header)");
  }
  size_t nl = content.find('\n');
  std::string_view version = content.substr(kSignature.size(), nl == std::string_view::npos
                                                                   ? std::string_view::npos
                                                                   : nl - kSignature.size());
  if (version != std::to_string(kVersion)) {
    return Fail(ErrorCode::kUnsupported, "lease journal " + Quoted(path) +
                                             ": unsupported version \"" + std::string(version) +
                                             "\" (this jitsec reads version 1)");
  }
  size_t pos = nl + 1;
  scan.valid_end = pos;
  size_t invalid_since_valid = 0;
  while (pos < content.size()) {
    size_t eol = content.find('\n', pos);
    if (eol == std::string_view::npos) break;  // torn: no newline yet
    std::string_view line = content.substr(pos, eol - pos);
    if (auto body = Unframe(line)) {
      scan.records.push_back({std::move(*body), content.substr(pos, eol + 1 - pos)});
      scan.skipped_lines += invalid_since_valid;
      invalid_since_valid = 0;
      scan.valid_end = eol + 1;
    } else {
      ++invalid_since_valid;
    }
    pos = eol + 1;
  }
  return scan;
}

std::string GetString(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return it->get<std::string>();
}
int64_t GetInt(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return 0;
  return it->get<int64_t>();
}

Entry EntryFromIssuing(const Json& j) {
  Entry e;
  e.lease_id = GetString(j, "lease_id");
  e.run_id = GetString(j, "run_id");
  if (auto o = j.find("owner"); o != j.end() && o->is_object()) {
    e.owner.pid = static_cast<pid_t>(GetInt(*o, "pid"));
    e.owner.start_time = static_cast<uint64_t>(GetInt(*o, "start_time"));
    e.owner.boot_id = GetString(*o, "boot_id");
  }
  e.task = GetString(j, "task");
  e.credential = GetString(j, "credential");
  e.provider = GetString(j, "provider");
  e.provider_type = GetString(j, "provider_type");
  e.handle = GetString(j, "handle");
  if (auto p = j.find("revoke_params"); p != j.end() && p->is_object()) {
    for (const auto& [k, v] : p->items()) {
      if (v.is_string()) e.revoke_params[k] = v.get<std::string>();
    }
  }
  e.issued_at = FromMs(GetInt(j, "issued_at_ms"));
  e.expires_at = FromMs(GetInt(j, "expires_at_ms"));
  e.state = LeaseState::kIssuing;
  return e;
}

// Folds records into every lease seen, in order of first appearance (revoked ones included).
std::vector<Entry> Fold(const std::vector<Record>& records) {
  std::vector<Entry> entries;
  std::unordered_map<std::string, size_t> index;
  for (const Record& r : records) {
    const std::string type = GetString(r.body, "t");
    const std::string id = GetString(r.body, "lease_id");
    if (type == "issuing") {
      if (index.contains(id)) continue;  // a duplicate issuing record changes nothing
      index.emplace(id, entries.size());
      entries.push_back(EntryFromIssuing(r.body));
      continue;
    }
    auto it = index.find(id);
    if (it == index.end()) continue;  // no issuing record: nothing to revoke from it
    Entry& e = entries[it->second];
    if (type == "issued") {
      if (std::string h = GetString(r.body, "handle"); !h.empty()) e.handle = std::move(h);
      if (r.body.contains("expires_at_ms")) e.expires_at = FromMs(GetInt(r.body, "expires_at_ms"));
      if (e.state != LeaseState::kRevoked) e.state = LeaseState::kIssued;
    } else if (type == "revoked") {
      e.state = LeaseState::kRevoked;
    } else if (type == "revoke_failed") {
      e.last_error = GetString(r.body, "error");
    }
  }
  return entries;
}

Result<std::string> ReadAllFrom(int fd, const std::filesystem::path& path) {
  std::string content;
  std::array<char, 16384> buf{};
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno(ErrorCode::kIo, "read lease journal " + Quoted(path));
    }
    if (n == 0) break;
    content.append(buf.data(), size_t(n));
    off += n;
  }
  return content;
}

Status FsyncDir(const std::filesystem::path& dir) {
  UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d || ::fsync(d.get()) != 0) return FailErrno(ErrorCode::kIo, "fsync " + Quoted(dir));
  return Ok();
}

Result<UniqueFd> OpenJournalFile(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return FailErrno(ErrorCode::kIo, "open lease journal " + Quoted(path));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return FailErrno(ErrorCode::kIo, "stat " + Quoted(path));
  if (!S_ISREG(st.st_mode)) {
    return Fail(ErrorCode::kIo, "lease journal " + Quoted(path) + ": not a regular file");
  }
  if (st.st_uid != ::geteuid()) {
    return Fail(ErrorCode::kPermissionDenied,
                "lease journal " + Quoted(path) + ": owned by uid " + std::to_string(st.st_uid) +
                    ", not by the caller (uid " + std::to_string(::geteuid()) + ")");
  }
  if ((st.st_mode & 077) != 0 && ::fchmod(fd.get(), 0600) != 0) {
    return FailErrno(ErrorCode::kIo, "chmod 0600 " + Quoted(path));
  }
  return fd;
}

bool SameFile(int fd, const std::filesystem::path& path) {
  struct stat a {}, b {};
  if (::fstat(fd, &a) != 0 || ::stat(path.c_str(), &b) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

Status Flock(int fd, int op, const std::filesystem::path& path) {
  while (::flock(fd, op) != 0) {
    if (errno != EINTR) return FailErrno(ErrorCode::kIo, "lock lease journal " + Quoted(path));
  }
  return Ok();
}

// The file's state after a scan that found a torn tail: cut it off (caller holds LOCK_EX).
Status TruncateTail(int fd, const std::filesystem::path& path, uint64_t size, const Scan& scan) {
  log::Warn("lease journal \"{}\": recovering: dropped {} bytes of an incomplete or damaged "
            "record at the end",
            path.string(), size - scan.valid_end);
  if (::ftruncate(fd, off_t(scan.valid_end)) != 0 || ::fdatasync(fd) != 0) {
    return FailErrno(ErrorCode::kIo, "truncate lease journal " + Quoted(path));
  }
  return Ok();
}

Json ToJson(const Entry& e) {
  Json params = Json::object();
  for (const auto& [k, v] : e.revoke_params) params[k] = v;
  return Json{{"t", "issuing"},
              {"lease_id", e.lease_id},
              {"run_id", e.run_id},
              {"owner",
               {{"pid", e.owner.pid}, {"start_time", e.owner.start_time}, {"boot_id", e.owner.boot_id}}},
              {"task", e.task},
              {"credential", e.credential},
              {"provider", e.provider},
              {"provider_type", e.provider_type},
              {"handle", e.handle},
              {"revoke_params", std::move(params)},
              {"issued_at_ms", ToMs(e.issued_at)},
              {"expires_at_ms", ToMs(e.expires_at)}};
}

// Field 3 (state) and field 22 (starttime, clock ticks since boot) of /proc/<pid>/stat.
std::optional<std::pair<char, uint64_t>> ReadProcStat(pid_t pid) {
  auto text = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return std::nullopt;
  // comm (field 2) is in parentheses and may itself contain spaces and parentheses.
  size_t close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(*text).substr(close + 1);
  std::vector<std::string_view> fields;  // fields[0] is field 3
  size_t i = 0;
  while (i < rest.size() && fields.size() < 20) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    size_t j = rest.find(' ', i);
    if (j == std::string_view::npos) j = rest.size();
    if (j > i) fields.push_back(rest.substr(i, j - i));
    i = j;
  }
  if (fields.size() < 20 || fields[0].empty()) return std::nullopt;
  uint64_t start = 0;
  auto f = fields[19];
  auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), start);
  if (ec != std::errc() || end != f.data() + f.size()) return std::nullopt;
  return std::make_pair(fields[0][0], start);
}

std::string CurrentBootId() {
  static const std::string boot_id = [] {
    auto text = ReadFile("/proc/sys/kernel/random/boot_id");
    if (!text) return std::string();
    std::string s = *text;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }();
  return boot_id;
}

}  // namespace

std::string_view LeaseStateName(LeaseState s) {
  switch (s) {
    case LeaseState::kIssuing: return "issuing";
    case LeaseState::kIssued: return "issued";
    case LeaseState::kRevoked: return "revoked";
  }
  return "?";
}

RunOwner RunOwner::Self() {
  RunOwner o;
  o.pid = ::getpid();
  if (auto st = ReadProcStat(o.pid)) o.start_time = st->second;
  o.boot_id = CurrentBootId();
  return o;
}

bool RunOwner::IsAlive() const {
  if (pid <= 0) return false;
  // A different boot means every process of that boot is gone, whatever the pid is now.
  std::string boot = CurrentBootId();
  if (!boot_id.empty() && !boot.empty() && boot_id != boot) return false;
  auto st = ReadProcStat(pid);
  if (!st) return false;  // no such process
  // A zombie has finished running; it cannot hold or use a lease any more.
  if (st->first == 'Z' || st->first == 'X' || st->first == 'x') return false;
  return st->second == start_time;
}

Journal::Journal(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}

Journal::Journal(Journal&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

Journal& Journal::operator=(Journal&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

Result<Journal> Journal::Open(const std::filesystem::path& state_dir) {
  JITSEC_TRY(EnsureDirectory(state_dir, 0700).map_error([&](Error e) {
    return std::move(e).WithContext("lease journal directory");
  }));
  std::filesystem::path path = state_dir / kJournalFileName;
  JITSEC_ASSIGN_OR_RETURN(UniqueFd fd, OpenJournalFile(path));
  Journal journal(path, fd.release());
  JITSEC_TRY(journal.LockCurrent());
  // By descriptor number: `journal` is moved into the result before this runs.
  const int locked_fd = journal.fd_;
  Defer unlock([locked_fd] { ::flock(locked_fd, LOCK_UN); });
  JITSEC_ASSIGN_OR_RETURN(std::string content, ReadAllFrom(journal.fd_, path));
  JITSEC_ASSIGN_OR_RETURN(Scan scan, ScanContent(content, path));
  if (scan.needs_header) {
    if (::ftruncate(journal.fd_, 0) != 0) {
      return FailErrno(ErrorCode::kIo, "truncate lease journal " + Quoted(path));
    }
    JITSEC_TRY(WriteAll(journal.fd_, kHeader, "write lease journal " + Quoted(path)));
    if (::fsync(journal.fd_) != 0) return FailErrno(ErrorCode::kIo, "fsync " + Quoted(path));
    JITSEC_TRY(FsyncDir(state_dir));
  } else if (scan.valid_end < content.size()) {
    JITSEC_TRY(TruncateTail(journal.fd_, path, content.size(), scan));
  }
  if (scan.skipped_lines > 0) {
    log::Warn("lease journal \"{}\": skipping {} damaged record(s)", path.string(),
              scan.skipped_lines);
  }
  return journal;
}

Status Journal::LockCurrent() {
  // Bounded: each retry means another process replaced the file in between, which needs a
  // compaction each time; 1000 in a row is not contention but a bug or an attack.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    JITSEC_TRY(Flock(fd_, LOCK_EX, path_));
    if (SameFile(fd_, path_)) return Ok();
    ::flock(fd_, LOCK_UN);
    JITSEC_ASSIGN_OR_RETURN(UniqueFd fresh, OpenJournalFile(path_));
    ::close(fd_);
    fd_ = fresh.release();
  }
  return Fail(ErrorCode::kIo, "lock lease journal " + Quoted(path_) +
                                  ": the file keeps being replaced");
}

Status Journal::Append(std::string_view body_line) {
  if (fd_ < 0) return Fail(ErrorCode::kInternal, "lease journal used after move");
  JITSEC_TRY(LockCurrent());
  Defer unlock([&] { ::flock(fd_, LOCK_UN); });
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return FailErrno(ErrorCode::kIo, "stat " + Quoted(path_));
  off_t size = st.st_size;
  if (size == 0) {  // deleted and re-created behind our back: start a fresh journal
    JITSEC_TRY(WriteAll(fd_, kHeader, "write lease journal " + Quoted(path_)));
    size = off_t(kHeader.size());
  } else {
    char last = 0;
    ssize_t n = ::pread(fd_, &last, 1, size - 1);
    if (n != 1) return FailErrno(ErrorCode::kIo, "read lease journal " + Quoted(path_));
    if (last != '\n') {  // a writer died mid-record; we hold LOCK_EX so nobody is mid-write
      JITSEC_ASSIGN_OR_RETURN(std::string content, ReadAllFrom(fd_, path_));
      JITSEC_ASSIGN_OR_RETURN(Scan scan, ScanContent(content, path_));
      JITSEC_TRY(TruncateTail(fd_, path_, content.size(), scan));
      size = off_t(scan.valid_end);
    }
  }
  // One write(2) for the whole line in the common case; on failure cut back what was written
  // so no torn record stays behind.
  if (auto w = WriteAll(fd_, body_line, "write lease journal " + Quoted(path_)); !w) {
    if (::ftruncate(fd_, size) != 0) {
      log::Warn("lease journal \"{}\": cannot undo a partial write", path_.string());
    }
    return w;
  }
  if (::fdatasync(fd_) != 0) return FailErrno(ErrorCode::kIo, "fsync " + Quoted(path_));
  return Ok();
}

Status Journal::RecordIssuing(const Entry& entry) {
  if (entry.lease_id.empty()) return Fail(ErrorCode::kInvalidArgument, "lease journal: empty lease id");
  return Append(Frame(ToJson(entry)));
}

Status Journal::RecordIssued(const std::string& lease_id, const std::string& handle,
                             Clock::time_point expires_at) {
  return Append(Frame(Json{{"t", "issued"},
                           {"lease_id", lease_id},
                           {"handle", handle},
                           {"expires_at_ms", ToMs(expires_at)}}));
}

Status Journal::RecordRevoked(const std::string& lease_id) {
  JITSEC_TRY(Append(
      Frame(Json{{"t", "revoked"}, {"lease_id", lease_id}, {"at_ms", ToMs(Clock::now())}})));
  // The revocation is recorded; a failed compaction only costs space, so it is not an error.
  if (auto c = MaybeCompact(); !c) {
    log::Warn("lease journal \"{}\": compaction failed: {}", path_.string(), c.error().message());
  }
  return Ok();
}

Status Journal::RecordRevokeFailed(const std::string& lease_id, const std::string& error) {
  return Append(Frame(Json{{"t", "revoke_failed"},
                           {"lease_id", lease_id},
                           {"error", error},
                           {"at_ms", ToMs(Clock::now())}}));
}

Result<std::vector<Entry>> Journal::Outstanding() const {
  // A private descriptor: this is const and must not disturb fd_'s lock.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
      if (errno == ENOENT) return std::vector<Entry>{};
      return FailErrno(ErrorCode::kIo, "open lease journal " + Quoted(path_));
    }
    JITSEC_TRY(Flock(fd.get(), LOCK_SH, path_));
    if (!SameFile(fd.get(), path_)) continue;  // replaced by a compaction: read the new one
    JITSEC_ASSIGN_OR_RETURN(std::string content, ReadAllFrom(fd.get(), path_));
    ::flock(fd.get(), LOCK_UN);
    JITSEC_ASSIGN_OR_RETURN(Scan scan, ScanContent(content, path_));
    std::vector<Entry> all = Fold(scan.records);
    std::vector<Entry> out;
    for (Entry& e : all) {
      if (e.state != LeaseState::kRevoked) out.push_back(std::move(e));
    }
    return out;
  }
  return Fail(ErrorCode::kIo, "read lease journal " + Quoted(path_) +
                                  ": the file keeps being replaced");
}

Status Journal::MaybeCompact(uint64_t threshold_bytes) {
  if (fd_ < 0) return Fail(ErrorCode::kInternal, "lease journal used after move");
  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return FailErrno(ErrorCode::kIo, "stat " + Quoted(path_));
  if (uint64_t(st.st_size) <= threshold_bytes) return Ok();
  return Compact();
}

Status Journal::Compact() {
  if (fd_ < 0) return Fail(ErrorCode::kInternal, "lease journal used after move");
  JITSEC_TRY(LockCurrent());
  Defer unlock([&] { ::flock(fd_, LOCK_UN); });
  JITSEC_ASSIGN_OR_RETURN(std::string content, ReadAllFrom(fd_, path_));
  JITSEC_ASSIGN_OR_RETURN(Scan scan, ScanContent(content, path_));
  if (scan.needs_header) return Ok();
  std::set<std::string> keep;
  for (const Entry& e : Fold(scan.records)) {
    if (e.state != LeaseState::kRevoked) keep.insert(e.lease_id);
  }
  std::string out(kHeader);
  size_t kept = 0;
  for (const Record& r : scan.records) {
    if (keep.contains(GetString(r.body, "lease_id"))) {
      out.append(r.line);
      ++kept;
    }
  }
  // Nothing to drop (no revoked lease, no damaged line, no torn tail): leave the file alone.
  if (out.size() == content.size()) return Ok();

  std::filesystem::path dir = path_.parent_path();
  std::filesystem::path tmp = dir / ("." + std::string(kJournalFileName) + ".tmp-" + RandomHex(6));
  UniqueFd t(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!t) return FailErrno(ErrorCode::kIo, "create " + Quoted(tmp));
  Defer remove_tmp([&] { ::unlink(tmp.c_str()); });
  JITSEC_TRY(WriteAll(t.get(), out, "write " + Quoted(tmp)));
  if (::fsync(t.get()) != 0) return FailErrno(ErrorCode::kIo, "fsync " + Quoted(tmp));
  // Still holding LOCK_EX on the old file: waiters will find it replaced (LockCurrent).
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    return FailErrno(ErrorCode::kIo, "rename " + Quoted(tmp) + " to " + Quoted(path_));
  }
  remove_tmp.Dismiss();
  JITSEC_TRY(FsyncDir(dir));
  log::Debug("lease journal \"{}\": compacted {} bytes to {} ({} records kept)", path_.string(),
             content.size(), out.size(), kept);
  return Ok();
}

}  // namespace jitsec::journal
