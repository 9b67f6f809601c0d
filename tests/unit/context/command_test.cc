#include "context/context.h"
#include "support/support.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace jitsec::context {
namespace {

namespace fs = std::filesystem;
using jitsec::testing::ScopedTempDir;
using jitsec::testing::WriteTextFile;

constexpr std::string_view kScript = "#!/bin/sh\nexit 0\n";

class ResolveCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp_ / "cwd");
    fs::create_directories(tmp_ / "a");
    fs::create_directories(tmp_ / "b");
  }
  std::string Dir(std::string_view name) const { return (tmp_ / name).string(); }

  ScopedTempDir tmp_;
};

TEST_F(ResolveCommandTest, FindsTheFirstExecutableOnPath) {
  WriteTextFile(tmp_ / "a" / "tool", kScript, 0755);
  WriteTextFile(tmp_ / "b" / "tool", kScript, 0755);
  auto r = ResolveCommand("tool", Dir("a") + ":" + Dir("b"), tmp_ / "cwd");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, tmp_ / "a" / "tool");
}

TEST_F(ResolveCommandTest, SkipsNonExecutableAndDirectoryMatchesForALaterExecutable) {
  WriteTextFile(tmp_ / "a" / "tool", kScript, 0644);
  fs::create_directories(tmp_ / "cwd" / "tool");
  WriteTextFile(tmp_ / "b" / "tool", kScript, 0755);
  auto r = ResolveCommand("tool", Dir("a") + "::" + Dir("b"), tmp_ / "cwd");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, tmp_ / "b" / "tool");
}

TEST_F(ResolveCommandTest, NothingOnPathIsCommandNotFound) {
  auto r = ResolveCommand("jitsec-no-such-tool", Dir("a") + ":" + Dir("b"), tmp_ / "cwd");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kCommandNotFound);
  EXPECT_EQ(r.error().message(), "command not found: jitsec-no-such-tool");
}

TEST_F(ResolveCommandTest, OnlyNonExecutableMatchesArePermissionDenied) {
  WriteTextFile(tmp_ / "b" / "tool", kScript, 0644);
  auto r = ResolveCommand("tool", Dir("a") + ":" + Dir("b"), tmp_ / "cwd");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kCommandNotExecutable);
  EXPECT_EQ(r.error().message(), "permission denied: tool");
}

TEST_F(ResolveCommandTest, DirectoriesOnPathAreSkipped) {
  fs::create_directories(tmp_ / "a" / "tool");
  auto r = ResolveCommand("tool", Dir("a"), tmp_ / "cwd");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kCommandNotFound);
  EXPECT_EQ(r.error().message(), "command not found: tool");
}

TEST_F(ResolveCommandTest, EmptyPathEntryMeansTheWorkingDirectory) {
  WriteTextFile(tmp_ / "cwd" / "local", kScript, 0755);
  for (const std::string& path :
       {Dir("a") + ":", ":" + Dir("a"), Dir("a") + "::" + Dir("b"), std::string()}) {
    auto r = ResolveCommand("local", path, tmp_ / "cwd");
    ASSERT_TRUE(r.has_value()) << "PATH=" << path << ": " << r.error().message();
    EXPECT_EQ(*r, tmp_ / "cwd" / "local");
  }
  auto r = ResolveCommand("local", Dir("a"), tmp_ / "cwd");
  EXPECT_FALSE(r.has_value());
}

TEST_F(ResolveCommandTest, RelativePathEntriesAreRelativeToTheWorkingDirectory) {
  WriteTextFile(tmp_ / "a" / "tool", kScript, 0755);
  auto r = ResolveCommand("tool", "../a", tmp_ / "cwd");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, tmp_ / "a" / "tool");
}

TEST_F(ResolveCommandTest, NameWithSlashIsRelativeToCwdAndNotSearched) {
  fs::create_directories(tmp_ / "cwd" / "scripts");
  WriteTextFile(tmp_ / "cwd" / "scripts" / "migrate.sh", kScript, 0755);
  WriteTextFile(tmp_ / "a" / "migrate.sh", kScript, 0755);

  auto r = ResolveCommand("./scripts/../scripts/migrate.sh", Dir("a"), tmp_ / "cwd");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, tmp_ / "cwd" / "scripts" / "migrate.sh");

  auto missing = ResolveCommand("./migrate.sh", Dir("a"), tmp_ / "cwd");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kCommandNotFound);
  EXPECT_EQ(missing.error().message(), "command not found: ./migrate.sh");
}

TEST_F(ResolveCommandTest, AbsoluteNameIsUsedAsIs) {
  WriteTextFile(tmp_ / "b" / "tool", kScript, 0755);
  auto r = ResolveCommand((tmp_ / "b" / "tool").string(), "", tmp_ / "cwd");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, tmp_ / "b" / "tool");
}

TEST_F(ResolveCommandTest, NameWithSlashThatCannotBeExecutedIs126) {
  WriteTextFile(tmp_ / "cwd" / "data.txt", "x", 0644);
  auto r = ResolveCommand("./data.txt", "", tmp_ / "cwd");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kCommandNotExecutable);
  EXPECT_EQ(r.error().message(), "permission denied: ./data.txt");

  auto dir = ResolveCommand("../a", "", tmp_ / "cwd");
  ASSERT_FALSE(dir.has_value());
  EXPECT_EQ(dir.error().code(), ErrorCode::kCommandNotExecutable);
  EXPECT_EQ(dir.error().message(), "is a directory: ../a");
}

TEST_F(ResolveCommandTest, SymlinksAreNotResolved) {
  WriteTextFile(tmp_ / "b" / "real-tool", kScript, 0755);
  fs::create_symlink(tmp_ / "b" / "real-tool", tmp_ / "a" / "tool");
  auto r = ResolveCommand("tool", Dir("a"), tmp_ / "cwd");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, tmp_ / "a" / "tool");
}

TEST_F(ResolveCommandTest, EmptyNameIsNotFound) {
  auto r = ResolveCommand("", Dir("a"), tmp_ / "cwd");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kCommandNotFound);
  EXPECT_EQ(r.error().message(), "command not found: \"\"");
}

TEST_F(ResolveCommandTest, ContextOverloadUsesPathFromTheSnapshotAndItsDefault) {
  WriteTextFile(tmp_ / "a" / "tool", kScript, 0755);
  RunContext ctx;
  ctx.cwd = tmp_ / "cwd";
  ctx.env = {{"PATH", Dir("a")}};
  auto r = ResolveCommand("tool", ctx);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, tmp_ / "a" / "tool");

  ctx.env.clear();  // unset PATH: /bin:/usr/bin, where sh lives on every Debian system
  auto sh = ResolveCommand("sh", ctx);
  ASSERT_TRUE(sh.has_value()) << sh.error().message();
  EXPECT_TRUE(*sh == "/bin/sh" || *sh == "/usr/bin/sh") << *sh;
  EXPECT_FALSE(ResolveCommand("tool", ctx).has_value());
}

TEST(GlobMatchTest, MatchesLikeFnmatch) {
  EXPECT_TRUE(GlobMatch("psql", "psql"));
  EXPECT_FALSE(GlobMatch("psql", "psql2"));
  EXPECT_TRUE(GlobMatch("release/*", "release/1.0"));
  EXPECT_TRUE(GlobMatch("release/*", "release/1.0/hotfix"));
  EXPECT_FALSE(GlobMatch("release/*", "release/1.0/hotfix", /*pathname=*/true));
  EXPECT_TRUE(GlobMatch("release/*", "release/1.0", /*pathname=*/true));
  EXPECT_TRUE(GlobMatch("/usr/bin/py?hon3", "/usr/bin/python3", true));
  EXPECT_TRUE(GlobMatch("github.com/acme/*", "github.com/acme/app", true));
  EXPECT_FALSE(GlobMatch("github.com/acme/*", "github.com/acme-evil/app", true));
  EXPECT_TRUE(GlobMatch("v[0-9]*", "v1.2"));
  EXPECT_FALSE(GlobMatch("v[0-9]*", "vx"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_FALSE(GlobMatch("main", ""));
  EXPECT_FALSE(GlobMatch("ma", std::string_view("ma\0in", 5)));
}

}  // namespace
}  // namespace jitsec::context
