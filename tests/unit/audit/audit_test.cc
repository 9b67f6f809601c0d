#include "audit/audit.h"

#include <openssl/sha.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "base/secret.h"
#include "support/support.h"

namespace jitsec::audit {
namespace {

namespace fs = std::filesystem;
using ::jitsec::testing::ExpectNoCanary;
using ::jitsec::testing::MakeCanary;
using ::jitsec::testing::ReadTextFile;
using ::jitsec::testing::ScopedTempDir;
using ::jitsec::testing::WriteTextFile;
using nlohmann::json;

struct AuditFixture {
  ScopedTempDir tmp;
  fs::path log = tmp / "state/jitsec/audit.jsonl";
  fs::path key = tmp / "config/jitsec/audit.key";

  AuditLog OpenOrDie() {
    auto log_or = AuditLog::Open(log, key);
    EXPECT_TRUE(log_or) << log_or.error().message();
    return std::move(*log_or);
  }
  void AppendN(int n, std::string_view tag = "t") {
    AuditLog a = OpenOrDie();
    for (int i = 0; i < n; ++i) {
      auto st = a.Append({{"event", "issue"}, {"task", tag}, {"i", i}});
      ASSERT_TRUE(st) << st.error().message();
    }
  }
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    std::string text = ReadTextFile(log);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      lines.push_back(text.substr(pos, nl - pos));
      pos = nl + 1;
    }
    return lines;
  }
  void WriteLines(const std::vector<std::string>& lines) const {
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    WriteTextFile(log, text);
  }
  VerifyReport VerifyOrDie() const {
    auto r = Verify(log, key);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : VerifyReport{};
  }
};

mode_t ModeOf(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST(AuditLogTest, AppendWritesOneOrderedRecordPerLine) {
  AuditFixture f;
  AuditLog a = f.OpenOrDie();
  ASSERT_TRUE(a.Append({{"event", "start"}, {"task", "deploy"}, {"run_id", "r-1"}}));
  ASSERT_TRUE(a.Append({{"event", "end"}, {"status", 0}}));
  auto lines = f.Lines();
  ASSERT_EQ(lines.size(), 2u);
  // Key order: v, seq, time, the record's fields, prev, mac.
  const std::regex first(
      R"(^\{"v":1,"seq":1,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","event":"start",)"
      R"("run_id":"r-1","task":"deploy","prev":"0{64}","mac":"[0-9a-f]{64}"\}$)");
  EXPECT_TRUE(std::regex_match(lines[0], first)) << lines[0];
  json r1 = json::parse(lines[0]);
  json r2 = json::parse(lines[1]);
  EXPECT_EQ(r2["seq"], 2);
  EXPECT_EQ(r2["prev"], r1["mac"]);
  EXPECT_NE(r2["mac"], r1["mac"]);
  EXPECT_EQ(ModeOf(f.log), 0600u);
  EXPECT_EQ(ModeOf(f.key), 0600u);
  EXPECT_EQ(fs::file_size(f.key), 32u);
}

TEST(AuditLogTest, TimeIsCurrentUtc) {
  AuditFixture f;
  AuditLog a = f.OpenOrDie();
  ASSERT_TRUE(a.Append({{"event", "start"}}));
  char expect[32];
  time_t now = ::time(nullptr);
  struct tm tm {};
  ::gmtime_r(&now, &tm);
  std::strftime(expect, sizeof expect, "%Y-%m-%dT%H:", &tm);
  json r = json::parse(f.Lines().at(0));
  EXPECT_EQ(r["time"].get<std::string>().substr(0, 14), expect);
}

TEST(AuditLogTest, ChainContinuesAcrossReopen) {
  AuditFixture f;
  f.AppendN(3);
  f.AppendN(2);
  auto lines = f.Lines();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(json::parse(lines[4])["seq"], 5);
  VerifyReport r = f.VerifyOrDie();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 5u);
}

// Append reads the last record's seq and MAC from the line's fixed start and end (no JSON
// parse); a last line of another shape goes through the parser and chains the same way.
TEST(AuditLogTest, AppendChainsAfterALastRecordOfAnyValidShape) {
  AuditFixture f;
  f.AppendN(2);
  auto lines = f.Lines();
  ASSERT_EQ(lines.size(), 2u);
  const std::string mac = json::parse(lines[1])["mac"];
  // The same record with its keys reordered: not the fast shape, still a valid JSON record.
  lines[1] = R"({"seq":2,"event":"issue","v":1,"mac":")" + mac + R"("})";
  f.WriteLines(lines);
  f.AppendN(1);
  lines = f.Lines();
  ASSERT_EQ(lines.size(), 3u);
  json last = json::parse(lines[2]);
  EXPECT_EQ(last["seq"], 3);
  EXPECT_EQ(last["prev"], mac);
}

TEST(AuditLogTest, AppendRefusesALastLineThatLooksLikeARecordOnlyAtItsStart) {
  AuditFixture f;
  f.AppendN(1);
  std::string text = ReadTextFile(f.log);
  WriteTextFile(f.log, text + "{\"v\":1,\"seq\":2,\"event\":\"x\",\"mac\":\"not-hex\"}\n");
  AuditLog a = f.OpenOrDie();
  auto st = a.Append({{"event", "start"}});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kCorrupt);
}

TEST(AuditLogTest, AppendAllChainsSeveralRecordsInOneGoOrWritesNone) {
  AuditFixture f;
  f.AppendN(1);
  {
    AuditLog a = f.OpenOrDie();
    ASSERT_TRUE(a.AppendAll({{{"event", "decision"}}, {{"event", "issue"}}, {{"event", "issue"}}}));
    // One invalid record: nothing of the batch is written.
    auto st = a.AppendAll({{{"event", "start"}}, {{"no_event", 1}}});
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
  }
  auto lines = f.Lines();
  ASSERT_EQ(lines.size(), 4u);
  for (size_t i = 1; i < lines.size(); ++i) {
    json prev = json::parse(lines[i - 1]);
    json rec = json::parse(lines[i]);
    EXPECT_EQ(rec["seq"], i + 1);
    EXPECT_EQ(rec["prev"], prev["mac"]);
  }
  EXPECT_EQ(json::parse(lines[1])["event"], "decision");
  EXPECT_EQ(json::parse(lines[3])["time"], json::parse(lines[1])["time"]);
  VerifyReport r = f.VerifyOrDie();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 4u);
}

TEST(AuditLogTest, AppendRejectsRecordsWithoutEventOrWithReservedKeys) {
  AuditFixture f;
  AuditLog a = f.OpenOrDie();
  auto no_event = a.Append({{"task", "x"}});
  ASSERT_FALSE(no_event);
  EXPECT_EQ(no_event.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(no_event.error().message(), "audit record must be an object with an \"event\"");
  auto reserved = a.Append({{"event", "x"}, {"mac", "forged"}});
  ASSERT_FALSE(reserved);
  EXPECT_EQ(reserved.error().message(), "audit record must not set \"mac\" (the log adds it)");
  EXPECT_EQ(fs::file_size(f.log), 0u);
}

TEST(AuditLogTest, InvalidUtf8IsReplacedNotThrown) {
  AuditFixture f;
  AuditLog a = f.OpenOrDie();
  ASSERT_TRUE(a.Append({{"event", "start"}, {"cwd", std::string("/tmp/\xff\xfe")}}));
  VerifyReport r = f.VerifyOrDie();
  EXPECT_TRUE(r.ok) << r.problem;
  auto all = ReadAll(f.log);
  ASSERT_TRUE(all);
  EXPECT_EQ((*all)[0]["cwd"], "/tmp/\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(AuditVerifyTest, IntactLogVerifies) {
  AuditFixture f;
  f.AppendN(10);
  VerifyReport r = f.VerifyOrDie();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 10u);
  EXPECT_EQ(r.problem, "");
}

TEST(AuditVerifyTest, MissingLogIsAnEmptyValidLog) {
  AuditFixture f;
  VerifyReport r = f.VerifyOrDie();
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.records, 0u);
}

TEST(AuditVerifyTest, EditedFieldFailsAtThatLine) {
  AuditFixture f;
  f.AppendN(5, "deploy");
  auto lines = f.Lines();
  const size_t at = lines[2].find("\"deploy\"");
  ASSERT_NE(at, std::string::npos);
  lines[2].replace(at, 8, "\"deplox\"");
  f.WriteLines(lines);
  VerifyReport r = f.VerifyOrDie();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.problem, "line 3: chain broken (record edited: its MAC does not match)");
  EXPECT_EQ(r.records, 2u);
}

TEST(AuditVerifyTest, EditedSeqOrPrevFails) {
  AuditFixture f;
  f.AppendN(3);
  auto lines = f.Lines();
  lines[1].replace(lines[1].find("\"seq\":2"), 7, "\"seq\":7");
  f.WriteLines(lines);
  EXPECT_EQ(f.VerifyOrDie().problem,
            "line 2: chain broken (record edited: its MAC does not match)");
}

TEST(AuditVerifyTest, DeletedMiddleLineFails) {
  AuditFixture f;
  f.AppendN(5);
  auto lines = f.Lines();
  lines.erase(lines.begin() + 2);
  f.WriteLines(lines);
  VerifyReport r = f.VerifyOrDie();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.problem, "line 3: chain broken (record removed or reordered: seq 4 follows seq 2)");
}

TEST(AuditVerifyTest, DeletedFirstLineFails) {
  AuditFixture f;
  f.AppendN(3);
  auto lines = f.Lines();
  lines.erase(lines.begin());
  f.WriteLines(lines);
  EXPECT_EQ(f.VerifyOrDie().problem,
            "line 1: chain broken (record removed or reordered: seq 2 follows seq 0)");
}

TEST(AuditVerifyTest, SwappedLinesFail) {
  AuditFixture f;
  f.AppendN(5);
  auto lines = f.Lines();
  std::swap(lines[1], lines[2]);
  f.WriteLines(lines);
  VerifyReport r = f.VerifyOrDie();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.problem, "line 2: chain broken (record removed or reordered: seq 3 follows seq 1)");
}

TEST(AuditVerifyTest, RenumberedReorderStillFailsOnMac) {
  // An attacker who swaps records and fixes the numbers cannot recompute the MACs.
  AuditFixture f;
  f.AppendN(3);
  auto lines = f.Lines();
  std::swap(lines[1], lines[2]);
  lines[1].replace(lines[1].find("\"seq\":3"), 7, "\"seq\":2");
  f.WriteLines(lines);
  EXPECT_EQ(f.VerifyOrDie().problem,
            "line 2: chain broken (record edited: its MAC does not match)");
}

TEST(AuditVerifyTest, DeletedLastLineFailsThroughTheHead) {
  AuditFixture f;
  f.AppendN(4);
  auto lines = f.Lines();
  lines.pop_back();
  f.WriteLines(lines);
  VerifyReport r = f.VerifyOrDie();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.problem,
            "line 4: records removed from the end (the log ends at seq 3, its head file says "
            "seq 4)");
}

TEST(AuditVerifyTest, EmptiedLogFailsThroughTheHead) {
  AuditFixture f;
  f.AppendN(2);
  f.WriteLines({});
  EXPECT_EQ(f.VerifyOrDie().problem,
            "line 1: records removed from the end (the log ends at seq 0, its head file says "
            "seq 2)");
}

TEST(AuditVerifyTest, ForgedHeadFails) {
  AuditFixture f;
  f.AppendN(4);
  auto lines = f.Lines();
  lines.pop_back();
  f.WriteLines(lines);
  // Rewrite the head to match the shortened log, without the key.
  json last = json::parse(lines.back());
  json head = {{"seq", 3}, {"mac", last["mac"]}, {"hmac", std::string(64, 'a')}};
  const fs::path head_path = f.log.string() + ".head";
  WriteTextFile(head_path, head.dump() + "\n");
  EXPECT_EQ(f.VerifyOrDie().problem,
            "line 4: head file \"" + head_path.string() + "\" failed authentication");
}

TEST(AuditVerifyTest, HeadLaggingBehindTheLogIsAccepted) {
  // After a crash the head (rewritten without fsync) may name an earlier record.
  AuditFixture f;
  f.AppendN(3);
  const fs::path head_path = f.log.string() + ".head";
  const std::string old_head = ReadTextFile(head_path);
  f.AppendN(2);
  WriteTextFile(head_path, old_head);
  VerifyReport r = f.VerifyOrDie();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 5u);
}

TEST(AuditLogTest, HeadIsWrittenAtFirstRecordSyncAndCloseNotPerRecord) {
  AuditFixture f;
  const fs::path head_path = f.log.string() + ".head";
  auto head_seq = [&] { return json::parse(ReadTextFile(head_path))["seq"].get<int>(); };
  {
    AuditLog a = f.OpenOrDie();
    ASSERT_TRUE(a.Append({{"event", "decision"}}));
    EXPECT_EQ(head_seq(), 1);  // a log with records never lacks a head
    ASSERT_TRUE(a.Append({{"event", "issue"}}));
    ASSERT_TRUE(a.Append({{"event", "start"}}));
    EXPECT_EQ(head_seq(), 1);  // lags while the run goes on (verify accepts that)
    EXPECT_TRUE(f.VerifyOrDie().ok);
    ASSERT_TRUE(a.Sync());
    EXPECT_EQ(head_seq(), 3);
    ASSERT_TRUE(a.Append({{"event", "end"}}));
  }
  EXPECT_EQ(head_seq(), 4);  // caught up at close: cutting the last record is detected
  VerifyReport r = f.VerifyOrDie();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 4u);
}

// `jitsec run` ends with SyncDetached and exits: the records are in the log at once, the head
// follows once the helper has synced the log, and whoever takes the log's lock next (verify,
// the next run) sees the synced state with the head at the last record.
TEST(AuditLogTest, SyncDetachedLeavesTheSyncToAHelperThatHoldsTheLock) {
  AuditFixture f;
  const fs::path head_path = f.log.string() + ".head";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int rc = 0;
    auto a = AuditLog::Open(f.log, f.key);
    if (!a) ::_exit(2);
    for (int i = 0; rc == 0 && i < 3; ++i) {
      if (!a->Append({{"event", "issue"}, {"i", i}})) rc = 3;
    }
    if (rc == 0 && !a->SyncDetached()) rc = 4;
    // The log is handed over: no more records, and closing it leaves the head to the helper.
    if (rc == 0 && a->Append({{"event", "late"}})) rc = 5;
    if (rc == 0 && a->Sync()) rc = 6;
    ::_exit(rc);
  }
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st)) << st;
  ASSERT_EQ(WEXITSTATUS(st), 0);
  VerifyReport r = f.VerifyOrDie();  // under the shared lock: after the helper
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 3u);
  EXPECT_EQ(json::parse(ReadTextFile(head_path))["seq"], 3);
}

// settings.audit.syslog: each record goes to syslog as its line in the file, authpriv.info
// (priority 10 << 3 | 6), once syslog is on. Syslog is a real socket at /dev/log of the test's
// own (CaptureSyslog).
TEST(AuditLogTest, AlsoSyslogSendsEachRecordAsItsLine) {
  JITSEC_SKIP_UNLESS(::jitsec::testing::Feature::kUserNamespaces);
  AuditFixture f;
  auto captured = ::jitsec::testing::CaptureSyslog(f.tmp.path(), [&] {
    auto a = AuditLog::Open(f.log, f.key);
    if (!a) return 20;
    if (!a->Append({{"event", "before"}})) return 21;  // not sent: syslog is not on yet
    a->AlsoSyslog();
    if (!a->AppendAll({json{{"event", "decision"}}, json{{"event", "issue"}, {"n", 1}}})) return 22;
    if (!a->Append({{"event", "end"}})) return 23;
    return 0;
  });
  ASSERT_EQ(captured.status, 0) << "step that failed in the child";
  auto lines = f.Lines();
  ASSERT_EQ(lines.size(), 4u);
  ASSERT_EQ(captured.messages.size(), 3u);
  for (size_t i = 0; i < captured.messages.size(); ++i) {
    EXPECT_EQ(::jitsec::testing::SyslogText(captured.messages[i], 86, "jitsec"), lines[i + 1])
        << captured.messages[i];
  }
}

// The head is rewritten in place (one inode for the life of the log, no rename per run) and
// always has the same size, so a shorter head never leaves the end of a longer one behind.
TEST(AuditLogTest, HeadIsRewrittenInPlaceAtAFixedSize) {
  AuditFixture f;
  const fs::path head_path = f.log.string() + ".head";
  f.AppendN(1);
  struct stat first {};
  ASSERT_EQ(::stat(head_path.c_str(), &first), 0);
  EXPECT_EQ(first.st_size, 256);
  f.AppendN(12);  // seq grows from one digit to two
  struct stat later {};
  ASSERT_EQ(::stat(head_path.c_str(), &later), 0);
  EXPECT_EQ(later.st_ino, first.st_ino);
  EXPECT_EQ(later.st_size, 256);
  EXPECT_EQ(json::parse(ReadTextFile(head_path))["seq"], 13);
  EXPECT_EQ(ModeOf(head_path), 0600u);
  EXPECT_TRUE(f.VerifyOrDie().ok);
}

// A head written by an earlier jitsec (shorter, no padding) or grown by hand past the fixed size
// is taken over: the next head is exactly the fixed size and verifies.
TEST(AuditLogTest, HeadOfAnotherSizeIsTakenOver) {
  AuditFixture f;
  const fs::path head_path = f.log.string() + ".head";
  f.AppendN(2);
  std::string compact = ReadTextFile(head_path);
  while (!compact.empty() && (compact.back() == ' ' || compact.back() == '\n')) compact.pop_back();
  WriteTextFile(head_path, compact + "\n");
  EXPECT_TRUE(f.VerifyOrDie().ok);
  f.AppendN(1);
  EXPECT_EQ(fs::file_size(head_path), 256u);
  EXPECT_TRUE(f.VerifyOrDie().ok);
  WriteTextFile(head_path, ReadTextFile(head_path) + std::string(500, ' ') + "\n");
  f.AppendN(1);
  EXPECT_EQ(fs::file_size(head_path), 256u);
  VerifyReport r = f.VerifyOrDie();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 4u);
}

TEST(AuditLogTest, HeadThatIsASymlinkIsRefused) {
  AuditFixture f;
  f.AppendN(1);
  const fs::path head_path = f.log.string() + ".head";
  const fs::path elsewhere = f.tmp / "elsewhere";
  WriteTextFile(elsewhere, "x");
  fs::remove(head_path);
  fs::create_symlink(elsewhere, head_path);
  auto a = AuditLog::Open(f.log, f.key);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code(), ErrorCode::kIo);
  EXPECT_EQ(ReadTextFile(elsewhere), "x");
}

// Verify reads the log and its head under a shared lock, writers append and move the head under
// an exclusive one: verifying while other processes run never sees a head ahead of the log.
TEST(AuditVerifyTest, VerifyDuringConcurrentRunsSeesAConsistentState) {
  AuditFixture f;
  f.AppendN(1);
  constexpr int kProcs = 2;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      for (int run = 0; rc == 0 && run < 25; ++run) {  // one "run": open, 3 records, sync, close
        auto a = AuditLog::Open(f.log, f.key);
        if (!a) rc = 2;
        for (int i = 0; rc == 0 && i < 3; ++i) {
          if (!a->Append({{"event", "issue"}, {"proc", p}, {"i", i}})) rc = 3;
        }
        if (rc == 0 && !a->Sync()) rc = 4;
      }
      ::_exit(rc);
    }
    pids.push_back(pid);
  }
  int verified = 0;
  for (bool running = true; running;) {
    VerifyReport r = f.VerifyOrDie();
    EXPECT_TRUE(r.ok) << r.problem;
    ++verified;
    running = false;
    for (pid_t pid : pids) running = running || ::waitpid(pid, nullptr, WNOHANG) == 0;
  }
  for (pid_t pid : pids) (void)::waitpid(pid, nullptr, 0);
  VerifyReport r = f.VerifyOrDie();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, size_t(1 + kProcs * 25 * 3));
  EXPECT_GT(verified, 1);
}

TEST(AuditVerifyTest, HeadOfAnotherLogWithTheSameKeyFails) {
  AuditFixture f;
  f.AppendN(3);
  const fs::path other_log = f.tmp / "state/jitsec/other.jsonl";
  {
    auto other = AuditLog::Open(other_log, f.key);
    ASSERT_TRUE(other);
    ASSERT_TRUE(other->Append({{"event", "x"}}));
    ASSERT_TRUE(other->Append({{"event", "y"}}));
  }
  fs::copy_file(other_log.string() + ".head", f.log.string() + ".head",
                fs::copy_options::overwrite_existing);
  EXPECT_EQ(f.VerifyOrDie().problem,
            "line 2: chain broken (record replaced: it does not match the head file)");
}

TEST(AuditVerifyTest, MissingHeadFails) {
  AuditFixture f;
  f.AppendN(2);
  const fs::path head_path = f.log.string() + ".head";
  fs::remove(head_path);
  EXPECT_EQ(f.VerifyOrDie().problem,
            "line 3: head file \"" + head_path.string() +
                "\" is missing (records may have been removed from the end)");
}

TEST(AuditVerifyTest, TornTailIsReported) {
  AuditFixture f;
  f.AppendN(2);
  std::string text = ReadTextFile(f.log);
  WriteTextFile(f.log, text + "{\"v\":1,\"seq\":3");
  EXPECT_EQ(f.VerifyOrDie().problem,
            "line 3: incomplete record (the log was cut or a write was torn)");
  // Appending to a log with a torn tail fails closed instead of extending a broken chain.
  AuditLog a = f.OpenOrDie();
  auto st = a.Append({{"event", "start"}});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(st.error().message(), "audit log \"" + f.log.string() +
                                      "\" ends with an incomplete record (check it with jitsec "
                                      "audit verify)");
}

TEST(AuditVerifyTest, WrongKeyFailsAtTheFirstLine) {
  AuditFixture f;
  f.AppendN(2);
  fs::path other = f.tmp / "other.key";
  { auto a = AuditLog::Open(f.tmp / "other.jsonl", other); ASSERT_TRUE(a); }
  auto r = Verify(f.log, other);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->problem, "line 1: chain broken (record edited: its MAC does not match)");
}

TEST(AuditVerifyTest, GarbageLineIsReported) {
  AuditFixture f;
  f.AppendN(2);
  auto lines = f.Lines();
  lines.insert(lines.begin() + 1, "not json");
  f.WriteLines(lines);
  EXPECT_EQ(f.VerifyOrDie().problem, "line 2: not a valid JSON record");
}

TEST(AuditKeyTest, KeyReadableByOthersIsRefused) {
  AuditFixture f;
  f.AppendN(1);
  ASSERT_EQ(::chmod(f.key.c_str(), 0644), 0);
  auto a = AuditLog::Open(f.log, f.key);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(a.error().message(), "audit key \"" + f.key.string() +
                                     "\" is accessible by other users (mode 0644); fix: chmod "
                                     "600 " + f.key.string());
  auto v = Verify(f.log, f.key);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), ErrorCode::kPermissionDenied);
}

TEST(AuditFingerprintTest, StableForTheSameKeyAndValue) {
  AuditFixture f;
  const SecretBytes value("hunter2");
  std::string first;
  {
    AuditLog a = f.OpenOrDie();
    first = a.Fingerprint(value);
    EXPECT_EQ(first, a.Fingerprint(SecretBytes("hunter2")));
  }
  AuditLog again = f.OpenOrDie();
  EXPECT_EQ(again.Fingerprint(value), first);
  EXPECT_TRUE(std::regex_match(first, std::regex("^hmac-sha256:[0-9a-f]{32}$"))) << first;
  EXPECT_NE(again.Fingerprint(SecretBytes("hunter3")), first);
}

TEST(AuditFingerprintTest, DiffersAcrossKeys) {
  AuditFixture f1;
  AuditFixture f2;
  const SecretBytes value("hunter2");
  EXPECT_NE(f1.OpenOrDie().Fingerprint(value), f2.OpenOrDie().Fingerprint(value));
}

TEST(AuditFingerprintTest, IsNotAPlainHashOfTheValue) {
  AuditFixture f;
  AuditLog a = f.OpenOrDie();
  const std::string value = MakeCanary("fp");
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(value.data()), value.size(), md);
  const std::string plain = HexEncode(std::string_view(reinterpret_cast<char*>(md), sizeof md));
  const std::string fp = a.Fingerprint(SecretBytes(value));
  EXPECT_EQ(fp.find(plain.substr(0, 32)), std::string::npos);
  EXPECT_NE(fp, "hmac-sha256:" + plain.substr(0, 32));
  ASSERT_TRUE(a.Append({{"event", "issue"}, {"fingerprint", fp}}));
  ExpectNoCanary(ReadTextFile(f.log), value, "audit log");
  ExpectNoCanary(ReadTextFile(f.log.string() + ".head"), value, "audit head");
}

TEST(AuditLogTest, ConcurrentAppendsFromFourProcessesKeepTheChain) {
  AuditFixture f;
  { f.OpenOrDie(); }  // create the key first, so children share it
  constexpr int kProcs = 4;
  constexpr int kEach = 40;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Each process opens its own log: flock belongs to the open file description.
      auto a = AuditLog::Open(f.log, f.key);
      int rc = a ? 0 : 2;
      for (int i = 0; rc == 0 && i < kEach; ++i) {
        if (!a->Append({{"event", "issue"}, {"proc", p}, {"i", i}})) rc = 3;
      }
      ::_exit(rc);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
  VerifyReport r = f.VerifyOrDie();
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, size_t(kProcs * kEach));
}

TEST(AuditReadAllTest, ReturnsRecordsOldestFirst) {
  AuditFixture f;
  f.AppendN(3);
  auto all = ReadAll(f.log);
  ASSERT_TRUE(all) << all.error().message();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0]["i"], 0);
  EXPECT_EQ((*all)[2]["i"], 2);
  EXPECT_EQ((*all)[2]["seq"], 3);
}

TEST(AuditReadAllTest, InvalidLineIsCorrupt) {
  AuditFixture f;
  f.AppendN(1);
  WriteTextFile(f.log, ReadTextFile(f.log) + "{oops\n");
  auto all = ReadAll(f.log);
  ASSERT_FALSE(all);
  EXPECT_EQ(all.error().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(all.error().message(),
            "audit log \"" + f.log.string() + "\" line 2 is not a valid record");
}

TEST(AuditReadAllTest, MissingLogHasNoRecords) {
  AuditFixture f;
  auto all = ReadAll(f.log);
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->empty());
}

TEST(AuditFormatRecordTest, FormatsOneHumanLine) {
  json r = {{"v", 1},
            {"seq", 4},
            {"time", "2026-11-22T17:43:00.123Z"},
            {"event", "issue"},
            {"task", "deploy"},
            {"env", "staging"},
            {"run_id", "r-42"},
            {"name", "DB"},
            {"ttl", 600},
            {"argv", {"psql", "-c", "select 1"}},
            {"note", "two words"},
            {"prev", std::string(64, '0')},
            {"mac", std::string(64, 'a')}};
  EXPECT_EQ(FormatRecord(r),
            "2026-11-22T17:43:00.123Z issue task=deploy env=staging run=r-42 "
            "argv=[\"psql\",\"-c\",\"select 1\"] name=DB note=\"two words\" ttl=600");
}

TEST(AuditFormatRecordTest, EscapesControlCharacters) {
  json r = {{"time", "T"}, {"event", "end"}, {"cwd", "/tmp/\x1b[31mred"}};
  EXPECT_EQ(FormatRecord(r), "T end cwd=\"/tmp/\\u001b[31mred\"");
}

}  // namespace
}  // namespace jitsec::audit
