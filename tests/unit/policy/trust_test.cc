#include "policy/policy.h"
#include "support/support.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

namespace jitsec::policy {
namespace {

using ::jitsec::testing::ScopedTempDir;
using ::jitsec::testing::WriteTextFile;

constexpr std::string_view kValid = "version: 1\ntasks:\n  t: {}\n";

std::string OnlyMessage(const std::filesystem::path& p) {
  auto r = LoadPolicyFile(p);
  if (r) return "loaded";
  EXPECT_EQ(r.error().size(), 1u);
  return r.error().front().ToString();
}

TEST(PolicyTrustTest, LoadsPrivateFile) {
  ScopedTempDir dir;
  auto f = dir / "policy.yaml";
  WriteTextFile(f, kValid, 0644);
  auto p = LoadPolicyFile(f);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->file, f);
  EXPECT_EQ(p->tasks.size(), 1u);
}

TEST(PolicyTrustTest, RefusesGroupWritableFile) {
  ScopedTempDir dir;
  auto f = dir / "policy.yaml";
  WriteTextFile(f, kValid, 0644);
  ASSERT_EQ(::chmod(f.c_str(), 0664), 0);
  EXPECT_EQ(OnlyMessage(f), f.string() +
                                ": policy file is writable by group or others (chmod "
                                "go-w " +
                                f.string() + ")");
  auto e = LoadPolicy(f);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), ErrorCode::kPolicyUntrusted);
}

TEST(PolicyTrustTest, RefusesWorldWritableFile) {
  ScopedTempDir dir;
  auto f = dir / "policy.yaml";
  WriteTextFile(f, kValid, 0600);
  ASSERT_EQ(::chmod(f.c_str(), 0602), 0);
  EXPECT_EQ(LoadPolicyFile(f).error().front().kind, DiagnosticKind::kUntrusted);
}

TEST(PolicyTrustTest, RefusesGroupWritableDirectory) {
  ScopedTempDir dir;
  auto sub = dir / "conf";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(sub.c_str(), 0770), 0);
  auto f = sub / "policy.yaml";
  WriteTextFile(f, kValid, 0644);
  EXPECT_EQ(OnlyMessage(f), f.string() + ": directory " + sub.string() +
                                " is writable by group or others (chmod go-w " + sub.string() +
                                ")");
}

TEST(PolicyTrustTest, AcceptsStickyWorldWritableDirectory) {
  // Like /tmp: only the file's owner may replace the file, and that owner is checked.
  ScopedTempDir dir;
  auto sub = dir / "sticky";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(sub.c_str(), 01777), 0);
  auto f = sub / "policy.yaml";
  WriteTextFile(f, kValid, 0644);
  EXPECT_EQ(OnlyMessage(f), "loaded");
}

TEST(PolicyTrustTest, RefusesFileOwnedByAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown a file to another uid";
  ScopedTempDir dir;
  auto f = dir / "policy.yaml";
  WriteTextFile(f, kValid, 0644);
  ASSERT_EQ(::chown(f.c_str(), 4242, 4242), 0);
  // The caller is root: a file owned by uid 4242 is neither root's nor the caller's.
  EXPECT_EQ(OnlyMessage(f), f.string() + ": policy file is owned by uid 4242, not by you or root");
}

TEST(PolicyTrustTest, RefusesDirectoryOwnedByAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown a directory to another uid";
  ScopedTempDir dir;
  auto sub = dir / "theirs";
  ASSERT_EQ(::mkdir(sub.c_str(), 0755), 0);
  auto f = sub / "policy.yaml";
  WriteTextFile(f, kValid, 0644);
  ASSERT_EQ(::chown(sub.c_str(), 4242, 4242), 0);
  EXPECT_EQ(OnlyMessage(f), f.string() + ": directory " + sub.string() +
                                " is owned by uid 4242, not by you or root");
}

TEST(PolicyTrustTest, MissingFileIsOneClearDiagnostic) {
  ScopedTempDir dir;
  auto f = dir / "absent.yaml";
  EXPECT_EQ(OnlyMessage(f),
            f.string() + ": policy file not found (give one with --policy or $JITSEC_POLICY)");
  auto e = LoadPolicy(f);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), ErrorCode::kNotFound);
}

TEST(PolicyTrustTest, DirectoryIsNotAPolicyFile) {
  ScopedTempDir dir;
  EXPECT_EQ(OnlyMessage(dir.path()), dir.path().string() + ": policy file is not a regular file");
}

TEST(PolicyTrustTest, UnreadableFileIsReported) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files regardless of their mode";
  ScopedTempDir dir;
  auto f = dir / "policy.yaml";
  WriteTextFile(f, kValid, 0600);
  ASSERT_EQ(::chmod(f.c_str(), 0000), 0);
  EXPECT_EQ(OnlyMessage(f), f.string() + ": cannot open policy file: Permission denied");
}

TEST(PolicyTrustTest, LoadPolicyGivesFirstErrorAndCount) {
  ScopedTempDir dir;
  auto f = dir / "policy.yaml";
  WriteTextFile(f, "version: 3\ntasks:\n  t: {colour: red, description: [x]}\n", 0600);
  auto e = LoadPolicy(f);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), ErrorCode::kPolicyInvalid);
  EXPECT_EQ(e.error().message(),
            f.string() +
                ":1:10: version: unsupported policy version \"3\" (this jitsec reads "
                "version 1) (and 2 more errors; run jitsec check)");

  WriteTextFile(f, "version: 1\ntasks: [\n", 0600);
  auto s = LoadPolicy(f);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kPolicySyntax);

  WriteTextFile(f, "version: 1\ntasks: {t: {}, u: {x: 1}}\n", 0600);
  auto one = LoadPolicy(f);
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error().message(), f.string() + ":2:20: tasks.u: unknown key \"x\"");
}

}  // namespace
}  // namespace jitsec::policy
