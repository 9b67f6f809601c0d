// Runs every policy in tests/data/policies: valid/ must load, each invalid/NAME.yaml must give
// exactly the text of NAME.expected (all diagnostics joined by "\n").
#include "policy/policy.h"
#include "support/support.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <vector>

namespace jitsec::policy {
namespace {

namespace fs = std::filesystem;
using ::jitsec::testing::ReadTextFile;

std::vector<fs::path> YamlFiles(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".yaml") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

const fs::path kData = fs::path(JITSEC_TEST_DATA_DIR) / "policies";

TEST(PolicyDataTest, EveryInvalidPolicyGivesItsExpectedMessage) {
  std::vector<fs::path> files = YamlFiles(kData / "invalid");
  EXPECT_GE(files.size(), 35u);
  for (const fs::path& f : files) {
    SCOPED_TRACE(f.filename().string());
    fs::path expected_file = fs::path(f).replace_extension(".expected");
    ASSERT_TRUE(fs::exists(expected_file)) << expected_file;
    std::string expected = ReadTextFile(expected_file);
    while (!expected.empty() && expected.back() == '\n') expected.pop_back();
    std::string got = testing::Errors(ReadTextFile(f), f.filename().string());
    EXPECT_EQ(got, expected);
    // One error per file: each file tests exactly one rule.
    EXPECT_EQ(std::count(got.begin(), got.end(), '\n'), 0) << got;
  }
}

TEST(PolicyDataTest, EveryValidPolicyLoads) {
  std::vector<fs::path> files = YamlFiles(kData / "valid");
  EXPECT_GE(files.size(), 4u);
  for (const fs::path& f : files) {
    SCOPED_TRACE(f.filename().string());
    EXPECT_EQ(testing::Errors(ReadTextFile(f), f.filename().string()), "");
  }
}

TEST(PolicyDataTest, NormativeExampleHasTheTasksOfTheContract) {
  auto p = ParsePolicy(ReadTextFile(kData / "valid" / "normative.yaml"), "normative.yaml");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->tasks.size(), 2u);
  EXPECT_EQ(p->tasks[0].name, "hello");
  EXPECT_EQ(p->tasks[1].name, "migrate");
  const Task& m = p->tasks[1];
  EXPECT_EQ(m.default_environment, "staging");
  ASSERT_TRUE(m.max_duration);
  EXPECT_EQ(*m.max_duration, std::chrono::minutes(10));
  ASSERT_EQ(m.credentials.size(), 1u);
  EXPECT_EQ(ResolveProviderName(m.credentials[0], "staging"), "pg-staging");
  EXPECT_EQ(m.credentials[0].deliver.size(), 4u);
  EXPECT_EQ(m.credentials[0].deliver[0].format, FileFormat::kPgpass);
  EXPECT_EQ(m.sandbox.network, Network::kHost);
  EXPECT_EQ(m.sandbox.write, std::vector<std::string>{"."});
  EXPECT_EQ(p->providers.at("pg-staging").type, ProviderType::kPostgres);
  EXPECT_EQ(p->providers.at("pg-staging").role_prefix, "jitsec_");
}

TEST(PolicyDataTest, ProjectExamplePoliciesLoad) {
  fs::path dir = fs::path(JITSEC_SOURCE_DIR) / "policies";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "no policies/ directory yet";
  for (const fs::path& f : YamlFiles(dir)) {
    SCOPED_TRACE(f.filename().string());
    EXPECT_EQ(testing::Errors(ReadTextFile(f), f.filename().string()), "");
  }
}

}  // namespace
}  // namespace jitsec::policy

namespace jitsec::policy {
namespace {

// Every prefix and many single-byte corruptions of the valid policies: the parser must return
// either a policy or at least one positioned diagnostic, never crash (run under ASan in CI).
TEST(PolicyDataTest, CorruptedPoliciesGiveDiagnosticsNotCrashes) {
  const std::string replacements = ":{}[]-\n \t\"'*&!#|>%@`,?";
  for (const fs::path& f : YamlFiles(kData / "valid")) {
    std::string text = ReadTextFile(f);
    size_t step = std::max<size_t>(1, text.size() / 80);
    for (size_t cut = 0; cut < text.size(); cut += step) {
      std::string prefix = text.substr(0, cut);
      auto r = ParsePolicy(prefix, "c.yaml");
      if (!r) {
        ASSERT_FALSE(r.error().empty());
        for (const Diagnostic& d : r.error()) EXPECT_GE(d.line, 1) << d.ToString();
      }
      std::string mutated = text;
      mutated[cut] = replacements[cut % replacements.size()];
      auto m = ParsePolicy(mutated, "c.yaml");
      if (!m) {
        ASSERT_FALSE(m.error().empty());
        for (const Diagnostic& d : m.error()) EXPECT_GE(d.line, 1) << d.ToString();
      }
    }
  }
}

}  // namespace
}  // namespace jitsec::policy
