// The cached seccomp program (PrepareSeccompCached): written on the first run, read back on the
// next (proved by planting a different, self-consistent program), rebuilt when the build ID,
// the kernel release or the hash does not match, or the file is not JSON; and a missing cache
// directory is not an error.
#include <linux/filter.h>

#include <cstring>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/crypto.h"
#include "base/encoding.h"
#include "sandbox/seccomp.h"
#include "support/support.h"

namespace jitsec::sandbox {
namespace {
namespace fs = std::filesystem;
using ::jitsec::testing::ReadTextFile;
using ::jitsec::testing::ScopedTempDir;
using ::jitsec::testing::WriteTextFile;

std::string Raw(const SeccompProgram& p) {
  return std::string(reinterpret_cast<const char*>(p.insns.data()), p.insns.size() * sizeof(sock_filter));
}

class SeccompCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (OwnBuildId().empty()) GTEST_SKIP() << "this binary has no GNU build ID: nothing is cached";
    auto p = PrepareSeccomp(SandboxPlan{});
    ASSERT_TRUE(p) << p.error().message();
    fresh_ = std::move(*p);
  }
  ScopedTempDir dir_;
  fs::path cache_ = dir_ / "seccomp.json";
  SeccompProgram fresh_;
};

TEST_F(SeccompCacheTest, FirstRunWritesTheCacheTheNextReadsIt) {
  EXPECT_EQ(OwnBuildId().size(), 40U);  // SHA-1 build IDs, as GNU ld makes them by default
  auto first = PrepareSeccompCached(SandboxPlan{}, cache_, "6.1.0-test");
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(Raw(*first), Raw(fresh_));
  auto j = nlohmann::json::parse(ReadTextFile(cache_));
  EXPECT_EQ(j["build"], OwnBuildId());
  EXPECT_EQ(j["release"], "6.1.0-test");
  EXPECT_EQ(j["sha256"], fresh_.sha256);
  EXPECT_EQ(j["program"], HexEncode(Raw(fresh_)));
  EXPECT_EQ(fs::status(cache_).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);

  // A different program with a matching hash is taken as it is: the second run reads the file.
  SeccompProgram planted = fresh_;
  planted.insns.back().k ^= 1;
  j["program"] = HexEncode(Raw(planted));
  j["sha256"] = *crypto::Sha256Hex(Raw(planted));
  WriteTextFile(cache_, j.dump(), 0600);
  auto second = PrepareSeccompCached(SandboxPlan{}, cache_, "6.1.0-test");
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(Raw(*second), Raw(planted));
  EXPECT_EQ(second->sha256, j["sha256"]);
}

TEST_F(SeccompCacheTest, StaleOrDamagedCacheIsRebuiltAndRewritten) {
  ASSERT_TRUE(PrepareSeccompCached(SandboxPlan{}, cache_, "6.1.0-test"));
  const nlohmann::json good = nlohmann::json::parse(ReadTextFile(cache_));
  SeccompProgram planted = fresh_;
  planted.insns.back().k ^= 1;

  struct Case {
    const char* what;
    std::string text;
    std::string release;
  } cases[] = {
      {"another kernel", good.dump(), "6.2.0-other"},
      {"another build", nlohmann::json(good).dump().replace(good.dump().find(OwnBuildId()), 40,
                                                            std::string(40, '0')),
       "6.1.0-test"},
      {"hash mismatch",
       [&] {
         nlohmann::json j = good;
         j["program"] = HexEncode(Raw(planted));  // the old hash
         return j.dump();
       }(),
       "6.1.0-test"},
      {"not JSON", "{\"format\":1,", "6.1.0-test"},
      {"truncated program",
       [&] {
         nlohmann::json j = good;
         std::string hex = j["program"];
         j["program"] = hex.substr(0, hex.size() - 2);
         return j.dump();
       }(),
       "6.1.0-test"},
  };
  for (const auto& c : cases) {
    WriteTextFile(cache_, c.text, 0600);
    auto p = PrepareSeccompCached(SandboxPlan{}, cache_, c.release);
    ASSERT_TRUE(p) << c.what << ": " << p.error().message();
    EXPECT_EQ(Raw(*p), Raw(fresh_)) << c.what;
    auto j = nlohmann::json::parse(ReadTextFile(cache_));
    EXPECT_EQ(j["release"], c.release) << c.what;
    EXPECT_EQ(j["sha256"], fresh_.sha256) << c.what;
  }
}

TEST_F(SeccompCacheTest, UnwritableCacheIsNotAnError) {
  auto p = PrepareSeccompCached(SandboxPlan{}, dir_ / "missing-dir" / "seccomp.json", "6.1.0-test");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(Raw(*p), Raw(fresh_));
  EXPECT_FALSE(fs::exists(dir_ / "missing-dir"));
}

}  // namespace
}  // namespace jitsec::sandbox
