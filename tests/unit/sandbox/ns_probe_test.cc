// ProbeKernel: the probe result is cached in <state_dir>/kernel.json, keyed by kernel release
// and probe format, so that a run with a warm cache does no probing.
#include <sys/utsname.h>

#include <gtest/gtest.h>

#include "sandbox/sandbox.h"
#include "support/support.h"

namespace jitsec::sandbox {
namespace {
using ::jitsec::testing::ReadTextFile;
using ::jitsec::testing::ScopedTempDir;
using ::jitsec::testing::WriteTextFile;

std::string Release() {
  struct utsname u {};
  ::uname(&u);
  return u.release;
}

TEST(SandboxProbeKernelTest, WritesTheCacheKeyedByRelease) {
  ScopedTempDir dir;
  auto k = ProbeKernel(dir / "state");
  ASSERT_TRUE(k) << k.error().message();
  EXPECT_EQ(k->release, Release());
  auto cached = nlohmann::json::parse(ReadTextFile(dir / "state" / "kernel.json"));
  EXPECT_EQ(cached, k->ToJson());
  EXPECT_EQ(cached["release"], Release());
  EXPECT_EQ(cached["format"], 1);
}

TEST(SandboxProbeKernelTest, AWarmCacheIsUsedWithoutProbing) {
  ScopedTempDir dir;
  auto k = ProbeKernel(dir.path());
  ASSERT_TRUE(k);
  // Flip every flag in the cache: only a run that trusts the cache can return these values.
  nlohmann::json j = k->ToJson();
  for (const char* f : {"user_namespaces", "seccomp_filter", "memfd_seal", "memfd_secret",
                        "pidfd", "clone3", "cgroup_v2"}) {
    j[f] = !j[f].get<bool>();
  }
  j["landlock_abi"] = 99;
  WriteTextFile(dir / "kernel.json", j.dump());
  auto again = ProbeKernel(dir.path());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->ToJson(), j);
}

TEST(SandboxProbeKernelTest, ACacheForAnotherReleaseOrFormatIsReprobed) {
  ScopedTempDir dir;
  auto k = ProbeKernel("");
  ASSERT_TRUE(k);
  nlohmann::json stale = k->ToJson();
  stale["release"] = "1.0.0-old";
  stale["landlock_abi"] = 99;
  WriteTextFile(dir / "kernel.json", stale.dump());
  auto fresh = ProbeKernel(dir.path());
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->ToJson(), k->ToJson());
  EXPECT_EQ(nlohmann::json::parse(ReadTextFile(dir / "kernel.json")), k->ToJson());

  stale = k->ToJson();
  stale["format"] = 0;
  stale["landlock_abi"] = 99;
  WriteTextFile(dir / "kernel.json", stale.dump());
  EXPECT_EQ(ProbeKernel(dir.path())->ToJson(), k->ToJson());
  WriteTextFile(dir / "kernel.json", "{not json");
  EXPECT_EQ(ProbeKernel(dir.path())->ToJson(), k->ToJson());
}

TEST(SandboxProbeKernelTest, ProbesWhatThisKernelOffers) {
  auto k = ProbeKernel("");
  ASSERT_TRUE(k);
  // The test machines run a recent kernel; these are the layers jitsec cannot do without.
  EXPECT_EQ(k->user_namespaces, ::jitsec::testing::HasFeature(::jitsec::testing::Feature::kUserNamespaces));
  EXPECT_EQ(k->landlock_abi >= 1, ::jitsec::testing::HasFeature(::jitsec::testing::Feature::kLandlock));
  EXPECT_EQ(k->seccomp_filter, ::jitsec::testing::HasFeature(::jitsec::testing::Feature::kSeccomp));
  EXPECT_TRUE(k->pidfd);
  EXPECT_TRUE(k->memfd_seal);
}

}  // namespace
}  // namespace jitsec::sandbox
