// End-to-end tests of `jitsec run` on the embedded store: every delivery form, the canary
// checks of invariant 1, exit statuses, signals, refusals, audit verification.
// These drive the built binary; tasks here disable the sandbox unless the test is about it,
// so they prove the core independently of the kernel's sandbox features.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "support/support.h"

namespace jitsec::testing {
namespace {

namespace fs = std::filesystem;

std::string Fnv(std::string_view data) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "len=%zu fnv=%016llx", data.size(), static_cast<unsigned long long>(h));
  return buf;
}

class RunE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    workspace_ = home_.dir.path() / "work";
    fs::create_directories(workspace_);
    canary_ = MakeCanary("e2e");
  }

  std::map<std::string, std::string> Env() const {
    auto env = home_.Env();
    env["JITSEC_POLICY"] = (home_.dir.path() / "policy.yaml").string();
    return env;
  }

  void WritePolicy(const std::string& yaml) { WriteTextFile(home_.dir.path() / "policy.yaml", yaml, 0600); }

  ProcessResult Jitsec(const std::vector<std::string>& args, const std::string& stdin_data = "") {
    RunOptions o;
    o.env = Env();
    o.cwd = workspace_;
    o.stdin_data = stdin_data;
    return RunJitsec(args, o);
  }

  void SetSecret(const std::string& name, const std::string& value) {
    auto r = Jitsec({"secret", "set", name}, value);
    ASSERT_EQ(r.status, 0) << r.err;
  }

  std::string AuditText() const { return ReadTextFile(home_.state() / "audit.jsonl"); }
  std::vector<nlohmann::json> AuditRecords() const {
    std::vector<nlohmann::json> out;
    std::ifstream in(home_.state() / "audit.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    }
    return out;
  }
  int CountEvents(const std::string& event) const {
    int n = 0;
    for (const auto& r : AuditRecords()) n += r.value("event", "") == event ? 1 : 0;
    return n;
  }

  // Invariant 1: the canary is nowhere it must not be.
  void ExpectNoLeak(const ProcessResult& r) {
    ExpectNoCanary(r.out, canary_, "jitsec's stdout");
    ExpectNoCanary(r.err, canary_, "jitsec's stderr");
    ExpectNoCanary(AuditText(), canary_, "the audit log");
    ExpectNoCanaryInTree(home_.state(), canary_);   // journal, audit, kernel cache
    ExpectNoCanaryInTree(home_.config(), canary_);  // keys
    ExpectNoCanaryInTree(workspace_, canary_);
    ExpectNoCanaryInTree(home_.dir.path() / "home", canary_);  // incl. the encrypted store
  }

  // `policy` (from Policy()) with a `settings:` section holding `settings_body`.
  static std::string WithSettings(std::string policy, const std::string& settings_body) {
    const std::string version = "version: 1\n";
    EXPECT_EQ(policy.rfind(version, 0), 0u);
    return policy.replace(0, version.size(), version + "settings:\n" + settings_body);
  }

  std::string Policy(const std::string& deliver, const std::string& extra_task = "",
                     const std::string& sandbox = "    sandbox: {enabled: false}\n") {
    return "version: 1\n"
           "tasks:\n"
           "  t:\n"
           "    description: test task\n" +
           extra_task + sandbox +
           "    credentials:\n"
           "      TOKEN:\n"
           "        provider: store\n"
           "        secret: tok\n"
           "        ttl: 5m\n"
           "        deliver:\n" +
           deliver;
  }

  JitsecHome home_;
  fs::path workspace_;
  std::string canary_;
};

TEST_F(RunE2ETest, RawFileDeliveryReachesCommandSealedAndNothingLeaks) {
  SetSecret("tok", canary_);
  WritePolicy(Policy("          - file: {env: TOKEN_FILE}\n"));
  auto r = Jitsec({"-v", "run", "--task", "t", "--", Helper("show_fd_digest"), "/dev/fd/3"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(Fnv(canary_)), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("writable=no"), std::string::npos) << r.out;
  ExpectNoLeak(r);
}

TEST_F(RunE2ETest, EveryFileFormatIsRenderedAsDocumented) {
  SetSecret("tok", canary_);
  struct Case {
    std::string deliver;
    std::string expected;
  } cases[] = {
      {"          - file: {env: F, format: raw}\n", canary_},
      {"          - file: {env: F, format: netrc}\n", "default login token password " + canary_ + "\n"},
      {"          - file: {env: F, format: dotenv}\n", "TOKEN=\"" + canary_ + "\"\n"},
      {"          - file: {env: F, format: json}\n", "{\"value\":\"" + canary_ + "\"}\n"},
      {"          - file: {env: F, format: template, template: \"//registry/:_authToken={{value}}\\n\"}\n",
       "//registry/:_authToken=" + canary_ + "\n"},
  };
  for (const auto& c : cases) {
    WritePolicy(Policy(c.deliver));
    auto r = Jitsec({"run", "--task", "t", "--", "/bin/sh", "-c", "exec \"$0\" \"$F\"", Helper("show_fd_digest")});
    ASSERT_EQ(r.status, 0) << c.deliver << r.err;
    EXPECT_NE(r.out.find(Fnv(c.expected)), std::string::npos) << c.deliver << "\n" << r.out;
    ExpectNoLeak(r);
  }
}

TEST_F(RunE2ETest, StdinDeliveryFeedsTheCommand) {
  SetSecret("tok", canary_);
  WritePolicy(Policy("          - stdin: {format: raw}\n"));
  auto r = Jitsec({"run", "--task", "t", "--", Helper("show_fd_digest"), "-"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(Fnv(canary_)), std::string::npos) << r.out;
  ExpectNoLeak(r);
}

TEST_F(RunE2ETest, SecretIsNotInTheChildEnvironmentUnlessUnsafe) {
  SetSecret("tok", canary_);
  WritePolicy(Policy("          - file: {env: TOKEN_FILE}\n"));
  // --no-mask: a leak into the environment would show up verbatim.
  auto r = Jitsec({"run", "--no-mask", "--task", "t", "--", Helper("show_env")});
  ASSERT_EQ(r.status, 0) << r.err;
  ExpectNoLeak(r);
  EXPECT_NE(r.out.find("TOKEN_FILE=/dev/fd/3\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("JITSEC_TASK=t\n"), std::string::npos);
  EXPECT_NE(r.out.find("JITSEC_RUN_ID=r-"), std::string::npos);

  WritePolicy(Policy("          - env: {name: TOKEN, field: value, unsafe: true}\n"));
  auto u = Jitsec({"run", "--no-mask", "--task", "t", "--", Helper("show_env")});
  ASSERT_EQ(u.status, 0) << u.err;
  EXPECT_NE(u.out.find("TOKEN=" + canary_ + "\n"), std::string::npos) << "unsafe env delivery";
  auto m = Jitsec({"run", "--task", "t", "--", Helper("show_env")});
  EXPECT_NE(m.out.find("TOKEN=***\n"), std::string::npos) << m.out;
  ExpectNoCanary(m.out, canary_, "masked output");
}

TEST_F(RunE2ETest, ChildEnvironmentIsExactlyPassSetDeliveriesAndJitsecVariables) {
  SetSecret("tok", canary_);
  WritePolicy(Policy("          - file: {env: TOKEN_FILE}\n",
                     "    env:\n      pass: [PATH, LANG]\n      set: {MODE: test}\n"));
  RunOptions o;
  o.env = Env();
  o.env["SECRETISH"] = "should-not-pass";
  o.cwd = workspace_;
  auto r = RunJitsec({"run", "--task", "t", "--", Helper("show_env")}, o);
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<std::string> lines;
  std::stringstream ss(r.out);
  for (std::string l; std::getline(ss, l);) lines.push_back(l.substr(0, l.find('=')));
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"JITSEC_ENV", "JITSEC_RUN_ID", "JITSEC_TASK", "LANG", "MODE",
                                             "PATH", "TOKEN_FILE"}));
}

TEST_F(RunE2ETest, OnlyStandardAndDeliveredDescriptorsAreInherited) {
  SetSecret("tok", canary_);
  WritePolicy(Policy("          - file: {env: A}\n          - file: {env: B, format: json}\n"));
  auto r = Jitsec({"run", "--task", "t", "--", Helper("show_fds")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "0\n1\n2\n3\n4\n");
}

TEST_F(RunE2ETest, OutputIsMaskedIncludingValuesSplitAcrossWrites) {
  SetSecret("tok", canary_);
  WritePolicy(Policy("          - file: {env: F}\n"));
  auto r = Jitsec({"run", "--task", "t", "--", "/bin/sh", "-c",
                   "printf 'before '; head -c 9 \"$F\"; sleep 0.2; tail -c +10 \"$F\"; printf ' after\\n'; "
                   "cat \"$F\" >&2"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "before *** after\n");
  EXPECT_EQ(r.err, "***");
  ExpectNoLeak(r);
  // --no-mask is honoured and recorded.
  auto n = Jitsec({"run", "--no-mask", "--task", "t", "--", "/bin/sh", "-c", "cat \"$F\""});
  EXPECT_EQ(n.out, canary_);
  bool recorded = false;
  for (const auto& rec : AuditRecords()) {
    if (rec.value("event", "") == "start" && rec.value("no_mask", false)) recorded = true;
  }
  EXPECT_TRUE(recorded);
}

// The relay reads whatever one write(2) delivered: here every byte of the value is its own
// write, with a pause after it, so each read holds one byte and the match spans 34 reads.
TEST_F(RunE2ETest, SecretWrittenByteByByteWithPausesIsMasked) {
  SetSecret("tok", canary_);
  for (bool sandboxed : {false, true}) {
    if (sandboxed && !HasFeatureForPart(Feature::kDefaultSandbox)) continue;
    WritePolicy(Policy("          - file: {env: F}\n", "",
                       sandboxed ? SandboxWithHelpersYaml() : "    sandbox: {enabled: false}\n"));
    auto r = Jitsec({"run", "--task", "t", "--", "/bin/sh", "-c",
                     "printf 'x'; n=$(wc -c < \"$F\"); i=0; while [ $i -lt $n ]; do "
                     "dd if=\"$F\" bs=1 skip=$i count=1 status=none; sleep 0.01; i=$((i + 1)); "
                     "done; printf 'y\\n'"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "x***y\n") << "sandboxed=" << sandboxed;
    ExpectNoLeak(r);
  }
}

// Output that keeps the relay's buffer full (it then reads again without polling in between):
// the value lands at many offsets relative to the read boundaries, and everything else passes
// byte for byte.
TEST_F(RunE2ETest, LongStreamedOutputIsMaskedExactlyAcrossReadBoundaries) {
  SetSecret("tok", canary_);
  std::string filler;
  for (int i = 0; filler.size() < 65536; ++i) {
    filler += "log line " + std::to_string(i) + " status=ok\n";
  }
  filler.resize(65536);
  WriteTextFile(workspace_ / "filler", filler);
  constexpr int kPieces = 200;
  std::string expected;
  for (int i = 1; i <= kPieces; ++i) expected += filler.substr(0, size_t(i) * 7919 % 65536) + "***";
  expected += "end\n";
  for (bool sandboxed : {false, true}) {
    if (sandboxed && !HasFeatureForPart(Feature::kDefaultSandbox)) continue;
    WritePolicy(Policy("          - file: {env: F}\n", "",
                       sandboxed ? SandboxWithHelpersYaml() : "    sandbox: {enabled: false}\n"));
    auto r = Jitsec({"run", "--task", "t", "--", "/bin/sh", "-c",
                     "i=1; while [ $i -le " + std::to_string(kPieces) +
                         " ]; do head -c $((i * 7919 % 65536)) filler; cat \"$F\"; "
                         "i=$((i + 1)); done; echo end"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.size(), expected.size()) << "sandboxed=" << sandboxed;
    EXPECT_TRUE(r.out == expected) << "sandboxed=" << sandboxed;
    ExpectNoLeak(r);
  }
}

// A command that never stops writing: the relay is always busy with output, and SIGTERM
// still reaches the command (it traps it and exits 7), and the output stays masked.
TEST_F(RunE2ETest, TerminationSignalIsForwardedDuringALongOutput) {
  SetSecret("tok", canary_);
  WriteTextFile(workspace_ / "filler", std::string(65536, 'x'));
  for (bool sandboxed : {false, true}) {
    if (sandboxed && !HasFeatureForPart(Feature::kDefaultSandbox)) continue;
    WritePolicy(Policy("          - file: {env: F}\n", "",
                       sandboxed ? SandboxWithHelpersYaml() : "    sandbox: {enabled: false}\n"));
    ScopedTempDir d;
    const fs::path err_path = d.path() / "stderr";
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    EnvBlock env(Env());
    const std::string script =
        "trap 'echo got-TERM >&2; exit 7' TERM; while :; do cat filler; cat \"$F\"; done";
    const char* argv[] = {JITSEC_BINARY, "run", "--task", "t", "--",
                          "/bin/sh", "-c", script.c_str(), nullptr};
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      dup2(out[1], 1);
      int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (err < 0 || dup2(err, 2) < 0 || chdir(workspace_.c_str()) != 0) _exit(98);
      execve(JITSEC_BINARY, const_cast<char**>(argv), env.data());
      _exit(99);
    }
    close(out[1]);
    // Read (never stop: jitsec must not block writing), signal after the first 4 MiB.
    std::string all;
    size_t total = 0;
    bool signalled = false;
    char buf[65536];
    for (;;) {
      ssize_t n = read(out[0], buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      all.append(buf, size_t(n));
      total += size_t(n);
      if (!signalled && total >= (4u << 20)) {
        ASSERT_EQ(kill(pid, SIGTERM), 0);
        signalled = true;
      }
    }
    close(out[0]);
    int st = 0;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_TRUE(signalled) << "sandboxed=" << sandboxed;
    ASSERT_TRUE(WIFEXITED(st)) << "sandboxed=" << sandboxed;
    EXPECT_EQ(WEXITSTATUS(st), 7) << "sandboxed=" << sandboxed << ": " << ReadTextFile(err_path);
    EXPECT_NE(ReadTextFile(err_path).find("got-TERM"), std::string::npos)
        << "sandboxed=" << sandboxed;
    EXPECT_NE(all.find("x***x"), std::string::npos);
    ExpectNoCanary(all, canary_, "jitsec's stdout");
  }
}

TEST_F(RunE2ETest, ArgvOfJitsecAndCommandHoldNoSecret) {
  SetSecret("tok", canary_);
  WritePolicy(Policy("          - file: {env: F}\n"));
  auto r = Jitsec({"run", "--no-mask", "--task", "t", "--", "/bin/sh", "-c",
                   "\"$0\" $PPID; \"$0\" self", Helper("show_args")});
  ASSERT_EQ(r.status, 0) << r.err;
  ExpectNoLeak(r);
}

TEST_F(RunE2ETest, AuditRecordsIssuanceWithFingerprintAndVerifies) {
  SetSecret("tok", canary_);
  WritePolicy(Policy("          - file: {env: F}\n"));
  ASSERT_EQ(Jitsec({"run", "--task", "t", "--", "/bin/true"}).status, 0);
  auto recs = AuditRecords();
  std::vector<std::string> events;
  for (const auto& r : recs) events.push_back(r.value("event", ""));
  EXPECT_EQ(events, (std::vector<std::string>{"decision", "issue", "start", "end", "revoke"}));
  for (const auto& r : recs) {
    for (const char* k : {"time", "run_id", "task", "user", "uid", "cwd", "argv"}) {
      EXPECT_TRUE(r.contains(k)) << k << " missing in " << r.dump();
    }
  }
  const auto& issue = recs[1]["credential"];
  EXPECT_EQ(issue["name"], "TOKEN");
  EXPECT_EQ(issue["provider"], "store");
  EXPECT_EQ(issue["fingerprint"].get<std::string>().rfind("hmac-sha256:", 0), 0u);
  EXPECT_EQ(recs[3]["exit"], 0);
  EXPECT_EQ(recs[4]["credential"]["result"], "revoked");

  auto v = Jitsec({"audit", "verify"});
  EXPECT_EQ(v.status, 0) << v.out << v.err;
  // The head, written after jitsec's exit by the helper that syncs the log, under the log's
  // lock (which verify waited for), names the last record: cutting it off would be detected.
  auto head = nlohmann::json::parse(ReadTextFile(home_.state() / "audit.jsonl.head"));
  EXPECT_EQ(head["seq"], recs.back()["seq"]);
  auto show = Jitsec({"audit", "show"});
  EXPECT_EQ(show.status, 0);
  EXPECT_NE(show.out.find("issue"), std::string::npos);

  // Tamper: change the exit status of the end record.
  std::string text = AuditText();
  auto pos = text.find("\"exit\":0");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, 8, "\"exit\":1");
  WriteTextFile(home_.state() / "audit.jsonl", text);
  auto bad = Jitsec({"audit", "verify"});
  EXPECT_EQ(bad.status, 1) << bad.out;
  EXPECT_NE(bad.out.find("FAILED"), std::string::npos) << bad.out;
}

// settings.audit.sync: wait: jitsec exits once the log is synced and its head written (no helper
// left behind), so the head names the last record as soon as jitsec has returned, without a
// reader having to wait for the log's lock.
TEST_F(RunE2ETest, AuditSyncWaitHasTheHeadWrittenWhenJitsecReturns) {
  SetSecret("tok", canary_);
  WritePolicy(WithSettings(Policy("          - file: {env: F}\n"), "  audit: {sync: wait}\n"));
  for (int i = 0; i < 5; ++i) {
    auto r = Jitsec({"run", "--task", "t", "--", "/bin/true"});
    ASSERT_EQ(r.status, 0) << r.err;
    auto head = nlohmann::json::parse(ReadTextFile(home_.state() / "audit.jsonl.head"));
    ASSERT_EQ(head["seq"], AuditRecords().back()["seq"]) << "run " << i;
    ExpectNoLeak(r);
  }
}

// settings.audit.syslog: true sends the run's records to syslog as well, the same lines as in
// the file, authpriv.info. jitsec runs where /dev/log is a socket of the test's own
// (CaptureSyslog).
TEST_F(RunE2ETest, AuditSyslogSendsTheRunsRecordsAsTheirLines) {
  JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  SetSecret("tok", canary_);
  WritePolicy(WithSettings(Policy("          - file: {env: F}\n"), "  audit: {syslog: true}\n"));
  auto captured = CaptureSyslog(home_.dir.path(), [&] {
    return Jitsec({"run", "--task", "t", "--", "/bin/true"}).status == 0 ? 0 : 20;
  });
  ASSERT_EQ(captured.status, 0) << "step that failed in the child";
  std::vector<std::string> lines;
  std::istringstream file(AuditText());
  for (std::string line; std::getline(file, line);) lines.push_back(line);
  std::vector<std::string> sent;
  for (const auto& m : captured.messages) {
    auto text = SyslogText(m, 86, "jitsec");
    ASSERT_TRUE(text) << m;
    sent.push_back(*text);
    ExpectNoCanary(m, canary_, "syslog");
  }
  EXPECT_EQ(sent.size(), 5u);  // decision, issue, start, end, revoke
  EXPECT_EQ(sent, lines);
}

TEST_F(RunE2ETest, ExitStatusesFollowTheContract) {
  WritePolicy("version: 1\ntasks:\n  t:\n    sandbox: {enabled: false}\n");
  EXPECT_EQ(Jitsec({"run", "--task", "t", "--", "/bin/sh", "-c", "exit 42"}).status, 42);
  EXPECT_EQ(Jitsec({"run", "--task", "t", "--", "/bin/sh", "-c", "kill -TERM $$"}).status, 128 + SIGTERM);
  auto nf = Jitsec({"run", "--task", "t", "--", "no-such-command-xyz"});
  EXPECT_EQ(nf.status, 127);
  EXPECT_NE(nf.err.find("jitsec: error: command not found: no-such-command-xyz"), std::string::npos) << nf.err;
  WriteTextFile(workspace_ / "notexec.sh", "#!/bin/sh\necho hi\n", 0644);
  auto ne = Jitsec({"run", "--task", "t", "--", "./notexec.sh"});
  EXPECT_EQ(ne.status, 126) << ne.err;
  auto bad = Jitsec({"run", "--task", "nope", "--", "/bin/true"});
  EXPECT_EQ(bad.status, 125);
  EXPECT_EQ(bad.err.rfind("jitsec: ", 0), 0u) << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  auto usage = Jitsec({"run", "--", "/bin/true"});
  EXPECT_EQ(usage.status, 125) << usage.err;

  WritePolicy("version: 1\ntasks:\n  t:\n    max_duration: 1s\n    sandbox: {enabled: false}\n");
  auto to = Jitsec({"run", "--task", "t", "--", "/bin/sleep", "30"});
  EXPECT_EQ(to.status, 124) << to.err;
}

TEST_F(RunE2ETest, BadPolicyIsExit125WithFileLineColumn) {
  WritePolicy("version: 1\ntasks:\n  t:\n    max_duration: 10 minutes\n");
  auto r = Jitsec({"run", "--task", "t", "--", "/bin/true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_NE(r.err.find("policy.yaml:4:"), std::string::npos) << r.err;
  chmod((home_.dir.path() / "policy.yaml").c_str(), 0666);
  auto w = Jitsec({"run", "--task", "t", "--", "/bin/true"});
  EXPECT_EQ(w.status, 125);
  EXPECT_NE(w.err.find("writable"), std::string::npos) << w.err;
}

TEST_F(RunE2ETest, SignalsAreForwardedToTheCommand) {
  WritePolicy("version: 1\ntasks:\n  t:\n    sandbox: {enabled: false}\n");
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    ScopedTempDir d;
    fs::path ready = d.path() / "ready";
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    pid_t pid = fork();
    if (pid == 0) {
      dup2(out[1], 1);
      if (chdir(workspace_.c_str()) != 0) _exit(98);  // as the other tests: not the caller's cwd
      EnvBlock env(Env());
      std::string script = "trap 'echo got-$0; exit 7' " + std::to_string(sig) + "; touch " + ready.string() +
                           "; while :; do sleep 0.05; done";
      std::string sig_name = std::to_string(sig);
      const char* argv[] = {JITSEC_BINARY, "run", "--task", "t", "--", "/bin/sh", "-c", script.c_str(),
                            sig_name.c_str(), nullptr};
      execve(JITSEC_BINARY, const_cast<char**>(argv), env.data());
      _exit(99);
    }
    close(out[1]);
    for (int i = 0; i < 200 && !fs::exists(ready); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(fs::exists(ready));
    kill(pid, sig);
    int st = 0;
    waitpid(pid, &st, 0);
    char buf[256];
    ssize_t n = read(out[0], buf, sizeof buf);
    close(out[0]);
    EXPECT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 7) << "signal " << sig;
    EXPECT_EQ(std::string(buf, n > 0 ? size_t(n) : 0), "got-" + std::to_string(sig) + "\n");
  }
}

TEST_F(RunE2ETest, RefusedRequestsIssueNothing) {
  SetSecret("tok", canary_);
  WritePolicy(
      "version: 1\n"
      "environments:\n"
      "  dev: {}\n"
      "  prod:\n"
      "    when: {ci: true}\n"
      "tasks:\n"
      "  t:\n"
      "    environments: [dev, prod]\n"
      "    commands: [\"true\"]\n"
      "    sandbox: {enabled: false}\n"
      "    credentials:\n"
      "      TOKEN:\n"
      "        provider: store\n"
      "        secret: tok\n"
      "        deliver:\n"
      "          - file: {env: F}\n");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"run", "--task", "t", "--env", "staging", "--", "true"}, "may not run in environment \"staging\""},
      {{"run", "--task", "t", "--env", "prod", "--", "true"}, "requires a CI run"},
      {{"run", "--task", "t", "--env", "dev", "--", "/bin/echo", "hi"}, "denied by policy: command /bin/echo is not allowed"},
      {{"run", "--task", "t", "--", "true"}, "needs an environment"},
  };
  for (const auto& c : cases) {
    auto r = Jitsec(c.args);
    EXPECT_EQ(r.status, 125) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
  EXPECT_EQ(CountEvents("issue"), 0);
  EXPECT_GE(CountEvents("refuse"), 3);
  auto leases = Jitsec({"leases", "list", "--json"});
  EXPECT_EQ(leases.status, 0) << leases.err;
  EXPECT_EQ(nlohmann::json::parse(leases.out).size(), 0u);
  auto ok = Jitsec({"run", "--task", "t", "--env", "dev", "--", "true"});
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(CountEvents("issue"), 1);
}

TEST_F(RunE2ETest, EnvProviderValueIsRemovedFromTheChildEnvironment) {
  WritePolicy(
      "version: 1\n"
      "providers:\n"
      "  ci: {type: env}\n"
      "tasks:\n"
      "  t:\n"
      "    env: {pass: [PATH, DEPLOY_TOKEN]}\n"
      "    sandbox: {enabled: false}\n"
      "    credentials:\n"
      "      TOKEN:\n"
      "        provider: ci\n"
      "        secret: DEPLOY_TOKEN\n"
      "        deliver:\n"
      "          - file: {env: F}\n");
  RunOptions o;
  o.env = Env();
  o.env["DEPLOY_TOKEN"] = canary_;
  o.cwd = workspace_;
  auto r = RunJitsec({"run", "--no-mask", "--task", "t", "--", "/bin/sh", "-c",
                      "env; exec \"$0\" \"$F\"", Helper("show_fd_digest")}, o);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("DEPLOY_TOKEN"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(Fnv(canary_)), std::string::npos);
  ExpectNoLeak(r);
}

TEST_F(RunE2ETest, SecretCommandsNeverPrintValues) {
  SetSecret("alpha", canary_);
  SetSecret("beta", "another-" + canary_);
  auto l = Jitsec({"secret", "list"});
  EXPECT_EQ(l.status, 0);
  EXPECT_EQ(l.out, "alpha\nbeta\n");
  EXPECT_EQ(Jitsec({"secret", "rm", "alpha"}).status, 0);
  EXPECT_EQ(Jitsec({"secret", "list"}).out, "beta\n");
  auto missing = Jitsec({"secret", "rm", "alpha"});
  EXPECT_EQ(missing.status, 125);
  auto bad = Jitsec({"secret", "set", "../evil"}, "x");
  EXPECT_EQ(bad.status, 125);
  ExpectNoLeak(l);
}

TEST_F(RunE2ETest, DryRunAndExplainIssueNothing) {
  SetSecret("tok", canary_);
  WritePolicy(Policy("          - file: {env: F}\n"));
  auto d = Jitsec({"run", "--dry-run", "--task", "t", "--", "/bin/true"});
  EXPECT_EQ(d.status, 0) << d.err;
  EXPECT_NE(d.out.find("decision:    allowed"), std::string::npos) << d.out;
  auto e = Jitsec({"explain", "--json", "--task", "t"});
  EXPECT_EQ(e.status, 0) << e.err;
  auto j = nlohmann::json::parse(e.out);
  EXPECT_EQ(j["credentials"][0]["name"], "TOKEN");
  EXPECT_EQ(j["credentials"][0]["ttl"], "5m");
  EXPECT_EQ(CountEvents("issue"), 0);
  ExpectNoLeak(d);
  ExpectNoLeak(e);
}

TEST_F(RunE2ETest, ExplainShowsTheEffectiveSandboxReadably) {
  WritePolicy("version: 1\ntasks:\n  t:\n    description: d\n");
  auto e = Jitsec({"explain", "--task", "t"});
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_NE(e.out.find("sandbox:     namespaces (user, mount, pid, ipc, uts, net), network none, Landlock "),
            std::string::npos) << e.out;
  EXPECT_NE(e.out.find("  write:           " + workspace_.string() + ", /tmp (private)\n"), std::string::npos)
      << e.out;
  // Not a git repository: the default protect entries do not apply, and explain says so.
  EXPECT_EQ(e.out.find("  read-only:"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("warning:     the workspace is not a git repository: the default protect "
                       "entries (.git/hooks, .git/config) do not apply\n"),
            std::string::npos)
      << e.out;
  fs::create_directories(workspace_ / ".git" / "hooks");
  e = Jitsec({"explain", "--task", "t"});
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_NE(e.out.find("  read-only:       " + (workspace_ / ".git/hooks").string()), std::string::npos) << e.out;
  EXPECT_EQ(e.out.find("not a git repository"), std::string::npos) << e.out;
  fs::remove_all(workspace_ / ".git");
  WritePolicy("version: 1\ntasks:\n  t:\n    description: d\n    sandbox: {enabled: false}\n");
  e = Jitsec({"explain", "--task", "t"});
  EXPECT_NE(e.out.find("sandbox:     disabled\n"), std::string::npos) << e.out;
}

TEST_F(RunE2ETest, HundredCredentialsAreAllDeliveredSandboxedAndNot) {
  // More descriptors than a fixed-size table in the child would hold (it once held 64).
  constexpr int kCount = 100;
  std::string creds;
  for (int i = 0; i < kCount; ++i) {
    SetSecret("s" + std::to_string(i), canary_ + "-" + std::to_string(i));
    creds += "      C" + std::to_string(i) + ": {provider: store, secret: s" + std::to_string(i) +
             ", deliver: [{file: {env: F" + std::to_string(i) + "}}]}\n";
  }
  for (bool sandboxed : {false, true}) {
    if (sandboxed && !HasFeatureForPart(Feature::kDefaultSandbox)) continue;
    WritePolicy("version: 1\ntasks:\n  t:\n" +
                (sandboxed ? SandboxWithHelpersYaml() : std::string("    sandbox: {enabled: false}\n")) +
                "    credentials:\n" + creds);
    auto r = Jitsec({"run", "--task", "t", "--", "/bin/sh", "-c", "\"$0\" \"$F99\" && \"$1\" | wc -l",
                     Helper("show_fd_digest"), Helper("show_fds")});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, Fnv(canary_ + "-99") + "\nwritable=no\n" + std::to_string(3 + kCount) + "\n")
        << "sandboxed=" << sandboxed;
    ExpectNoLeak(r);
  }
}

TEST_F(RunE2ETest, SandboxedRunDeliversByDescriptorAndByMountedPath) {
  JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  JITSEC_SKIP_UNLESS(Feature::kLandlock);
  SetSecret("tok", canary_);
  WritePolicy(Policy("          - file: {env: F}\n          - file: {path: /run/secrets/token}\n", "",
                     SandboxWithHelpersYaml()));
  auto r = Jitsec({"run", "--task", "t", "--", "/bin/sh", "-c",
                   "\"$0\" \"$F\"; \"$0\" /run/secrets/token; cat /run/secrets/token; \"$1\"",
                   Helper("show_fd_digest"), Helper("show_fds")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, Fnv(canary_) + "\nwritable=no\n" + Fnv(canary_) + "\nwritable=no\n***0\n1\n2\n3\n4\n");
  ExpectNoLeak(r);
}

TEST_F(RunE2ETest, SandboxedRunMapsExitStatusesAndSignals) {
  JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  WritePolicy("version: 1\ntasks:\n  t:\n    max_duration: 2s\n");
  EXPECT_EQ(Jitsec({"run", "--task", "t", "--", "/bin/sh", "-c", "exit 42"}).status, 42);
  EXPECT_EQ(Jitsec({"run", "--task", "t", "--", "/bin/sh", "-c", "kill -TERM $$"}).status, 128 + SIGTERM);
  EXPECT_EQ(Jitsec({"run", "--task", "t", "--", "/bin/sleep", "30"}).status, 124);
  EXPECT_EQ(Jitsec({"run", "--task", "t", "--", "no-such-command-xyz"}).status, 127);
}

// The sandbox is prepared (and its init started) before anything is issued: a plan the host
// refuses (a delivery path through a symbolic link planted in the workspace) ends the
// run with exit 125 and one line, with nothing issued and the refusal audited.
TEST_F(RunE2ETest, SandboxRefusedByTheHostIssuesNothing) {
  JITSEC_SKIP_UNLESS(Feature::kUserNamespaces);
  JITSEC_SKIP_UNLESS(Feature::kLandlock);
  SetSecret("tok", canary_);
  fs::path elsewhere = home_.dir.path() / "elsewhere";
  fs::create_directories(elsewhere);
  fs::create_symlink(elsewhere, workspace_ / "link");
  WritePolicy(Policy("          - file: {path: " + (workspace_ / "link" / "token").string() + "}\n", "",
                     SandboxWithHelpersYaml()));
  auto r = Jitsec({"run", "--task", "t", "--", "/bin/true"});
  EXPECT_EQ(r.status, 125) << r.err;
  EXPECT_EQ(r.err, "jitsec: error: file delivery path \"" + (workspace_ / "link" / "token").string() +
                       "\": \"" + (workspace_ / "link").string() + "\" is not a directory\n");
  EXPECT_EQ(CountEvents("issue"), 0);
  EXPECT_EQ(CountEvents("refuse"), 1);
  EXPECT_FALSE(fs::exists(elsewhere / "token"));
  ExpectNoLeak(r);
}

}  // namespace
}  // namespace jitsec::testing
