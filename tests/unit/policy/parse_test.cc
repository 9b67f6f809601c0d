#include "policy/policy.h"
#include "base/crypto.h"
#include "test_util.h"

#include <gtest/gtest.h>

namespace jitsec::policy {
namespace {

using testing::Errors;

constexpr std::string_view kMinimal = "version: 1\ntasks:\n  t: {}\n";

TEST(PolicyParseTest, MinimalPolicyGetsTheBuiltInStoreProvider) {
  auto p = ParsePolicy(kMinimal, "p.yaml");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->providers.count("store"), 1u);
  EXPECT_EQ(p->providers.at("store").type, ProviderType::kStore);
  EXPECT_EQ(p->version, 1);
  EXPECT_TRUE(p->file.empty());
}

TEST(PolicyParseTest, TaskDefaultsFollowTheContract) {
  auto p = ParsePolicy(kMinimal, "p.yaml");
  ASSERT_TRUE(p);
  const Task* t = p->FindTask("t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->env_pass, (std::vector<std::string>{"PATH", "HOME", "TERM", "LANG", "LC_*"}));
  EXPECT_TRUE(t->env_set.empty());
  EXPECT_FALSE(t->commands.has_value());
  EXPECT_FALSE(t->max_duration.has_value());
  EXPECT_TRUE(t->environments.empty());
  EXPECT_TRUE(t->sandbox.enabled);
  EXPECT_FALSE(t->sandbox.enabled_explicit);
  EXPECT_EQ(t->sandbox.network, Network::kNone);
  EXPECT_EQ(t->sandbox.read, std::vector<std::string>{"/"});
  EXPECT_EQ(t->sandbox.write, (std::vector<std::string>{".", "/tmp"}));
  EXPECT_TRUE(t->sandbox.deny.empty());
  EXPECT_FALSE(t->sandbox.deny_explicit);
  EXPECT_EQ(t->sandbox.protect, (std::vector<std::string>{".git/hooks", ".git/config"}));
  EXPECT_FALSE(t->sandbox.protect_explicit);
  EXPECT_TRUE(p->settings.store.empty());
  EXPECT_FALSE(p->settings.audit_syslog);
  EXPECT_EQ(p->settings.audit_sync, AuditSync::kBackground);
  EXPECT_EQ(p->FindTask("nope"), nullptr);
}

TEST(PolicyParseTest, AuditSyncTakesBackgroundOrWait) {
  for (auto [text, want] : {std::pair{"background", AuditSync::kBackground},
                            std::pair{"wait", AuditSync::kWait}}) {
    const std::string policy = std::string("version: 1\nsettings:\n  audit: {sync: ") + text +
                               "}\ntasks:\n  t: {}\n";
    auto p = ParsePolicy(policy, "p.yaml");
    ASSERT_TRUE(p) << Errors(policy);
    EXPECT_EQ(p->settings.audit_sync, want) << text;
  }
}

// A task that writes `protect:` itself (even the default list, even empty) is explicit: its
// entries apply in a workspace without .git too (sandbox::BuildPlan).
TEST(PolicyParseTest, ProtectWrittenOutIsExplicit) {
  for (const char* list : {"[.git/hooks, .git/config]", "[]", "[build]"}) {
    SCOPED_TRACE(list);
    auto p = ParsePolicy(std::string("version: 1\ntasks:\n  t:\n    description: d\n    sandbox:\n      protect: ") +
                             list + "\n",
                         "p.yaml");
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->FindTask("t")->sandbox.protect_explicit);
  }
}

// `deny: []` is a list of the task's own: the default deny list (policy::kDefaultDeny) is off.
TEST(PolicyParseTest, DenyWrittenOutIsExplicit) {
  for (const char* list : {"[]", "[~/.ssh]"}) {
    SCOPED_TRACE(list);
    auto p = ParsePolicy(std::string("version: 1\ntasks:\n  t:\n    description: d\n    sandbox:\n      filesystem:\n        deny: ") +
                             list + "\n",
                         "p.yaml");
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->FindTask("t")->sandbox.deny_explicit);
  }
}

TEST(PolicyParseTest, ParsesValuesAndPositions) {
  auto p = ParsePolicy(
      "version: 1\n"
      "tasks:\n"
      "  b:\n"
      "    env:\n"
      "      pass: [PATH]\n"
      "      set: {Z: \"1\", A: two}\n"
      "    sandbox: {enabled: false}\n"
      "    credentials:\n"
      "      TOKEN:\n"
      "        provider: store\n"
      "        secret: tok\n"
      "        ttl: 1h30m\n"
      "        deliver:\n"
      "          - env: {name: TOKEN, unsafe: true}\n"
      "  a: {commands: []}\n",
      "p.yaml");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->tasks.size(), 2u);
  EXPECT_EQ(p->tasks[0].name, "b");  // file order, not sorted
  EXPECT_EQ(p->tasks[0].pos.line, 3);
  EXPECT_EQ(p->tasks[0].pos.column, 3);
  EXPECT_EQ(p->tasks[0].env_pass, std::vector<std::string>{"PATH"});
  using Pair = std::pair<std::string, std::string>;
  EXPECT_EQ(p->tasks[0].env_set, (std::vector<Pair>{{"Z", "1"}, {"A", "two"}}));
  EXPECT_FALSE(p->tasks[0].sandbox.enabled);
  EXPECT_TRUE(p->tasks[0].sandbox.enabled_explicit);
  const Credential& c = p->tasks[0].credentials.at(0);
  EXPECT_EQ(c.ttl, std::chrono::seconds(5400));
  EXPECT_EQ(c.pos.line, 9);
  ASSERT_EQ(c.deliver.size(), 1u);
  EXPECT_EQ(c.deliver[0].kind, DeliveryKind::kEnv);
  EXPECT_EQ(c.deliver[0].env, "TOKEN");
  EXPECT_TRUE(c.deliver[0].unsafe);
  EXPECT_EQ(c.deliver[0].pos.line, 14);
  ASSERT_TRUE(p->tasks[1].commands.has_value());
  EXPECT_TRUE(p->tasks[1].commands->empty());  // an empty list allows no command at all
}

TEST(PolicyParseTest, ReportsEveryProblemInFileOrder) {
  // The cross-reference error (line 5) is found in a later stage than the type errors
  // (lines 4 and 6); the output is still in file order.
  EXPECT_EQ(Errors("version: 1\n"
                   "tasks:\n"
                   "  t:\n"
                   "    max_duration: soon\n"
                   "    environments: [nope]\n"
                   "    sandbox: {network: wide}\n"),
            "p.yaml:4:19: tasks.t.max_duration: \"soon\" is not a duration (use 10m, 1h30m, 45s)\n"
            "p.yaml:5:20: tasks.t.environments[0]: unknown environment \"nope\" (define it under "
            "\"environments\")\n"
            "p.yaml:6:24: tasks.t.sandbox.network: expected none or host, got \"wide\"");
}

TEST(PolicyParseTest, MissingVersionAndTasksAreBothReported) {
  EXPECT_EQ(Errors("settings: {}\n"),
            "p.yaml:1:1: missing required key \"version\" (add \"version: 1\")\n"
            "p.yaml:1:1: missing required key \"tasks\"");
}

TEST(PolicyParseTest, QuotedVersionIsNotTheNumberOne) {
  EXPECT_EQ(Errors("version: \"1\"\ntasks: {t: {}}\n"),
            "p.yaml:1:10: version: unsupported policy version \"1\" (this jitsec reads version 1)");
}

TEST(PolicyParseTest, YamlSyntaxErrorHasOneBasedPosition) {
  auto r = ParsePolicy("version: 1\ntasks:\n  t: {a: [}\n", "s.yaml");
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].kind, DiagnosticKind::kSyntax);
  EXPECT_EQ(r.error()[0].line, 3);
  EXPECT_TRUE(r.error()[0].message.starts_with("invalid YAML: ")) << r.error()[0].message;
}

TEST(PolicyParseTest, TabIndentationIsASyntaxError) {
  auto r = ParsePolicy("version: 1\ntasks:\n\tt: {}\n", "s.yaml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error()[0].kind, DiagnosticKind::kSyntax);
}

TEST(PolicyParseTest, ScalarWhereMapExpectedNamesTheType) {
  EXPECT_EQ(Errors("version: 1\nproviders: pg\ntasks: {t: {}}\n"),
            "p.yaml:2:12: providers: expected a map, got a string");
  EXPECT_EQ(Errors("version: 1\ntasks: {t: {env: [PATH]}}\n"),
            "p.yaml:2:18: tasks.t.env: expected a map, got a list");
}

TEST(PolicyParseTest, UnknownKeyWithoutCloseMatchHasNoSuggestion) {
  EXPECT_EQ(Errors("version: 1\ntasks: {t: {colour: red}}\n"),
            "p.yaml:2:13: tasks.t: unknown key \"colour\"");
}

TEST(PolicyParseTest, UnknownKeyInDeliverySuggestsAmongThatPlace) {
  EXPECT_EQ(
      Errors("version: 1\ntasks:\n  t:\n    credentials:\n      A:\n        provider: store\n"
             "        secret: a\n        deliver:\n          - file: {env: X, fromat: raw}\n"),
      "p.yaml:9:28: tasks.t.credentials.A.deliver[0].file: unknown key \"fromat\" (did you "
      "mean \"format\"?)");
}

// The screening pass for aliases and extra documents is skipped for text that cannot hold
// them (loader.cc); every place an alias can stand must still be caught.
TEST(PolicyParseTest, AliasesAreRefusedWhereverANodeCanStart) {
  const char* kHead = "version: 1\ntasks:\n  t:\n    description: &d text\n";
  for (const char* tail : {
           "    max_duration: *d\n",                       // block value
           "    commands:\n      - *d\n",                  // block sequence entry
           "    commands: [*d]\n",                         // first in a flow sequence
           "    commands: [a,*d]\n",                       // after ',' without a space
           "    env: {pass: [*d]}\n",                      // nested flow
           "    env: {\"pass\":*d}\n",                     // JSON-like key, no space
           "    ? *d\n    : x\n",                          // explicit key
       }) {
    const std::string text = std::string(kHead) + tail;
    auto r = ParsePolicy(text, "a.yaml");
    ASSERT_FALSE(r) << text;
    EXPECT_NE(r.error().front().message.find("alias"), std::string::npos)
        << text << "\n" << r.error().front().ToString();
  }
}

TEST(PolicyParseTest, GlobsAndStarsInsideScalarsAreText) {
  auto p = ParsePolicy(
      "version: 1\ntasks:\n  t:\n    description: \"run *.sh\" # and LC_*\n"
      "    commands: [\"./scripts/*\", 'make']\n"
      "    env: {pass: [PATH, LC_*]}\n",
      "g.yaml");
  ASSERT_TRUE(p) << p.error().front().ToString();
  EXPECT_EQ(p->FindTask("t")->description, "run *.sh");
}

TEST(PolicyParseTest, HashIsSha256OfTheText) {
  auto p = ParsePolicy(kMinimal, "p.yaml");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->Hash().size(), 64u);
  EXPECT_EQ(p->Hash(), *crypto::Sha256Hex(kMinimal));
  auto q = ParsePolicy(std::string(kMinimal) + "# comment\n", "p.yaml");
  ASSERT_TRUE(q);
  EXPECT_NE(p->Hash(), q->Hash());
  EXPECT_EQ(ParsePolicy(kMinimal, "other.yaml")->Hash(), p->Hash());
}

TEST(PolicyParseTest, DiagnosticToStringOmitsEmptyParts) {
  Diagnostic d{"f.yaml", 3, 7, "tasks.x", "bad", DiagnosticKind::kInvalid};
  EXPECT_EQ(d.ToString(), "f.yaml:3:7: tasks.x: bad");
  d.key_path.clear();
  EXPECT_EQ(d.ToString(), "f.yaml:3:7: bad");
  d.line = 0;
  EXPECT_EQ(d.ToString(), "f.yaml: bad");
}

TEST(PolicyParseTest, NamesAndEnumsHaveHelpers) {
  EXPECT_EQ(ProviderTypeName(ProviderType::kPostgres), "postgres");
  EXPECT_EQ(ProviderTypeName(ProviderType::kEnv), "env");
  EXPECT_EQ(FileFormatName(FileFormat::kDotenv), "dotenv");
  EXPECT_EQ(FileFormatName(FileFormat::kTemplate), "template");
  EXPECT_EQ(DefaultField(ProviderType::kPostgres), "password");
  EXPECT_EQ(DefaultField(ProviderType::kStore), "value");
  ASSERT_NE(FindField(ProviderType::kPostgres, "user"), nullptr);
  EXPECT_FALSE(FindField(ProviderType::kPostgres, "user")->secret);
  EXPECT_TRUE(FindField(ProviderType::kPostgres, "uri")->secret);
  EXPECT_EQ(FindField(ProviderType::kStore, "user"), nullptr);
}

}  // namespace
}  // namespace jitsec::policy
