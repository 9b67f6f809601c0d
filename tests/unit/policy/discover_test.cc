#include "base/environment.h"
#include "policy/policy.h"
#include "support/support.h"

#include <gtest/gtest.h>

namespace jitsec::policy {
namespace {

using ::jitsec::testing::ScopedTempDir;
using ::jitsec::testing::WriteTextFile;

TEST(PolicyDiscoverTest, FlagWinsOverEverything) {
  MapEnvironment env({{"JITSEC_POLICY", "/env/p.yaml"}, {"HOME", "/home/x"}});
  EXPECT_EQ(DiscoverPolicyPath(env, "./mine.yaml"), "./mine.yaml");
}

TEST(PolicyDiscoverTest, EnvironmentVariableComesNext) {
  MapEnvironment env({{"JITSEC_POLICY", "/env/p.yaml"}, {"HOME", "/home/x"}});
  EXPECT_EQ(DiscoverPolicyPath(env, ""), "/env/p.yaml");
}

TEST(PolicyDiscoverTest, XdgConfigFileWhenItExists) {
  ScopedTempDir dir;
  std::filesystem::create_directories(dir / "cfg" / "jitsec");
  MapEnvironment env({{"JITSEC_POLICY", ""}, {"XDG_CONFIG_HOME", (dir / "cfg").string()}});
  EXPECT_EQ(DiscoverPolicyPath(env, ""), "/etc/jitsec/policy.yaml");  // not there yet
  WriteTextFile(dir / "cfg" / "jitsec" / "policy.yaml", "version: 1\n");
  EXPECT_EQ(DiscoverPolicyPath(env, ""), dir / "cfg" / "jitsec" / "policy.yaml");
}

TEST(PolicyDiscoverTest, HomeConfigWhenXdgIsUnset) {
  ScopedTempDir dir;
  std::filesystem::create_directories(dir / ".config" / "jitsec");
  WriteTextFile(dir / ".config" / "jitsec" / "policy.yaml", "version: 1\n");
  MapEnvironment env({{"HOME", dir.path().string()}});
  EXPECT_EQ(DiscoverPolicyPath(env, ""), dir / ".config" / "jitsec" / "policy.yaml");
}

TEST(PolicyDiscoverTest, SystemPathIsTheLastResortEvenWhenAbsent) {
  ScopedTempDir dir;
  MapEnvironment env({{"HOME", dir.path().string()}});
  EXPECT_EQ(DiscoverPolicyPath(env, ""), "/etc/jitsec/policy.yaml");
}

}  // namespace
}  // namespace jitsec::policy
