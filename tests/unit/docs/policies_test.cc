// Every example policy in policies/ loads through the same code path as `jitsec check`
// (policy::LoadPolicy: trust check, parse, validate), and policies/example.yaml stays the
// normative example of the format.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "policy/policy.h"
#include "support/support.h"

namespace jitsec {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> ExamplePolicies() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(fs::path(JITSEC_SOURCE_DIR) / "policies")) {
    if (entry.path().extension() == ".yaml") {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(DocsPoliciesTest, ShipsTheExamplesTheDocsReferTo) {
  std::vector<std::string> names;
  for (const auto& p : ExamplePolicies()) {
    names.push_back(p.filename().string());
  }
  for (const char* want : {"agent-default.yaml", "ci-deploy.yaml", "db-migrate.yaml",
                           "package-publish.yaml", "example.yaml"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
}

TEST(DocsPoliciesTest, EveryExamplePolicyLoadsAndValidates) {
  // A git checkout may leave the files group-writable (umask 002), which the trust check
  // rightly refuses; load a 0600 copy in a private directory instead.
  testing::ScopedTempDir dir;
  for (const auto& src : ExamplePolicies()) {
    const fs::path copy = dir / src.filename().string();
    testing::WriteTextFile(copy, testing::ReadTextFile(src), 0600);
    auto policy = policy::LoadPolicy(copy);
    ASSERT_TRUE(policy.has_value()) << src.filename() << ": " << policy.error().ToString();
    EXPECT_FALSE(policy->tasks.empty()) << src.filename();
    for (const auto& task : policy->tasks) {
      EXPECT_FALSE(task.description.empty())
          << src.filename() << ": task " << task.name << " has no description";
    }
  }
}

TEST(DocsPoliciesTest, AgentDefaultHasNoNetworkAndNoCredentials) {
  testing::ScopedTempDir dir;
  const fs::path copy = dir / "agent-default.yaml";
  testing::WriteTextFile(
      copy, testing::ReadTextFile(fs::path(JITSEC_SOURCE_DIR) / "policies/agent-default.yaml"),
      0600);
  auto policy = policy::LoadPolicy(copy);
  ASSERT_TRUE(policy.has_value()) << policy.error().ToString();
  for (const auto& task : policy->tasks) {
    EXPECT_TRUE(task.credentials.empty()) << task.name;
    EXPECT_EQ(task.sandbox.network, policy::Network::kNone) << task.name;
    EXPECT_TRUE(task.sandbox.enabled) << task.name;
  }
}

TEST(DocsPoliciesTest, ExampleYamlIsTheNormativeTestFixture) {
  // tests/data/policies/valid/normative.yaml is the policy module's verbatim copy of the
  // example in the format description; the shipped example must not drift from it.
  const fs::path fixture = fs::path(JITSEC_TEST_DATA_DIR) / "policies/valid/normative.yaml";
  if (!fs::exists(fixture)) {
    GTEST_SKIP() << "no " << fixture << " in this tree";
  }
  EXPECT_EQ(testing::ReadTextFile(fs::path(JITSEC_SOURCE_DIR) / "policies/example.yaml"),
            testing::ReadTextFile(fixture));
}

}  // namespace
}  // namespace jitsec
