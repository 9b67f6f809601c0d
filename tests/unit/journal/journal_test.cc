#include "journal/journal.h"

#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "base/log.h"
#include "support/support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace jitsec::journal {
namespace {

using jitsec::testing::ReadTextFile;
using jitsec::testing::ScopedTempDir;
using jitsec::testing::WriteTextFile;
using Clock = std::chrono::system_clock;

// Collects the operator log while alive.
class CaptureLog {
 public:
  CaptureLog() : sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_)) {
    sink_->set_pattern("jitsec: %l: %v");
    log::Logger().sinks().push_back(sink_);
  }
  ~CaptureLog() {
    auto& sinks = log::Logger().sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  std::string text() const { return stream_.str(); }

 private:
  std::ostringstream stream_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

Clock::time_point Ms(int64_t ms) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::milliseconds(ms)));
}

Entry MakeEntry(const std::string& lease_id) {
  Entry e;
  e.lease_id = lease_id;
  e.run_id = "r-0123456789abcdef";
  e.owner = RunOwner::Self();
  e.task = "migrate";
  e.credential = "DB";
  e.provider = "pg-staging";
  e.provider_type = "postgres";
  e.handle = "jitsec_" + lease_id;
  e.revoke_params = {{"conninfo", "host=/run/postgresql dbname=app"},
                     {"admin_secret", "pg-admin"},
                     {"role_prefix", "jitsec_"}};
  e.issued_at = Ms(1700000000123);
  e.expires_at = Ms(1700000600123);
  return e;
}

std::vector<std::string> Lines(const std::filesystem::path& p) {
  std::vector<std::string> out;
  std::istringstream in(ReadTextFile(p));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::set<std::string> OutstandingIds(const Journal& j) {
  auto out = j.Outstanding();
  EXPECT_TRUE(out.has_value()) << (out ? "" : out.error().message());
  std::set<std::string> ids;
  if (out) {
    for (const Entry& e : *out) ids.insert(e.lease_id);
  }
  return ids;
}

TEST(JournalTest, CreatesPrivateDirectoryAndFileWithHeader) {
  ScopedTempDir tmp;
  auto state = tmp / "state" / "jitsec";
  auto j = Journal::Open(state);
  ASSERT_TRUE(j.has_value()) << j.error().message();
  EXPECT_EQ(j->path(), state / "leases.journal");
  struct stat st {};
  ASSERT_EQ(::stat(state.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700U);
  ASSERT_EQ(::stat(j->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  EXPECT_EQ(ReadTextFile(j->path()), "jitsec-lease-journal 1\n");
}

TEST(JournalTest, RoundTripsEveryEntryFieldThroughReopen) {
  ScopedTempDir tmp;
  Entry in = MakeEntry("l-1");
  {
    auto j = Journal::Open(tmp.path());
    ASSERT_TRUE(j.has_value()) << j.error().message();
    ASSERT_TRUE(j->RecordIssuing(in));
    ASSERT_TRUE(j->RecordIssued("l-1", "jitsec_role_final", Ms(1700000900456)));
  }
  auto j = Journal::Open(tmp.path());
  ASSERT_TRUE(j.has_value());
  auto out = j->Outstanding();
  ASSERT_TRUE(out.has_value()) << out.error().message();
  ASSERT_EQ(out->size(), 1U);
  const Entry& e = (*out)[0];
  EXPECT_EQ(e.lease_id, "l-1");
  EXPECT_EQ(e.run_id, in.run_id);
  EXPECT_EQ(e.owner.pid, in.owner.pid);
  EXPECT_EQ(e.owner.start_time, in.owner.start_time);
  EXPECT_EQ(e.owner.boot_id, in.owner.boot_id);
  EXPECT_EQ(e.task, "migrate");
  EXPECT_EQ(e.credential, "DB");
  EXPECT_EQ(e.provider, "pg-staging");
  EXPECT_EQ(e.provider_type, "postgres");
  EXPECT_EQ(e.handle, "jitsec_role_final");  // the issued record's handle wins
  EXPECT_EQ(e.revoke_params, in.revoke_params);
  EXPECT_EQ(e.issued_at, in.issued_at);
  EXPECT_EQ(e.expires_at, Ms(1700000900456));
  EXPECT_EQ(e.state, LeaseState::kIssued);
  EXPECT_EQ(e.last_error, "");
}

TEST(JournalTest, IssuingOnlyLeaseIsOutstandingInStateIssuing) {
  ScopedTempDir tmp;
  auto j = Journal::Open(tmp.path());
  ASSERT_TRUE(j.has_value());
  ASSERT_TRUE(j->RecordIssuing(MakeEntry("l-1")));
  auto out = j->Outstanding();
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->size(), 1U);
  EXPECT_EQ((*out)[0].state, LeaseState::kIssuing);
  EXPECT_EQ((*out)[0].handle, "jitsec_l-1");
}

TEST(JournalTest, RevokedLeasesAreNotOutstandingAndOrderIsKept) {
  ScopedTempDir tmp;
  auto j = Journal::Open(tmp.path());
  ASSERT_TRUE(j.has_value());
  for (const char* id : {"l-a", "l-b", "l-c"}) ASSERT_TRUE(j->RecordIssuing(MakeEntry(id)));
  ASSERT_TRUE(j->RecordIssued("l-b", "", Ms(5)));
  ASSERT_TRUE(j->RecordRevoked("l-b"));
  auto out = j->Outstanding();
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->size(), 2U);
  EXPECT_EQ((*out)[0].lease_id, "l-a");
  EXPECT_EQ((*out)[1].lease_id, "l-c");
}

TEST(JournalTest, RevokeFailedKeepsLeaseOutstandingWithTheError) {
  ScopedTempDir tmp;
  auto j = Journal::Open(tmp.path());
  ASSERT_TRUE(j.has_value());
  ASSERT_TRUE(j->RecordIssuing(MakeEntry("l-1")));
  ASSERT_TRUE(j->RecordIssued("l-1", "h", Ms(5)));
  ASSERT_TRUE(j->RecordRevokeFailed("l-1", "postgres provider \"pg\": cannot connect: down"));
  auto out = j->Outstanding();
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->size(), 1U);
  EXPECT_EQ((*out)[0].state, LeaseState::kIssued);
  EXPECT_EQ((*out)[0].last_error, "postgres provider \"pg\": cannot connect: down");
}

TEST(JournalTest, EveryRecordIsOneChecksummedJsonLine) {
  ScopedTempDir tmp;
  auto j = Journal::Open(tmp.path());
  ASSERT_TRUE(j.has_value());
  ASSERT_TRUE(j->RecordIssuing(MakeEntry("l-1")));
  ASSERT_TRUE(j->RecordIssued("l-1", "h", Ms(5)));
  ASSERT_TRUE(j->RecordRevokeFailed("l-1", "x"));
  auto lines = Lines(j->path());
  ASSERT_EQ(lines.size(), 4U);
  EXPECT_EQ(lines[0], "jitsec-lease-journal 1");
  std::vector<std::string> types;
  for (size_t i = 1; i < lines.size(); ++i) {
    auto parsed = nlohmann::json::parse(lines[i], nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << lines[i];
    EXPECT_EQ(lines[i].rfind("{\"crc\":\"", 0), 0U) << lines[i];
    types.push_back(parsed["t"].get<std::string>());
  }
  EXPECT_EQ(types, (std::vector<std::string>{"issuing", "issued", "revoke_failed"}));
}

// Entry cannot hold a SecretBytes (move-only) without losing its copy constructor, and the
// issuing record has exactly these keys: adding a field means revisiting this list.
TEST(JournalTest, EntryHasNoSecretFieldByDesign) {
  static_assert(std::is_copy_constructible_v<Entry>, "Entry must stay free of SecretBytes");
  ScopedTempDir tmp;
  auto j = Journal::Open(tmp.path());
  ASSERT_TRUE(j.has_value());
  ASSERT_TRUE(j->RecordIssuing(MakeEntry("l-1")));
  auto lines = Lines(j->path());
  ASSERT_EQ(lines.size(), 2U);
  auto rec = nlohmann::json::parse(lines[1]);
  std::set<std::string> keys;
  for (const auto& [k, v] : rec.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"crc", "t", "lease_id", "run_id", "owner", "task",
                                         "credential", "provider", "provider_type", "handle",
                                         "revoke_params", "issued_at_ms", "expires_at_ms"}));
}

TEST(JournalTest, TornTailMidLineIsTruncatedWithWarning) {
  ScopedTempDir tmp;
  uintmax_t good_size = 0;
  {
    auto j = Journal::Open(tmp.path());
    ASSERT_TRUE(j.has_value());
    ASSERT_TRUE(j->RecordIssuing(MakeEntry("l-1")));
    good_size = std::filesystem::file_size(j->path());
    ASSERT_TRUE(j->RecordIssuing(MakeEntry("l-2")));
  }
  auto path = tmp / "leases.journal";
  std::filesystem::resize_file(path, good_size + 40);  // cut the second record mid-line
  CaptureLog logs;
  auto j = Journal::Open(tmp.path());
  ASSERT_TRUE(j.has_value()) << j.error().message();
  EXPECT_EQ(std::filesystem::file_size(path), good_size);
  EXPECT_NE(logs.text().find("jitsec: warning: lease journal \"" + path.string() +
                             "\": recovering: dropped 40 bytes of an incomplete or damaged "
                             "record at the end"),
            std::string::npos)
      << logs.text();
  EXPECT_EQ(OutstandingIds(*j), (std::set<std::string>{"l-1"}));
  ASSERT_TRUE(j->RecordIssuing(MakeEntry("l-3")));
  EXPECT_EQ(OutstandingIds(*j), (std::set<std::string>{"l-1", "l-3"}));
}

TEST(JournalTest, GarbageAppendedAfterLastRecordIsDropped) {
  ScopedTempDir tmp;
  uintmax_t good_size = 0;
  {
    auto j = Journal::Open(tmp.path());
    ASSERT_TRUE(j.has_value());
    ASSERT_TRUE(j->RecordIssuing(MakeEntry("l-1")));
    good_size = std::filesystem::file_size(j->path());
  }
  auto path = tmp / "leases.journal";
  {
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << "garbage line\n{\"crc\":\"00000000\",\"lease_id\":\"l-x\",\"t\":\"issuing\"}\n\x01\x02";
  }
  auto j = Journal::Open(tmp.path());
  ASSERT_TRUE(j.has_value()) << j.error().message();
  EXPECT_EQ(std::filesystem::file_size(path), good_size);
  EXPECT_EQ(OutstandingIds(*j), (std::set<std::string>{"l-1"}));
}

TEST(JournalTest, DamagedRecordInTheMiddleIsSkippedAndLaterOnesKept) {
  ScopedTempDir tmp;
  auto path = tmp / "leases.journal";
  {
    auto j = Journal::Open(tmp.path());
    ASSERT_TRUE(j.has_value());
    for (const char* id : {"l-1", "l-2", "l-3"}) ASSERT_TRUE(j->RecordIssuing(MakeEntry(id)));
  }
  std::string text = ReadTextFile(path);
  size_t at = text.find("l-2");
  ASSERT_NE(at, std::string::npos);
  text[at + 2] = '9';  // "l-9": the CRC no longer matches
  WriteTextFile(path, text);
  CaptureLog logs;
  auto j = Journal::Open(tmp.path());
  ASSERT_TRUE(j.has_value());
  EXPECT_NE(logs.text().find("skipping 1 damaged record(s)"), std::string::npos) << logs.text();
  EXPECT_EQ(OutstandingIds(*j), (std::set<std::string>{"l-1", "l-3"}));
}

TEST(JournalTest, AppendRepairsATornTailLeftByAnotherWriter) {
  ScopedTempDir tmp;
  auto j = Journal::Open(tmp.path());
  ASSERT_TRUE(j.has_value());
  ASSERT_TRUE(j->RecordIssuing(MakeEntry("l-1")));
  {
    std::ofstream out(j->path(), std::ios::app | std::ios::binary);
    out << "{\"crc\":\"12345678\",\"lease_id\":\"l-dead";  // a writer killed mid-record
  }
  ASSERT_TRUE(j->RecordIssuing(MakeEntry("l-2")));
  EXPECT_EQ(OutstandingIds(*j), (std::set<std::string>{"l-1", "l-2"}));
  for (const auto& line : Lines(j->path())) EXPECT_EQ(line.find("l-dead"), std::string::npos);
}

TEST(JournalTest, ForeignFileIsRefusedAsCorrupt) {
  ScopedTempDir tmp;
  WriteTextFile(tmp / "leases.journal", "hello\n");
  auto j = Journal::Open(tmp.path());
  ASSERT_FALSE(j.has_value());
  EXPECT_EQ(j.error().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(j.error().message(), "lease journal \"" + (tmp / "leases.journal").string() +
                                     "\": not a jitsec lease journal (bad header)");
  EXPECT_EQ(ReadTextFile(tmp / "leases.journal"), "hello\n");  // left untouched
}

TEST(JournalTest, NewerVersionIsRefusedAsUnsupported) {
  ScopedTempDir tmp;
  WriteTextFile(tmp / "leases.journal", "jitsec-lease-journal 2\n");
  auto j = Journal::Open(tmp.path());
  ASSERT_FALSE(j.has_value());
  EXPECT_EQ(j.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(j.error().message(), "lease journal \"" + (tmp / "leases.journal").string() +
                                     "\": unsupported version \"2\" (this jitsec reads version 1)");
}

TEST(JournalTest, TornHeaderFromInterruptedCreationIsRewritten) {
  ScopedTempDir tmp;
  WriteTextFile(tmp / "leases.journal", "jitsec-lease");
  auto j = Journal::Open(tmp.path());
  ASSERT_TRUE(j.has_value()) << j.error().message();
  EXPECT_EQ(ReadTextFile(j->path()), "jitsec-lease-journal 1\n");
}

TEST(JournalTest, CompactionKeepsOnlyOutstandingLeases) {
  ScopedTempDir tmp;
  auto j = Journal::Open(tmp.path());
  ASSERT_TRUE(j.has_value());
  for (const char* id : {"l-1", "l-2", "l-3"}) {
    ASSERT_TRUE(j->RecordIssuing(MakeEntry(id)));
    ASSERT_TRUE(j->RecordIssued(id, "", Ms(5)));
  }
  ASSERT_TRUE(j->RecordRevokeFailed("l-2", "boom"));
  ASSERT_TRUE(j->RecordRevoked("l-1"));
  ASSERT_TRUE(j->RecordRevoked("l-3"));
  auto before = j->Outstanding();
  ASSERT_TRUE(before.has_value());
  ASSERT_TRUE(j->Compact());
  auto lines = Lines(j->path());
  ASSERT_EQ(lines.size(), 4U);  // header + issuing, issued, revoke_failed of l-2
  for (size_t i = 1; i < lines.size(); ++i) EXPECT_NE(lines[i].find("\"l-2\""), std::string::npos);
  auto after = j->Outstanding();
  ASSERT_TRUE(after.has_value());
  ASSERT_EQ(after->size(), 1U);
  EXPECT_EQ((*after)[0].lease_id, "l-2");
  EXPECT_EQ((*after)[0].last_error, "boom");
  EXPECT_EQ((*after)[0].expires_at, (*before)[0].expires_at);
  // The journal keeps working on the new file, and so does another open instance.
  ASSERT_TRUE(j->RecordRevoked("l-2"));
  EXPECT_TRUE(OutstandingIds(*j).empty());
  struct stat st {};
  ASSERT_EQ(::stat(j->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
}

TEST(JournalTest, CompactWithNothingRevokedLeavesTheFileInPlace) {
  ScopedTempDir tmp;
  auto j = Journal::Open(tmp.path());
  ASSERT_TRUE(j.has_value());
  ASSERT_TRUE(j->RecordIssuing(MakeEntry("l-1")));
  struct stat a {}, b {};
  ASSERT_EQ(::stat(j->path().c_str(), &a), 0);
  ASSERT_TRUE(j->Compact());
  ASSERT_EQ(::stat(j->path().c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
}

TEST(JournalTest, InstanceOpenedBeforeCompactionWritesToTheNewFile) {
  ScopedTempDir tmp;
  auto a = Journal::Open(tmp.path());
  auto b = Journal::Open(tmp.path());
  ASSERT_TRUE(a.has_value() && b.has_value());
  ASSERT_TRUE(a->RecordIssuing(MakeEntry("l-1")));
  ASSERT_TRUE(a->RecordRevoked("l-1"));
  ASSERT_TRUE(a->RecordIssuing(MakeEntry("l-2")));
  ASSERT_TRUE(a->Compact());
  ASSERT_TRUE(b->RecordIssuing(MakeEntry("l-3")));  // b's descriptor names the replaced file
  auto c = Journal::Open(tmp.path());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(OutstandingIds(*c), (std::set<std::string>{"l-2", "l-3"}));
}

TEST(JournalTest, RevokingCompactsAutomaticallyWhenTheFileGrows) {
  ScopedTempDir tmp;
  auto j = Journal::Open(tmp.path());
  ASSERT_TRUE(j.has_value());
  ASSERT_TRUE(j->RecordIssuing(MakeEntry("l-keep")));
  uintmax_t max_size = 0;
  for (int i = 0; i < 250; ++i) {  // ~500 bytes per lease: several times the threshold
    std::string id = "l-" + std::to_string(i);
    ASSERT_TRUE(j->RecordIssuing(MakeEntry(id)));
    ASSERT_TRUE(j->RecordRevoked(id));
    max_size = std::max(max_size, std::filesystem::file_size(j->path()));
  }
  EXPECT_LE(max_size, kAutoCompactBytes + 2048);
  EXPECT_EQ(OutstandingIds(*j), (std::set<std::string>{"l-keep"}));
}

TEST(JournalTest, ConcurrentAppendsAndCompactionsFromManyProcessesLoseNothing) {
  ScopedTempDir tmp;
  ASSERT_TRUE(Journal::Open(tmp.path()).has_value());
  constexpr int kProcs = 24;
  constexpr int kLeases = 12;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      auto j = Journal::Open(tmp.path());
      if (!j) ::_exit(10);
      for (int i = 0; i < kLeases; ++i) {
        std::string id = "l-" + std::to_string(p) + "-" + std::to_string(i);
        if (!j->RecordIssuing(MakeEntry(id))) rc = 11;
        if (!j->RecordIssued(id, "h", Ms(1))) rc = 12;
        if (i % 2 == 0) {
          if (!j->RecordRevoked(id)) rc = 13;
          if (!j->Compact()) rc = 14;
        }
      }
      ::_exit(rc);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  auto j = Journal::Open(tmp.path());
  ASSERT_TRUE(j.has_value());
  std::set<std::string> expected;
  for (int p = 0; p < kProcs; ++p) {
    for (int i = 1; i < kLeases; i += 2) expected.insert("l-" + std::to_string(p) + "-" + std::to_string(i));
  }
  EXPECT_EQ(OutstandingIds(*j), expected);
  auto lines = Lines(j->path());
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_FALSE(nlohmann::json::parse(lines[i], nullptr, false).is_discarded()) << lines[i];
  }
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
    EXPECT_EQ(e.path().filename(), "leases.journal");  // no temporary file left behind
  }
}

TEST(RunOwnerTest, SelfIsAlive) {
  RunOwner self = RunOwner::Self();
  EXPECT_EQ(self.pid, ::getpid());
  EXPECT_GT(self.start_time, 0U);
  EXPECT_EQ(self.boot_id.size(), 36U);  // a UUID
  EXPECT_TRUE(self.IsAlive());
}

TEST(RunOwnerTest, ReapedChildIsDead) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    RunOwner me = RunOwner::Self();
    ssize_t n = ::write(fds[1], &me.start_time, sizeof me.start_time);
    ::_exit(n == sizeof me.start_time ? 0 : 1);
  }
  ::close(fds[1]);
  RunOwner child;
  ASSERT_EQ(::read(fds[0], &child.start_time, sizeof child.start_time),
            ssize_t(sizeof child.start_time));
  ::close(fds[0]);
  child.pid = pid;
  child.boot_id = RunOwner::Self().boot_id;
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_FALSE(child.IsAlive());
}

TEST(RunOwnerTest, UnreapedZombieIsDead) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(0);
  RunOwner child;
  child.pid = pid;
  child.boot_id = RunOwner::Self().boot_id;
  // Wait until it has exited (it stays a zombie: not reaped yet).
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT), 0);
  auto stat = ReadTextFile("/proc/" + std::to_string(pid) + "/stat");
  // Its real start time: only the zombie state makes it dead.
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 22 && in >> field; ++i) {
    if (i == 22) child.start_time = std::stoull(field);
  }
  ASSERT_GT(child.start_time, 0U);
  EXPECT_FALSE(child.IsAlive());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
}

TEST(RunOwnerTest, SamePidWithAnotherStartTimeIsDead) {
  RunOwner fake = RunOwner::Self();
  fake.start_time += 1;  // pid reused by a later process
  EXPECT_FALSE(fake.IsAlive());
}

TEST(RunOwnerTest, AnotherBootIsDead) {
  RunOwner fake = RunOwner::Self();
  fake.boot_id = "00000000-0000-0000-0000-000000000000";
  EXPECT_FALSE(fake.IsAlive());
}

TEST(RunOwnerTest, PidZeroIsDead) {
  RunOwner none;
  EXPECT_FALSE(none.IsAlive());
}

}  // namespace
}  // namespace jitsec::journal
