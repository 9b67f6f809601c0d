// End-to-end tests of the commands around `jitsec run` as the built binary shows them: where
// the policy's settings put jitsec's files, explain's warnings, the dry run's refusal line,
// doctor, the environment choice and the help texts. No credentials are issued here.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/support.h"

namespace jitsec::testing {
namespace {

namespace fs = std::filesystem;

class CliE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = home_.dir.path() / "repo";
    // What `git init` leaves (the default protect entries exist).
    fs::create_directories(repo_ / ".git/hooks");
    WriteTextFile(repo_ / ".git/HEAD", "ref: refs/heads/main\n");
    WriteTextFile(repo_ / ".git/config", "[core]\n\trepositoryformatversion = 0\n");
    cwd_ = repo_;
  }

  std::map<std::string, std::string> Env() const {
    auto env = home_.Env();
    env["JITSEC_POLICY"] = policy_path().string();
    return env;
  }
  fs::path policy_path() const { return home_.dir.path() / "policy.yaml"; }
  void WritePolicy(const std::string& yaml) { WriteTextFile(policy_path(), yaml, 0600); }

  ProcessResult Jitsec(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& extra_env = {}) {
    RunOptions o;
    o.env = Env();
    for (const auto& [k, v] : extra_env) o.env[k] = v;
    o.cwd = cwd_;
    return RunJitsec(args, o);
  }

  JitsecHome home_;
  fs::path repo_;
  fs::path cwd_;
};

// policy.md: relative paths are relative to the git root of the current directory (or to the
// current directory when there is none), settings paths included.
TEST_F(CliE2ETest, RelativeSettingsPathsAreRelativeToTheGitRootNotTheCurrentDirectory) {
  WritePolicy("version: 1\n"
              "settings:\n"
              "  state: jstate\n"
              "  audit: {path: logs/audit.jsonl}\n"
              "tasks:\n"
              "  t:\n"
              "    description: test task\n"
              "    sandbox: {enabled: false}\n");
  cwd_ = repo_ / "sub/dir";
  fs::create_directories(cwd_);
  auto r = Jitsec({"run", "--task", "t", "--", "true"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_directory(repo_ / "jstate"));
  EXPECT_TRUE(fs::exists(repo_ / "logs/audit.jsonl"));
  EXPECT_FALSE(fs::exists(cwd_ / "jstate"));
  EXPECT_FALSE(fs::exists(cwd_ / "logs"));

  // The commands that do not run a task find the same files from anywhere in the repository.
  auto v = Jitsec({"audit", "verify"});
  EXPECT_EQ(v.status, 0) << v.err;
  EXPECT_NE(v.out.find((repo_ / "logs/audit.jsonl").string()), std::string::npos) << v.out;
  cwd_ = repo_;
  v = Jitsec({"audit", "verify"});
  EXPECT_EQ(v.status, 0) << v.err;
  EXPECT_NE(v.out.find((repo_ / "logs/audit.jsonl").string()), std::string::npos) << v.out;

  // Outside a repository they are relative to the current directory.
  cwd_ = home_.dir.path() / "elsewhere";
  fs::create_directories(cwd_);
  r = Jitsec({"run", "--task", "t", "--", "true"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(cwd_ / "logs/audit.jsonl"));
  EXPECT_TRUE(fs::is_directory(cwd_ / "jstate"));
}

// README: a protected path that does not exist freezes its nearest existing parent, "and jitsec
// warns": run when it builds the sandbox, explain before (text and --json), in the same words.
TEST_F(CliE2ETest, ExplainWarnsLikeRunWhenAMissingProtectedPathFreezesItsParent) {
  JITSEC_SKIP_UNLESS(Feature::kDefaultSandbox);
  WritePolicy("version: 1\n"
              "tasks:\n"
              "  t:\n"
              "    description: test task\n" +
              SandboxWithHelpersYaml() + "      protect: [.envrc]\n");
  const std::string warning = "sandbox: protected path \"" + (repo_ / ".envrc").string() +
                              "\" does not exist: nothing can be created directly in \"" +
                              repo_.string() + "\" during the run";
  auto e = Jitsec({"explain", "--task", "t"});
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_NE(e.out.find("warning:     " + warning + "\n"), std::string::npos) << e.out;
  auto j = Jitsec({"explain", "--json", "--task", "t"});
  ASSERT_EQ(j.status, 0) << j.err;
  auto doc = nlohmann::json::parse(j.out);
  const auto& w = doc["warnings"];
  EXPECT_NE(std::find(w.begin(), w.end(), warning), w.end()) << j.out;
  auto r = Jitsec({"run", "--task", "t", "--", "true"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("jitsec: warning: " + warning + "\n"), std::string::npos) << r.err;
}

// policies/agent-default.yaml in a fresh repository: the command can create a file at the top
// of the workspace (an explicit protect entry that did not exist used to freeze it).
TEST_F(CliE2ETest, AgentDefaultPolicyLetsACommandCreateAFileInAFreshRepository) {
  JITSEC_SKIP_UNLESS(Feature::kDefaultSandbox);
  WritePolicy(ReadTextFile(fs::path(JITSEC_SOURCE_DIR) / "policies/agent-default.yaml"));
  auto e = Jitsec({"explain", "--task", "agent", "--", "touch", "newfile"});
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_EQ(e.out.find("does not exist"), std::string::npos) << e.out;
  auto r = Jitsec({"run", "--task", "agent", "--", "touch", "newfile"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(repo_ / "newfile"));
  EXPECT_EQ(r.err.find("does not exist"), std::string::npos) << r.err;
  // The hooks stay read-only.
  r = Jitsec({"run", "--task", "agent", "--", "touch", ".git/hooks/pre-commit"});
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE(fs::exists(repo_ / ".git/hooks/pre-commit"));
}

// A filesystem.write entry that does not exist is skipped by the sandbox (no mount, no Landlock
// rule): explain lists it as writable but warns, in text and --json. One inside another write
// tree is writable through that tree and gets no warning. (The repository here may well be
// below /tmp, whose private copy does not make the host's paths below it writable.)
TEST_F(CliE2ETest, ExplainWarnsAboutWriteEntriesThatDoNotExist) {
  JITSEC_SKIP_UNLESS(Feature::kDefaultSandbox);
  WritePolicy("version: 1\n"
              "tasks:\n"
              "  t:\n"
              "    description: test task\n"
              "    sandbox:\n"
              "      filesystem:\n"
              "        write: [/nonexistent-jitsec-test, /tmp, /tmp/not-there-jitsec]\n"
              "  u:\n"
              "    description: test task\n"
              "    sandbox:\n"
              "      filesystem:\n"
              "        write: [., ./dist]\n");
  const std::string warning = "sandbox: filesystem.write \"/nonexistent-jitsec-test\" does not "
                              "exist: it is skipped, and the command cannot create it";
  auto e = Jitsec({"explain", "--task", "t"});
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_NE(e.out.find("warning:     " + warning + "\n"), std::string::npos) << e.out;
  EXPECT_NE(e.out.find("warning:     sandbox: filesystem.write \"/tmp/not-there-jitsec\" does not exist: it "
                       "is skipped, and what the command creates there stays in its private /tmp\n"),
            std::string::npos)
      << e.out;
  auto j = Jitsec({"explain", "--json", "--task", "t"});
  ASSERT_EQ(j.status, 0) << j.err;
  const auto w = nlohmann::json::parse(j.out)["warnings"];
  EXPECT_NE(std::find(w.begin(), w.end(), warning), w.end()) << j.out;

  e = Jitsec({"explain", "--task", "u"});
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_EQ(e.out.find("does not exist"), std::string::npos) << e.out;
}

// An env delivery without `field` delivers the provider's first secret field: explain names it
// ("value" for the store) in its warning and its JSON instead of an empty name.
TEST_F(CliE2ETest, ExplainNamesTheDefaultFieldOfAnUnsafeEnvDelivery) {
  WritePolicy("version: 1\n"
              "tasks:\n"
              "  t:\n"
              "    description: test task\n"
              "    sandbox: {enabled: false}\n"
              "    credentials:\n"
              "      TOKEN:\n"
              "        provider: store\n"
              "        secret: tok\n"
              "        deliver:\n"
              "          - env: {name: TOKEN, unsafe: true}\n");
  auto e = Jitsec({"explain", "--task", "t"});
  ASSERT_EQ(e.status, 0) << e.err;
  EXPECT_NE(e.out.find("warning:     credential TOKEN: secret field \"value\" is put in the "
                       "environment variable TOKEN (unsafe: true); any process that can read the "
                       "environment sees it\n"),
            std::string::npos)
      << e.out;
  EXPECT_EQ(e.out.find("field \"\""), std::string::npos) << e.out;
  auto j = Jitsec({"explain", "--json", "--task", "t"});
  ASSERT_EQ(j.status, 0) << j.err;
  EXPECT_EQ(nlohmann::json::parse(j.out)["credentials"][0]["deliver"][0]["field"], "value") << j.out;
}

// cli.md: a refusal is exit 125 and one line on stderr starting `jitsec:`; a dry run prints the
// plan on stdout and the same line as the real run on stderr.
TEST_F(CliE2ETest, DryRunRefusalPrintsTheRefusalLineOnStderrLikeRun) {
  WritePolicy("version: 1\n"
              "tasks:\n"
              "  t:\n"
              "    description: test task\n"
              "    commands: [sh]\n"
              "    sandbox: {enabled: false}\n");
  auto run = Jitsec({"run", "--task", "t", "--", "true"});
  EXPECT_EQ(run.status, 125);
  auto dry = Jitsec({"run", "--dry-run", "--task", "t", "--", "true"});
  EXPECT_EQ(dry.status, 125);
  EXPECT_EQ(dry.err, "jitsec: denied by policy: command /usr/bin/true is not allowed for task "
                     "\"t\" (commands: sh)\n");
  EXPECT_EQ(dry.err, run.err);
  EXPECT_NE(dry.out.find("decision:    refused by commands: denied by policy"), std::string::npos)
      << dry.out;
  // Allowed: the plan, nothing on stderr, 0.
  auto ok = Jitsec({"run", "--dry-run", "--task", "t", "--", "sh", "-c", "true"});
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(ok.err, "");
  EXPECT_NE(ok.out.find("decision:    allowed\n"), std::string::npos) << ok.out;
}

// doctor's `files` are those of the policy given with --policy (its settings), as for every
// other command, not the defaults.
TEST_F(CliE2ETest, DoctorShowsThePathsOfThePolicyGivenWithPolicy) {
  const fs::path other = home_.dir.path() / "other.yaml";
  WriteTextFile(other,
                "version: 1\n"
                "settings:\n"
                "  state: " + (home_.dir.path() / "other-state").string() + "\n"
                "tasks:\n"
                "  t:\n"
                "    description: test task\n",
                0600);
  auto d = Jitsec({"doctor", "--json", "--policy", other.string()});
  ASSERT_EQ(d.status, 0) << d.err;
  auto paths = nlohmann::json::parse(d.out)["paths"];
  EXPECT_EQ(paths["policy"], other.string()) << d.out;
  EXPECT_EQ(paths["state"], (home_.dir.path() / "other-state").string()) << d.out;
  EXPECT_EQ(paths["audit_log"], (home_.dir.path() / "other-state/audit.jsonl").string()) << d.out;
  auto text = Jitsec({"--policy", other.string(), "doctor"});
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_NE(text.out.find("  state              " + (home_.dir.path() / "other-state").string() + "\n"),
            std::string::npos)
      << text.out;
}

// $JITSEC_ENV exported for a whole job: a task that declares no environments ignores it, one
// that declares them uses it; an explicit --env for a task without environments is refused.
TEST_F(CliE2ETest, TaskWithoutEnvironmentsIgnoresJitsecEnvButRefusesAnExplicitEnv) {
  WritePolicy("version: 1\n"
              "environments:\n"
              "  prod: {}\n"
              "tasks:\n"
              "  plain:\n"
              "    description: no environments\n"
              "    sandbox: {enabled: false}\n"
              "  deploy:\n"
              "    description: with environments\n"
              "    environments: [prod]\n"
              "    sandbox: {enabled: false}\n");
  const std::map<std::string, std::string> job{{"JITSEC_ENV", "prod"}};
  auto r = Jitsec({"run", "--task", "plain", "--", "sh", "-c", "echo \"env=$JITSEC_ENV\""}, job);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "env=\n");
  auto e = Jitsec({"explain", "--task", "plain"}, job);
  EXPECT_EQ(e.status, 0) << e.err;
  EXPECT_NE(e.out.find("environment: (none)\n"), std::string::npos) << e.out;

  r = Jitsec({"run", "--task", "deploy", "--", "sh", "-c", "echo \"env=$JITSEC_ENV\""}, job);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "env=prod\n");

  r = Jitsec({"run", "--task", "plain", "--env", "prod", "--", "true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_EQ(r.err, "jitsec: task \"plain\" runs without an environment (got \"prod\" from --env)\n");
  r = Jitsec({"run", "--task", "plain", "--env", "prod", "--", "true"}, job);
  EXPECT_EQ(r.status, 125);
}

}  // namespace
}  // namespace jitsec::testing
