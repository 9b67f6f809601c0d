#include "policy/schema.h"

#include "support/support.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace jitsec::policy {
namespace {

TEST(PolicySchemaTest, ListsTheKeysOfTheContract) {
  for (const char* path : {"version",
                           "settings.store",
                           "settings.state",
                           "settings.audit.path",
                           "settings.audit.syslog",
                           "providers.*.type",
                           "providers.*.conninfo",
                           "providers.*.admin_secret",
                           "providers.*.role_prefix",
                           "environments.*.when.ci",
                           "environments.*.when.branch",
                           "environments.*.when.repo",
                           "environments.*.when.user",
                           "environments.*.approval",
                           "tasks.*.description",
                           "tasks.*.environments",
                           "tasks.*.default_environment",
                           "tasks.*.commands",
                           "tasks.*.max_duration",
                           "tasks.*.env.pass",
                           "tasks.*.env.set",
                           "tasks.*.credentials.*.provider",
                           "tasks.*.credentials.*.secret",
                           "tasks.*.credentials.*.grants",
                           "tasks.*.credentials.*.ttl",
                           "tasks.*.credentials.*.deliver[].file.env",
                           "tasks.*.credentials.*.deliver[].file.path",
                           "tasks.*.credentials.*.deliver[].file.format",
                           "tasks.*.credentials.*.deliver[].file.template",
                           "tasks.*.credentials.*.deliver[].stdin.format",
                           "tasks.*.credentials.*.deliver[].env.name",
                           "tasks.*.credentials.*.deliver[].env.field",
                           "tasks.*.credentials.*.deliver[].env.unsafe",
                           "tasks.*.sandbox.enabled",
                           "tasks.*.sandbox.network",
                           "tasks.*.sandbox.filesystem.read",
                           "tasks.*.sandbox.filesystem.write",
                           "tasks.*.sandbox.filesystem.deny",
                           "tasks.*.sandbox.protect"}) {
    const SchemaKey* k = FindSchemaKey(path);
    ASSERT_NE(k, nullptr) << path;
    EXPECT_FALSE(k->type.empty()) << path;
    EXPECT_FALSE(k->doc.empty()) << path;
  }
  EXPECT_EQ(FindSchemaKey("tasks.*.credentials.*.ttl")->type, "duration");
  EXPECT_EQ(FindSchemaKey("tasks.*.sandbox.network")->default_value, "none");
  EXPECT_EQ(FindSchemaKey("nope"), nullptr);
}

TEST(PolicySchemaTest, EveryRowHasItsParentAndIsUnique) {
  std::set<std::string> seen;
  for (const SchemaKey& k : Schema()) {
    EXPECT_TRUE(seen.insert(std::string(k.path)).second) << "duplicate " << k.path;
    std::string p(k.path);
    size_t cut = p.find_last_of('.');
    if (cut == std::string::npos) continue;
    std::string parent = p.substr(0, cut);
    if (parent.ends_with("[]")) parent.resize(parent.size() - 2);
    EXPECT_NE(FindSchemaKey(parent), nullptr) << "no parent row for " << k.path;
  }
}

TEST(PolicySchemaTest, EveryLeafKeyIsUsedByTheEveryKeyExample) {
  std::string text = ::jitsec::testing::ReadTextFile(std::string(JITSEC_TEST_DATA_DIR) +
                                                     "/policies/valid/every_key.yaml");
  for (const SchemaKey& k : Schema()) {
    std::string_view leaf = k.path.substr(k.path.find_last_of('.') + 1);
    if (leaf == "*") continue;
    if (leaf.ends_with("[]")) leaf.remove_suffix(2);
    EXPECT_NE(text.find(std::string(leaf) + ":"), std::string::npos) << k.path;
  }
}

TEST(PolicySchemaTest, AllowedKeysAreTheFixedChildren) {
  auto top = AllowedKeys("");
  EXPECT_EQ(
      std::vector<std::string>(top.begin(), top.end()),
      (std::vector<std::string>{"version", "settings", "providers", "environments", "tasks"}));
  auto entry = AllowedKeys("tasks.*.credentials.*.deliver[]");
  EXPECT_EQ(std::vector<std::string>(entry.begin(), entry.end()),
            (std::vector<std::string>{"file", "stdin", "env"}));
  EXPECT_TRUE(AllowedKeys("tasks").empty());  // a map of names
}

TEST(PolicySchemaTest, EditDistanceAndSuggestion) {
  EXPECT_EQ(EditDistance("enviroments", "environments"), 1);
  EXPECT_EQ(EditDistance("", "abc"), 3);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
  std::vector<std::string_view> keys = {"environments", "tasks", "ttl"};
  EXPECT_EQ(Suggest("enviroments", std::span<const std::string_view>(keys)), "environments");
  EXPECT_EQ(Suggest("ttx", std::span<const std::string_view>(keys)), "ttl");
  EXPECT_EQ(Suggest("colour", std::span<const std::string_view>(keys)), "");
}

}  // namespace
}  // namespace jitsec::policy
