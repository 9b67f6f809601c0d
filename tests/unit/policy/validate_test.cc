// Rules between keys. Each invalid fixture in tests/data/policies/invalid covers one rule with
// its exact text; these tests cover the accepted side of the same rules and combinations.
#include "policy/policy.h"
#include "test_util.h"

#include <gtest/gtest.h>

namespace jitsec::policy {
namespace {

using testing::Errors;

constexpr std::string_view kPg =
    "providers:\n"
    "  pg-dev: {type: postgres, conninfo: \"dbname=app\", admin_secret: a}\n"
    "  pg-prod: {type: postgres, conninfo: \"dbname=app\", admin_secret: b}\n"
    "environments: {dev: {}, prod: {}}\n";

std::string Task(std::string_view body) { return testing::WithTask(kPg, body); }

TEST(PolicyValidateTest, EnvPlaceholderResolvesForEveryEnvironment) {
  auto p = ParsePolicy(Task("    environments: [dev, prod]\n"
                            "    credentials:\n"
                            "      DB:\n"
                            "        provider: pg-{env}\n"
                            "        deliver: [{file: {env: PGPASSFILE, format: pgpass}}]\n"),
                       "p.yaml");
  ASSERT_TRUE(p) << Errors(Task(""));
  const Credential& c = p->tasks[0].credentials[0];
  EXPECT_EQ(ResolveProviderName(c, "dev"), "pg-dev");
  EXPECT_EQ(ResolveProviderName(c, "prod"), "pg-prod");
  Credential twice;
  twice.provider = "{env}-{env}";
  EXPECT_EQ(ResolveProviderName(twice, "x"), "x-x");
}

TEST(PolicyValidateTest, NonSecretFieldsMayBeDeliveredByEnv) {
  EXPECT_EQ(Errors(Task("    environments: [dev]\n"
                        "    credentials:\n"
                        "      DB:\n"
                        "        provider: pg-dev\n"
                        "        deliver:\n"
                        "          - env: {name: PGUSER, field: user}\n"
                        "          - env: {name: PGHOST, field: host}\n"
                        "          - env: {name: PGPORT, field: port}\n")),
            "");
}

TEST(PolicyValidateTest, SecretEnvDeliveryNeedsUnsafeAlsoForTheDefaultField) {
  EXPECT_EQ(Errors(Task("    credentials:\n"
                        "      T:\n"
                        "        provider: store\n"
                        "        secret: t\n"
                        "        deliver:\n"
                        "          - env: {name: T}\n")),
            "p.yaml:13:18: tasks.t.credentials.T.deliver[0].env: env delivery of secret field "
            "\"value\" needs \"unsafe: true\" on this entry (prefer a file delivery)");
  EXPECT_EQ(Errors(Task("    credentials:\n"
                        "      T:\n"
                        "        provider: store\n"
                        "        secret: t\n"
                        "        deliver:\n"
                        "          - env: {name: T, unsafe: true}\n")),
            "");
}

TEST(PolicyValidateTest, TtlEqualToMaxDurationIsAllowed) {
  EXPECT_EQ(
      Errors(Task("    max_duration: 10m\n"
                  "    credentials:\n"
                  "      T: {provider: store, secret: t, ttl: 10m, deliver: [{stdin: {}}]}\n")),
      "");
}

TEST(PolicyValidateTest, OneMistakeGivesOneMessage) {
  // An undefined provider type is reported once, not again as an unknown provider.
  EXPECT_EQ(Errors("version: 1\nproviders:\n  x: {type: vault}\ntasks:\n  t:\n    credentials:\n"
                   "      T: {provider: x, secret: s, deliver: [{stdin: {}}]}\n"),
            "p.yaml:3:13: providers.x.type: unknown provider type \"vault\" (expected store, env "
            "or postgres)");
}

TEST(PolicyValidateTest, HostileNamesAreRefusedWherever) {
  std::string text = Task(
      "    environments: [dev]\n"
      "    credentials:\n"
      "      DB:\n"
      "        provider: pg-dev\n"
      "        grants: [app, \"a\\\"; DROP ROLE y; --\", Upper, \"" +
      std::string(64, 'a') +
      "\"]\n"
      "        deliver: [{file: {env: F, format: pgpass}}]\n");
  std::string errors = Errors(text);
  EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 2) << errors;
  EXPECT_NE(errors.find("grants[1]: \"a\\\"; DROP ROLE y; --\" is not a valid PostgreSQL role"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("grants[2]: \"Upper\""), std::string::npos) << errors;
  EXPECT_NE(errors.find("grants[3]: \"aaaa"), std::string::npos) << errors;
}

TEST(PolicyValidateTest, ConninfoKeywordParsingIgnoresPasswordInsideValues) {
  // "password" as part of a quoted value is not the password keyword.
  EXPECT_EQ(Errors("version: 1\nproviders:\n  pg: {type: postgres, admin_secret: a, conninfo: "
                   "\"application_name='password=x' dbname=app\"}\ntasks: {t: {}}\n"),
            "");
  EXPECT_EQ(Errors("version: 1\nproviders:\n  pg: {type: postgres, admin_secret: a, conninfo: "
                   "\"dbname=app  password = 'x y'\"}\ntasks: {t: {}}\n"),
            "p.yaml:3:51: providers.pg.conninfo: conninfo must not contain a password (keep it "
            "in the store secret named by admin_secret)");
  EXPECT_EQ(Errors("version: 1\nproviders:\n  pg: {type: postgres, admin_secret: a, conninfo: "
                   "\"postgresql://db/app?sslmode=require&password=x\"}\ntasks: {t: {}}\n"),
            "p.yaml:3:51: providers.pg.conninfo: conninfo must not contain a password (keep it "
            "in the store secret named by admin_secret)");
}

TEST(PolicyValidateTest, SandboxPathsAcceptTheDocumentedForms) {
  EXPECT_EQ(Errors(Task("    sandbox:\n"
                        "      filesystem:\n"
                        "        read: [/, \"~\", \"~/src\", ., build/out]\n"
                        "        write: [.]\n"
                        "        deny: [\"~/.ssh\"]\n"
                        "      protect: [.git/hooks]\n")),
            "");
  EXPECT_EQ(Errors(Task("    sandbox: {filesystem: {read: [\"\"]}}\n")),
            "p.yaml:8:35: tasks.t.sandbox.filesystem.read[0]: empty path");
}

TEST(PolicyValidateTest, EnvPassAcceptsGlobs) {
  auto p =
      ParsePolicy(Task("    env: {pass: [PATH, \"LC_*\", \"XDG_?_HOME\", \"*\"]}\n"), "p.yaml");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->tasks[0].env_pass.size(), 4u);
}

TEST(PolicyValidateTest, BooleansAreTrueOrFalseOnly) {
  EXPECT_EQ(Errors("version: 1\nsettings: {audit: {syslog: yes}}\ntasks: {t: {}}\n"),
            "p.yaml:2:28: settings.audit.syslog: expected true or false, got \"yes\"");
  EXPECT_EQ(Errors("version: 1\nsettings: {audit: {syslog: \"true\"}}\ntasks: {t: {}}\n"),
            "p.yaml:2:28: settings.audit.syslog: expected true or false, got \"true\"");
}

TEST(PolicyValidateTest, SeveralProblemsInOneCredentialAreAllReported) {
  std::string errors =
      Errors(Task("    credentials:\n"
                  "      T:\n"
                  "        provider: store\n"
                  "        deliver:\n"
                  "          - file: {env: A, format: pgpass}\n"
                  "          - env: {name: A}\n"));
  EXPECT_EQ(errors,
            "p.yaml:9:7: tasks.t.credentials.T: missing required key \"secret\" (provider "
            "\"store\" is of type store)\n"
            "p.yaml:12:36: tasks.t.credentials.T.deliver[0].file.format: format pgpass needs a "
            "postgres provider (this one is of type store)\n"
            "p.yaml:13:18: tasks.t.credentials.T.deliver[1].env: env delivery of secret field "
            "\"value\" needs \"unsafe: true\" on this entry (prefer a file delivery)\n"
            "p.yaml:13:25: tasks.t.credentials.T.deliver[1].env.name: variable \"A\" is already "
            "set by tasks.t.credentials.T.deliver[0] at line 12");
}

}  // namespace
}  // namespace jitsec::policy
