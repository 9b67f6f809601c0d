#include "audit/audit.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>

#include "audit/audit_key.h"
#include "base/crypto.h"
#include "base/detached_sync.h"
#include "base/encoding.h"
#include "base/fs.h"
#include "base/unique_fd.h"

namespace jitsec::audit {
namespace {

using OrderedJson = nlohmann::ordered_json;

constexpr std::string_view kZeroMac =
    "0000000000000000000000000000000000000000000000000000000000000000";
constexpr std::string_view kMacKey = ",\"mac\":\"";
constexpr size_t kMacHexBytes = 64;
// The chain key is the audit key itself; fingerprints and the head file use keys derived from
// it with a label, so a fingerprint can never be replayed as (or reveal) a chain MAC.
constexpr std::string_view kFingerprintLabel = "jitsec-audit-fingerprint-v1";
constexpr std::string_view kHeadLabel = "jitsec-audit-head-v1";
constexpr size_t kMaxLineBytes = 16 << 20;
constexpr std::string_view kReserved[] = {"v", "seq", "time", "prev", "mac"};

std::string Quote(const std::filesystem::path& p) { return "\"" + p.string() + "\""; }

// Lowercase hex of HMAC-SHA-256(key, data); empty if the computation failed (which no MAC
// compares equal to, and which Append and WriteHead refuse).
std::string HmacHex(std::string_view key, std::string_view data) {
  auto h = crypto::HmacSha256::Create(key);
  if (!h) return {};
  auto md = h->Mac(data);
  if (!md) return {};
  std::string hex = HexEncode(std::string_view(reinterpret_cast<const char*>(md->data()), md->size()));
  explicit_bzero(md->data(), md->size());
  return hex;
}

Result<SecretBytes> DeriveKey(const SecretBytes& key, std::string_view label) {
  JITSEC_ASSIGN_OR_RETURN(crypto::HmacSha256 h, crypto::HmacSha256::Create(key.Reveal()));
  JITSEC_ASSIGN_OR_RETURN(crypto::Sha256Digest md, h.Mac(label));
  SecretBytes out(std::string_view(reinterpret_cast<const char*>(md.data()), md.size()));
  explicit_bzero(md.data(), md.size());
  return out;
}

std::string ChainMac(const SecretBytes& key, std::string_view prev, std::string_view body) {
  std::string data;
  data.reserve(prev.size() + 1 + body.size());
  data.append(prev).append("\n").append(body);
  return HmacHex(key.Reveal(), data);
}

std::string HeadMac(const SecretBytes& key, uint64_t seq, std::string_view mac) {
  auto head_key = DeriveKey(key, kHeadLabel);
  if (!head_key) return {};
  return HmacHex(head_key->Reveal(), std::to_string(seq) + "\n" + std::string(mac));
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// UTC by calendar arithmetic (std::chrono): gmtime_r would make glibc read and parse
// /etc/localtime on first use, on every run, for a time zone the record never uses.
std::string NowRfc3339() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  using namespace std::chrono;
  const sys_seconds t{seconds{ts.tv_sec}};
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<seconds> hms{t - day};
  char buf[96];  // 24 bytes used; room for what the compiler cannot rule out
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()), int(ts.tv_nsec / 1000000));
  return buf;
}

// A record line always ends `,"mac":"<64 hex>"}`. Returns where that key starts, or npos.
size_t MacKeyAt(std::string_view line) {
  const size_t tail = kMacKey.size() + kMacHexBytes + 2;  // `"}`
  if (line.size() < tail + 2 || !line.ends_with("\"}")) return std::string_view::npos;
  const size_t at = line.size() - tail;
  if (line.substr(at, kMacKey.size()) != kMacKey) return std::string_view::npos;
  if (!IsLowerHex(line.substr(at + kMacKey.size(), kMacHexBytes))) return std::string_view::npos;
  return at;
}

// Splits a complete line (without its '\n') into the part the MAC covers (the line with the
// "mac" key removed) and the MAC.
bool SplitMac(std::string_view line, std::string& body, std::string& mac) {
  const size_t at = MacKeyAt(line);
  if (at == std::string_view::npos) return false;
  mac = std::string(line.substr(at + kMacKey.size(), kMacHexBytes));
  body = std::string(line.substr(0, at));
  body.push_back('}');
  return true;
}

OrderedJson ParseOrdered(std::string_view text) {
  return OrderedJson::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

// Never throws: invalid UTF-8 is replaced (U+FFFD) instead of raising type_error 316.
template <class J>
std::string Dump(const J& j) {
  return j.dump(-1, ' ', false, J::error_handler_t::replace);
}

// Holds flock (LOCK_EX unless told otherwise) on a descriptor for its lifetime.
class ScopedFlock {
 public:
  explicit ScopedFlock(int fd) : fd_(fd) {}
  ScopedFlock(const ScopedFlock&) = delete;
  ScopedFlock& operator=(const ScopedFlock&) = delete;
  ~ScopedFlock() {
    if (locked_) ::flock(fd_, LOCK_UN);
  }
  Status Lock(const std::filesystem::path& path, int mode = LOCK_EX) {
    while (::flock(fd_, mode) != 0) {
      if (errno != EINTR) return FailErrno(ErrorCode::kIo, "cannot lock audit log " + Quote(path));
    }
    locked_ = true;
    return Ok();
  }
  // Leaves the lock held: another process's descriptor of the same open file description will
  // release it (when it closes the last one).
  void Keep() { locked_ = false; }

 private:
  int fd_;
  bool locked_ = false;
};

struct Tail {
  uint64_t seq = 0;
  std::string mac{kZeroMac};
};

// The seq and MAC of a record as Append writes it: the line starts `{"v":1,"seq":N,` and ends
// `,"mac":"<64 hex>"}`, so both are read without parsing the JSON (a run appends ~6 records and
// reads the tail before each). Any other shape goes through the JSON parser; whether the record
// is authentic is Verify's question, not Append's.
std::optional<Tail> FastTail(std::string_view line) {
  constexpr std::string_view kStart = "{\"v\":1,\"seq\":";
  const size_t mac_at = MacKeyAt(line);
  if (!line.starts_with(kStart) || mac_at == std::string_view::npos || mac_at < kStart.size() + 2) {
    return std::nullopt;
  }
  size_t i = kStart.size();
  uint64_t seq = 0;
  const size_t first = i;
  while (i < line.size() && line[i] >= '0' && line[i] <= '9' && i - first < 19) {
    seq = seq * 10 + uint64_t(line[i] - '0');
    ++i;
  }
  if (i == first || line[i] != ',' || (line[first] == '0' && i - first > 1)) return std::nullopt;
  return Tail{seq, std::string(line.substr(mac_at + kMacKey.size(), kMacHexBytes))};
}

// Reads the last record of the log by seeking back from the end (never the whole file).
Result<Tail> ReadTail(int fd, const std::filesystem::path& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return FailErrno(ErrorCode::kIo, "cannot stat audit log " + Quote(path));
  const off_t size = st.st_size;
  if (size == 0) return Tail{};
  auto read_at = [&](off_t off, size_t n, std::string& out) -> Status {
    out.resize(n);
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd, out.data() + got, n - got, off + off_t(got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return FailErrno(ErrorCode::kIo, "cannot read audit log " + Quote(path));
      if (r == 0) break;
      got += size_t(r);
    }
    out.resize(got);
    return Ok();
  };
  std::string last;
  JITSEC_TRY(read_at(size - 1, 1, last));
  if (last != "\n") {
    return Fail(ErrorCode::kCorrupt, "audit log " + Quote(path) +
                                         " ends with an incomplete record (check it with "
                                         "jitsec audit verify)");
  }
  // Collect the bytes of the last line, reading backwards in blocks.
  std::string line;
  off_t end = size - 1;  // exclusive end of the line (the '\n')
  off_t pos = end;
  for (;;) {
    if (pos == 0) break;
    const size_t n = size_t(std::min<off_t>(pos, 4096));
    std::string block;
    JITSEC_TRY(read_at(pos - off_t(n), n, block));
    const size_t nl = block.rfind('\n');
    if (nl != std::string::npos) {
      line.insert(0, block.substr(nl + 1));
      break;
    }
    line.insert(0, block);
    pos -= off_t(n);
    if (line.size() > kMaxLineBytes) {
      return Fail(ErrorCode::kCorrupt, "audit log " + Quote(path) + " has an oversized last line");
    }
  }
  if (auto fast = FastTail(line)) return *fast;
  OrderedJson rec = ParseOrdered(line);
  Tail tail;
  if (!rec.is_object() || !rec.contains("seq") || !rec["seq"].is_number_unsigned() ||
      !rec.contains("mac") || !rec["mac"].is_string() ||
      rec["mac"].get_ref<const std::string&>().size() != kMacHexBytes ||
      !IsLowerHex(rec["mac"].get_ref<const std::string&>())) {
    return Fail(ErrorCode::kCorrupt, "audit log " + Quote(path) +
                                         ": the last record is not valid (check it with jitsec "
                                         "audit verify)");
  }
  tail.seq = rec["seq"].get<uint64_t>();
  tail.mac = rec["mac"].get<std::string>();
  return tail;
}

std::filesystem::path HeadPath(const std::filesystem::path& log_path) {
  return log_path.string() + ".head";
}

// The head file names the last record (seq and MAC) so that a log cut short is detected. It is
// rewritten in place, without fsync, under the log's lock: at the first record of a log, at
// Sync (after the log's fdatasync, under the same lock; with SyncDetached, by the helper that
// does the fdatasync, while the lock stays held) and at close. After a crash it may lag behind
// the log (by the records of the runs in progress), never ahead. Every head is kHeadBytes long
// (JSON padded with spaces), so a rewrite never leaves the tail of a longer one behind; an
// in-place pwrite instead of a new file and a rename spares the file system an inode per run.
constexpr size_t kHeadBytes = 256;

// The head file, created if `create` (0600, a regular file of ours or an error). Returns an
// invalid descriptor when it does not exist and `create` is false.
Result<UniqueFd> OpenHead(const std::filesystem::path& log_path, bool create) {
  const std::filesystem::path path = HeadPath(log_path);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600));
  if (!fd) {
    if (errno == ENOENT && !create) return UniqueFd();
    return FailErrno(ErrorCode::kIo, "cannot open " + Quote(path));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return FailErrno(ErrorCode::kIo, "cannot stat " + Quote(path));
  if (!S_ISREG(st.st_mode)) return Fail(ErrorCode::kIo, Quote(path) + " is not a regular file");
  if (st.st_size > off_t(kHeadBytes) && ::ftruncate(fd.get(), off_t(kHeadBytes)) != 0) {
    return FailErrno(ErrorCode::kIo, "cannot truncate " + Quote(path));
  }
  return fd;
}

// The head's kHeadBytes for the record (seq, mac).
Result<std::string> FormatHead(const SecretBytes& key, uint64_t seq, const std::string& mac) {
  OrderedJson head;
  head["seq"] = seq;
  head["mac"] = mac;
  head["hmac"] = HeadMac(key, seq, mac);
  if (head["hmac"].get_ref<const std::string&>().empty()) {
    return Fail(ErrorCode::kInternal, "cannot compute the audit head MAC");
  }
  std::string text = Dump(head);
  if (text.size() >= kHeadBytes) return Fail(ErrorCode::kInternal, "audit head record too long");
  text.resize(kHeadBytes - 1, ' ');
  text.push_back('\n');
  return text;
}

Status WriteHeadBytes(int head_fd, const std::filesystem::path& log_path, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::pwrite(head_fd, text.data() + done, text.size() - done, off_t(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return FailErrno(ErrorCode::kIo, "cannot write " + Quote(HeadPath(log_path)));
    done += size_t(n);
  }
  return Ok();
}

}  // namespace

struct AuditLog::Impl {
  std::filesystem::path path;
  UniqueFd fd;
  SecretBytes key;
  SecretBytes fingerprint_key;
  bool created = false;     // this Open created the file: Sync makes its directory entry durable
  bool head_stale = false;  // records appended since the head was last written
  bool detached = false;    // SyncDetached handed the rest to a helper: no more appends
  bool syslog = false;      // AlsoSyslog
  UniqueFd head;  // none yet: the first Append creates and writes it at once (a log that has
                  // records but no head would read as cut short after a crash)

  Status Usable() const {
    if (detached) return Fail(ErrorCode::kInternal, "audit log used after SyncDetached");
    return Ok();
  }

  // The head's bytes for the log's current last record (whoever appended it), the head file
  // opened (created) if need be. Under the log's exclusive lock, so that the head only ever
  // moves forward even with concurrent writers.
  Result<std::string> HeadForTail() {
    JITSEC_ASSIGN_OR_RETURN(Tail tail, ReadTail(fd.get(), path));
    if (!head) {
      JITSEC_ASSIGN_OR_RETURN(head, OpenHead(path, /*create=*/true));
    }
    return FormatHead(key, tail.seq, tail.mac);
  }

  // Writes the head's bytes (HeadForTail, FormatHead): the head is no longer stale.
  Status WriteHead(const std::string& text) {
    JITSEC_TRY(WriteHeadBytes(head.get(), path, text));
    head_stale = false;
    return Ok();
  }

  // The log's directory when its entry still needs a sync (this Open created the log), else an
  // invalid descriptor.
  Result<UniqueFd> DirToSync() const {
    if (!created) return UniqueFd();
    std::filesystem::path dir = path.parent_path();
    if (dir.empty()) dir = ".";
    UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) return FailErrno(ErrorCode::kIo, "cannot open directory " + Quote(dir));
    return dfd;
  }

  // The sync, done here: fdatasync of the log, then the head, then the directory. Under the
  // log's exclusive lock, so that the head never names a record the sync did not cover.
  Status SyncLocked(const std::string& head_text, const UniqueFd& dir) {
    if (::fdatasync(fd.get()) != 0) {
      return FailErrno(ErrorCode::kIo, "fsync audit log " + Quote(path));
    }
    JITSEC_TRY(WriteHead(head_text));
    if (dir && ::fsync(dir.get()) != 0) {
      return FailErrno(ErrorCode::kIo, "fsync directory " + Quote(path.parent_path()));
    }
    created = false;
    return Ok();
  }

  // Sync and SyncDetached. The head is rewritten without a sync of its own: after a crash it
  // may lag behind the log, which verify accepts, never be ahead of it. The directory is synced
  // once, when the log was created, so that the log and its first head are not lost.
  Status Sync(bool detach) {
    JITSEC_TRY(Usable());
    ScopedFlock lock(fd.get());
    JITSEC_TRY(lock.Lock(path));
    JITSEC_ASSIGN_OR_RETURN(std::string head_text, HeadForTail());
    JITSEC_ASSIGN_OR_RETURN(UniqueFd dir, DirToSync());
    if (detach) {
      DetachedSync sync;
      sync.data_fd = fd.get();
      sync.write_fd = head.get();
      sync.bytes = head_text;
      sync.dir_fd = dir ? dir.get() : -1;
      if (StartDetachedSync(sync) > 0) {
        // The helper's copy of the log's open file description keeps the lock until it exits.
        lock.Keep();
        detached = true;
        head_stale = false;  // the helper writes it
        return Ok();
      }
    }
    return SyncLocked(head_text, dir);
  }

  // Points the head at the log's last record, without a sync (at close).
  Status FlushHead() {
    if (!head_stale) return Ok();
    ScopedFlock lock(fd.get());
    JITSEC_TRY(lock.Lock(path));
    JITSEC_ASSIGN_OR_RETURN(std::string text, HeadForTail());
    return WriteHead(text);
  }
  ~Impl() { (void)FlushHead(); }
};

AuditLog::AuditLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AuditLog::AuditLog(AuditLog&&) noexcept = default;
AuditLog& AuditLog::operator=(AuditLog&&) noexcept = default;
AuditLog::~AuditLog() = default;

Result<AuditLog> AuditLog::Open(const std::filesystem::path& log_path,
                                const std::filesystem::path& key_path) {
  JITSEC_ASSIGN_OR_RETURN(SecretBytes key, LoadOrCreateAuditKey(key_path));
  std::filesystem::path dir = log_path.parent_path();
  if (!dir.empty()) JITSEC_TRY(EnsureDirectory(dir, 0700));
  bool created = false;
  UniqueFd fd(::open(log_path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW));
  if (!fd && errno == ENOENT) {
    fd.reset(::open(log_path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    created = static_cast<bool>(fd);
    if (!fd && errno == EEXIST) fd.reset(::open(log_path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW));
  }
  if (!fd) return FailErrno(ErrorCode::kIo, "cannot open audit log " + Quote(log_path));
  auto impl = std::make_unique<Impl>();
  impl->created = created;
  JITSEC_ASSIGN_OR_RETURN(impl->head, OpenHead(log_path, /*create=*/false));
  impl->path = log_path;
  impl->fd = std::move(fd);
  JITSEC_ASSIGN_OR_RETURN(impl->fingerprint_key, DeriveKey(key, kFingerprintLabel));
  impl->key = std::move(key);
  return AuditLog(std::move(impl));
}

Status AuditLog::Append(nlohmann::json record) {
  std::vector<nlohmann::json> one;
  one.push_back(std::move(record));
  return AppendAll(std::move(one));
}

Status AuditLog::AppendAll(std::vector<nlohmann::json> records) {
  if (!impl_) return Fail(ErrorCode::kInternal, "audit log used after move");
  JITSEC_TRY(impl_->Usable());
  if (records.empty()) return Ok();
  for (const auto& record : records) {
    if (!record.is_object() || !record.contains("event") || !record["event"].is_string()) {
      return Fail(ErrorCode::kInvalidArgument, "audit record must be an object with an \"event\"");
    }
    for (std::string_view k : kReserved) {
      if (record.contains(k)) {
        return Fail(ErrorCode::kInvalidArgument,
                    "audit record must not set \"" + std::string(k) + "\" (the log adds it)");
      }
    }
  }
  ScopedFlock lock(impl_->fd.get());
  JITSEC_TRY(lock.Lock(impl_->path));
  JITSEC_ASSIGN_OR_RETURN(Tail tail, ReadTail(impl_->fd.get(), impl_->path));

  const std::string time = NowRfc3339();
  std::string lines;
  std::string mac;
  for (auto& record : records) {
    OrderedJson out;
    out["v"] = 1;
    out["seq"] = ++tail.seq;
    out["time"] = time;
    for (auto& [k, v] : record.items()) out[k] = OrderedJson(v);  // converts nested values too
    out["prev"] = tail.mac;
    std::string body = Dump(out);
    mac = ChainMac(impl_->key, tail.mac, body);
    if (mac.empty()) return Fail(ErrorCode::kInternal, "cannot compute the audit record MAC");
    body.pop_back();  // the closing '}'
    lines.append(body).append(kMacKey).append(mac).append("\"}\n");
    tail.mac = mac;
  }

  // One write(2) on the O_APPEND descriptor: the records land whole and contiguous.
  ssize_t n;
  do {
    n = ::write(impl_->fd.get(), lines.data(), lines.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return FailErrno(ErrorCode::kIo, "cannot append to audit log " + Quote(impl_->path));
  if (size_t(n) != lines.size()) {
    return Fail(ErrorCode::kIo, "short write to audit log " + Quote(impl_->path) +
                                    " (disk full?); the last record is incomplete");
  }
  if (impl_->syslog) {
    for (size_t pos = 0; pos < lines.size();) {
      size_t nl = lines.find('\n', pos);
      ::syslog(LOG_AUTHPRIV | LOG_INFO, "%.*s", int(nl - pos), lines.data() + pos);
      pos = nl + 1;
    }
  }
  // The head is written by Sync and when the log is closed (once per run, not per record).
  impl_->head_stale = true;
  if (!impl_->head) {
    JITSEC_ASSIGN_OR_RETURN(impl_->head, OpenHead(impl_->path, /*create=*/true));
    JITSEC_ASSIGN_OR_RETURN(std::string head_text, FormatHead(impl_->key, tail.seq, mac));
    JITSEC_TRY(impl_->WriteHead(head_text));
  }
  return Ok();
}

void AuditLog::AlsoSyslog() {
  if (!impl_ || impl_->syslog) return;
  ::openlog("jitsec", LOG_PID, LOG_AUTHPRIV);
  impl_->syslog = true;
}

Status AuditLog::Sync() {
  if (!impl_) return Fail(ErrorCode::kInternal, "audit log used after move");
  return impl_->Sync(/*detach=*/false);
}

Status AuditLog::SyncDetached() {
  if (!impl_) return Fail(ErrorCode::kInternal, "audit log used after move");
  return impl_->Sync(/*detach=*/true);
}

std::string AuditLog::Fingerprint(const SecretBytes& value) const {
  if (!impl_) return {};
  return "hmac-sha256:" + HmacHex(impl_->fingerprint_key.Reveal(), value.Reveal()).substr(0, 32);
}

Result<std::vector<nlohmann::json>> ReadAll(const std::filesystem::path& log_path) {
  std::vector<nlohmann::json> records;
  auto text = ReadFile(log_path, /*nofollow=*/true);
  if (!text) {
    if (text.error().code() == ErrorCode::kNotFound) return records;
    return Fail(text.error());
  }
  std::string_view rest = *text;
  size_t line_no = 0;
  while (!rest.empty()) {
    ++line_no;
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return Fail(ErrorCode::kCorrupt, "audit log " + Quote(log_path) + " line " +
                                           std::to_string(line_no) + " is not a valid record");
    }
    records.push_back(std::move(j));
  }
  return records;
}

Result<VerifyReport> Verify(const std::filesystem::path& log_path,
                            const std::filesystem::path& key_path) {
  VerifyReport report;
  // The log and its head are read under a shared lock on the log: writers append and move the
  // head under an exclusive one, so the two are read as one consistent state.
  UniqueFd lock_fd(::open(log_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  ScopedFlock lock(lock_fd.get());
  if (lock_fd) JITSEC_TRY(lock.Lock(log_path, LOCK_SH));
  std::string text;
  if (auto r = ReadFile(log_path, /*nofollow=*/true)) {
    text = std::move(*r);
  } else if (r.error().code() != ErrorCode::kNotFound) {
    return Fail(r.error());
  }
  std::optional<std::string> head_text;
  if (auto r = ReadFile(HeadPath(log_path), /*nofollow=*/true)) {
    head_text = std::move(*r);
  } else if (r.error().code() != ErrorCode::kNotFound) {
    return Fail(r.error());
  }
  if (text.empty() && !head_text) {
    report.ok = true;
    return report;
  }
  JITSEC_ASSIGN_OR_RETURN(SecretBytes key, ReadAuditKey(key_path));

  auto problem = [&](size_t line_no, std::string what) {
    report.ok = false;
    report.problem = "line " + std::to_string(line_no) + ": " + std::move(what);
    return report;
  };

  const std::string head_name = Quote(HeadPath(log_path));
  uint64_t head_seq = 0;
  std::string head_mac;
  bool head_forged = false;
  if (head_text) {
    while (!head_text->empty() && head_text->back() == '\n') head_text->pop_back();
    OrderedJson head = ParseOrdered(*head_text);
    if (!head.is_object() || !head.contains("seq") || !head["seq"].is_number_unsigned() ||
        !head.contains("mac") || !head["mac"].is_string() || !head.contains("hmac") ||
        !head["hmac"].is_string() ||
        head["hmac"].get<std::string>() !=
            HeadMac(key, head["seq"].get<uint64_t>(), head["mac"].get<std::string>())) {
      head_forged = true;  // reported after the records: a wrong key shows at line 1 first
    } else {
      head_seq = head["seq"].get<uint64_t>();
      head_mac = head["mac"].get<std::string>();
    }
  }
  std::string mac_at_head;
  size_t head_line = 0;

  std::string prev{kZeroMac};
  uint64_t prev_seq = 0;
  std::string_view rest = text;
  size_t line_no = 0;
  while (!rest.empty()) {
    ++line_no;
    const size_t nl = rest.find('\n');
    if (nl == std::string_view::npos) {
      return problem(line_no, "incomplete record (the log was cut or a write was torn)");
    }
    std::string_view line = rest.substr(0, nl);
    rest = rest.substr(nl + 1);
    OrderedJson rec = ParseOrdered(line);
    if (rec.is_discarded() || !rec.is_object()) return problem(line_no, "not a valid JSON record");
    if (!rec.contains("v") || rec["v"] != 1) return problem(line_no, "unsupported record version");
    std::string body;
    std::string mac;
    if (!SplitMac(line, body, mac)) return problem(line_no, "record has no MAC at its end");
    if (!crypto::ConstantTimeEqual(ChainMac(key, rec.contains("prev") && rec["prev"].is_string()
                                                     ? rec["prev"].get<std::string>()
                                                     : std::string(),
                                            body),
                                   mac)) {
      return problem(line_no, "chain broken (record edited: its MAC does not match)");
    }
    if (!rec.contains("seq") || !rec["seq"].is_number_unsigned() ||
        rec["seq"].get<uint64_t>() != prev_seq + 1) {
      const std::string seq = rec.contains("seq") ? Dump(rec["seq"]) : "none";
      return problem(line_no, "chain broken (record removed or reordered: seq " + seq +
                                  " follows seq " + std::to_string(prev_seq) + ")");
    }
    if (!rec["prev"].is_string() || rec["prev"].get<std::string>() != prev) {
      return problem(line_no, "chain broken (record edited, removed or reordered)");
    }
    prev = mac;
    prev_seq = rec["seq"].get<uint64_t>();
    if (prev_seq == head_seq) {
      mac_at_head = mac;
      head_line = line_no;
    }
    report.records = line_no;
  }

  // The head names the last record appended; a log that ends before it was cut short. After a
  // crash the head may lag behind the log (it is rewritten without fsync), so the check
  // is: the log reaches the head's seq, and the record there has the head's MAC.
  if (!head_text) {
    return problem(line_no + 1, "head file " + head_name +
                                    " is missing (records may have been removed from the end)");
  }
  if (head_forged) return problem(line_no + 1, "head file " + head_name + " failed authentication");
  if (prev_seq < head_seq) {
    return problem(line_no + 1, "records removed from the end (the log ends at seq " +
                                    std::to_string(prev_seq) + ", its head file says seq " +
                                    std::to_string(head_seq) + ")");
  }
  if (mac_at_head != head_mac) {
    return problem(head_line, "chain broken (record replaced: it does not match the head file)");
  }
  report.ok = true;
  return report;
}

std::string FormatRecord(const nlohmann::json& record) {
  auto show = [](const nlohmann::json& v) -> std::string {
    if (v.is_string()) {
      const std::string& s = v.get_ref<const std::string&>();
      std::string esc = JsonEscape(s);
      if (s.empty() || esc != s || s.find_first_of(" \"=") != std::string::npos) {
        return "\"" + esc + "\"";
      }
      return s;
    }
    return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  auto field = [&](std::string_view key) -> std::string {
    auto it = record.find(key);
    if (it == record.end()) return {};
    return show(*it);
  };
  if (!record.is_object()) return show(record);
  std::string out = field("time");
  out += " " + field("event");
  for (auto [key, label] : {std::pair{"task", "task"}, {"env", "env"}, {"run_id", "run"}}) {
    if (record.contains(key)) out += std::string(" ") + label + "=" + field(key);
  }
  static constexpr std::string_view kSkip[] = {"v",   "seq",    "time", "event", "task",
                                               "env", "run_id", "prev", "mac"};
  for (auto& [k, v] : record.items()) {
    bool skip = false;
    for (std::string_view s : kSkip) skip = skip || k == s;
    if (!skip) out += " " + JsonEscape(k) + "=" + show(v);
  }
  return out;
}

}  // namespace jitsec::audit
