#include "context/context.h"
#include "support/support.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

namespace jitsec::context {
namespace {

namespace fs = std::filesystem;
using jitsec::testing::ReadTextFile;
using jitsec::testing::RunProcess;
using jitsec::testing::ScopedTempDir;
using jitsec::testing::WriteTextFile;

std::string GitBinary() {
  for (const char* p : {"/usr/bin/git", "/usr/local/bin/git", "/bin/git"}) {
    if (::access(p, X_OK) == 0) {
      return p;
    }
  }
  return "";
}

// Runs git (the tests may; the code under test may not) with an isolated configuration.
class GitRepoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    git_ = GitBinary();
    if (git_.empty()) {
      GTEST_SKIP() << "git is not installed";
    }
    env_ = {{"HOME", tmp_.path().string()},
            {"PATH", "/usr/local/bin:/usr/bin:/bin"},
            {"GIT_CONFIG_NOSYSTEM", "1"},
            {"GIT_CONFIG_GLOBAL", "/dev/null"},
            {"GIT_AUTHOR_NAME", "t"},
            {"GIT_AUTHOR_EMAIL", "t@example.com"},
            {"GIT_COMMITTER_NAME", "t"},
            {"GIT_COMMITTER_EMAIL", "t@example.com"},
            {"LANG", "C"}};
  }

  std::string Git(const fs::path& cwd, std::vector<std::string> args) {
    args.insert(args.begin(), git_);
    jitsec::testing::RunOptions opts;
    opts.env = env_;
    opts.cwd = cwd;
    auto r = RunProcess(args, opts);
    EXPECT_EQ(r.status, 0) << "git " << args[1] << ": " << r.err;
    while (!r.out.empty() && r.out.back() == '\n') {
      r.out.pop_back();
    }
    return r.out;
  }

  // A repository on branch main with one commit; returns its commit id.
  std::string InitWithCommit(const fs::path& dir) {
    fs::create_directories(dir);
    Git(dir, {"init", "-q", "-b", "main"});
    WriteTextFile(dir / "README", "hello\n");
    Git(dir, {"add", "README"});
    Git(dir, {"commit", "-q", "-m", "first"});
    return Git(dir, {"rev-parse", "HEAD"});
  }

  std::string git_;
  ScopedTempDir tmp_;
  std::map<std::string, std::string> env_;
};

TEST_F(GitRepoTest, NormalRepositoryGivesRootBranchCommitAndOrigin) {
  fs::path repo = tmp_ / "app";
  std::string head = InitWithCommit(repo);
  Git(repo, {"remote", "add", "origin", "git@GitHub.com:acme/app.git"});

  auto info = ReadGit(repo);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->root, repo);
  EXPECT_EQ(info->branch, "main");
  EXPECT_EQ(info->commit, head);
  EXPECT_EQ(info->commit.size(), 40u);
  EXPECT_EQ(info->origin, "github.com/acme/app");
}

TEST_F(GitRepoTest, SubdirectoryFindsTheWorkTreeRoot) {
  fs::path repo = tmp_ / "app";
  std::string head = InitWithCommit(repo);
  fs::create_directories(repo / "src" / "deep");

  auto info = ReadGit(repo / "src" / "deep");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->root, repo);
  EXPECT_EQ(info->commit, head);
  EXPECT_EQ(info->origin, "");
}

TEST_F(GitRepoTest, DetachedHeadHasNoBranchAndTheCommit) {
  fs::path repo = tmp_ / "app";
  std::string first = InitWithCommit(repo);
  WriteTextFile(repo / "b", "b\n");
  Git(repo, {"add", "b"});
  Git(repo, {"commit", "-q", "-m", "second"});
  Git(repo, {"checkout", "-q", "--detach", first});

  auto info = ReadGit(repo);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->branch, "");
  EXPECT_EQ(info->commit, first);
}

TEST_F(GitRepoTest, PackedRefsOnlyStillResolveTheBranch) {
  fs::path repo = tmp_ / "app";
  std::string head = InitWithCommit(repo);
  Git(repo, {"tag", "-a", "-m", "annotated", "v1"});  // adds a "^" peel line
  Git(repo, {"pack-refs", "--all"});
  ASSERT_FALSE(fs::exists(repo / ".git" / "refs" / "heads" / "main"));
  ASSERT_NE(ReadTextFile(repo / ".git" / "packed-refs").find('^'), std::string::npos);

  auto info = ReadGit(repo);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->branch, "main");
  EXPECT_EQ(info->commit, head);
}

TEST_F(GitRepoTest, WorktreeReadsItsOwnHeadAndTheCommonConfig) {
  fs::path repo = tmp_ / "app";
  InitWithCommit(repo);
  Git(repo, {"remote", "add", "origin", "https://github.com/acme/app"});
  fs::path wt = tmp_ / "wt";
  Git(repo, {"worktree", "add", "-q", "-b", "feature", wt.string()});
  WriteTextFile(wt / "f", "f\n");
  Git(wt, {"add", "f"});
  Git(wt, {"commit", "-q", "-m", "feature work"});
  std::string wt_head = Git(wt, {"rev-parse", "HEAD"});
  ASSERT_TRUE(fs::is_regular_file(wt / ".git"));

  auto info = ReadGit(wt);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->root, wt);
  EXPECT_EQ(info->branch, "feature");
  EXPECT_EQ(info->commit, wt_head);
  EXPECT_EQ(info->origin, "github.com/acme/app");

  // The main work tree is unaffected.
  auto main_info = ReadGit(repo);
  ASSERT_TRUE(main_info.has_value());
  EXPECT_EQ(main_info->branch, "main");
  EXPECT_NE(main_info->commit, wt_head);
}

TEST_F(GitRepoTest, WorktreeAfterPackRefsFindsTheBranchInTheCommonPackedRefs) {
  fs::path repo = tmp_ / "app";
  InitWithCommit(repo);
  fs::path wt = tmp_ / "wt";
  Git(repo, {"worktree", "add", "-q", "-b", "feature", wt.string()});
  std::string wt_head = Git(wt, {"rev-parse", "HEAD"});
  Git(repo, {"pack-refs", "--all"});

  auto info = ReadGit(wt);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->branch, "feature");
  EXPECT_EQ(info->commit, wt_head);
}

TEST_F(GitRepoTest, UnbornBranchHasTheBranchAndNoCommit) {
  fs::path repo = tmp_ / "empty";
  fs::create_directories(repo);
  Git(repo, {"init", "-q", "-b", "trunk"});

  auto info = ReadGit(repo);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->root, repo);
  EXPECT_EQ(info->branch, "trunk");
  EXPECT_EQ(info->commit, "");
}

TEST_F(GitRepoTest, CredentialsInTheOriginUrlDoNotSurvive) {
  fs::path repo = tmp_ / "app";
  InitWithCommit(repo);
  Git(repo,
      {"remote", "add", "origin", "https://deploy:ghp_SECRETTOKEN123@github.com/acme/app.git"});

  auto info = ReadGit(repo);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->origin, "github.com/acme/app");
  EXPECT_EQ(info->origin.find("SECRETTOKEN"), std::string::npos);
  EXPECT_EQ(info->origin.find("deploy"), std::string::npos);
}

TEST(GitTest, NoRepositoryGivesNothing) {
  ScopedTempDir tmp;
  fs::create_directories(tmp / "a" / "b");
  EXPECT_FALSE(ReadGit(tmp / "a" / "b").has_value());
  EXPECT_FALSE(ReadGit(tmp / "does-not-exist").has_value());
}

TEST(GitTest, CorruptGitFileGivesTheRootOnly) {
  ScopedTempDir tmp;
  fs::path wt = tmp / "wt";
  WriteTextFile(wt / ".git", "this is not a gitfile\n");
  fs::create_directories(wt / "sub");

  auto info = ReadGit(wt / "sub");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->root, wt);
  EXPECT_EQ(info->branch, "");
  EXPECT_EQ(info->commit, "");
  EXPECT_EQ(info->origin, "");
}

TEST(GitTest, GitFilePointingNowhereGivesTheRootOnly) {
  ScopedTempDir tmp;
  fs::path wt = tmp / "wt";
  WriteTextFile(wt / ".git", "gitdir: /nonexistent/jitsec/gitdir\n");

  auto info = ReadGit(wt);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->root, wt);
  EXPECT_EQ(info->branch, "");
  EXPECT_EQ(info->commit, "");
}

TEST(GitTest, DotGitDirectoryWithoutHeadIsNotARepository) {
  ScopedTempDir tmp;
  fs::create_directories(tmp / "x" / ".git");
  EXPECT_FALSE(ReadGit(tmp / "x").has_value());
}

// Hand-built repositories: exact file contents git may write, without running git.
class HandBuiltRepoTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(git_dir()); }
  fs::path root() const { return tmp_ / "repo"; }
  fs::path git_dir() const { return root() / ".git"; }
  void Write(std::string_view rel, std::string_view text) { WriteTextFile(git_dir() / rel, text); }

  ScopedTempDir tmp_;
};

constexpr std::string_view kOidA = "1111111111111111111111111111111111111111";
constexpr std::string_view kOidB = "2222222222222222222222222222222222222222";

TEST_F(HandBuiltRepoTest, PackedRefsSkipCommentsAndPeelLines) {
  Write("HEAD", "ref: refs/heads/release/1.0\n");
  Write("packed-refs", "# pack-refs with: peeled fully-peeled sorted \n" + std::string(kOidB) +
                           " refs/heads/main\n" + std::string(kOidA) +
                           " refs/heads/release/1.0\n^" + std::string(kOidB) + "\n");

  auto info = ReadGit(root());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->branch, "release/1.0");
  EXPECT_EQ(info->commit, kOidA);
}

TEST_F(HandBuiltRepoTest, LooseRefWinsOverPackedRef) {
  Write("HEAD", "ref: refs/heads/main\n");
  Write("refs/heads/main", std::string(kOidB) + "\n");
  Write("packed-refs", std::string(kOidA) + " refs/heads/main\n");

  auto info = ReadGit(root());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->commit, kOidB);
}

TEST_F(HandBuiltRepoTest, DetachedSha256HeadIsLowercased) {
  std::string oid(64, 'A');
  Write("HEAD", oid + "\n");

  auto info = ReadGit(root());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->branch, "");
  EXPECT_EQ(info->commit, std::string(64, 'a'));
}

TEST_F(HandBuiltRepoTest, GarbageHeadGivesNoBranchNoCommit) {
  Write("HEAD", "not a ref\n");
  auto info = ReadGit(root());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->root, root());
  EXPECT_EQ(info->branch, "");
  EXPECT_EQ(info->commit, "");
}

TEST_F(HandBuiltRepoTest, CorruptLooseRefGivesTheBranchWithoutCommit) {
  Write("HEAD", "ref: refs/heads/main\n");
  Write("refs/heads/main", "zzzz\n");
  Write("packed-refs", std::string(kOidA) + " refs/heads/main\n");
  auto info = ReadGit(root());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->branch, "main");
  EXPECT_EQ(info->commit, "");
}

TEST_F(HandBuiltRepoTest, RelativeGitFileAndRelativeCommondirAreResolved) {
  // Work tree "wt" whose .git file points to a per-worktree dir inside the main git dir,
  // which names the common dir relatively (as `git worktree` does).
  Write("HEAD", "ref: refs/heads/main\n");
  Write("refs/heads/topic", std::string(kOidB) + "\n");
  Write("config", "[remote \"origin\"]\n\turl = git@example.org:team/tool.git\n");
  Write("worktrees/wt/HEAD", "ref: refs/heads/topic\n");
  Write("worktrees/wt/commondir", "../..\n");
  fs::path wt = tmp_ / "wt";
  WriteTextFile(wt / ".git", "gitdir: ../repo/.git/worktrees/wt\n");

  auto info = ReadGit(wt);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->root, wt);
  EXPECT_EQ(info->branch, "topic");
  EXPECT_EQ(info->commit, kOidB);
  EXPECT_EQ(info->origin, "example.org/team/tool");
}

struct ConfigCase {
  std::string config;
  std::string origin;
};

TEST_F(HandBuiltRepoTest, OriginUrlIsParsedWithGitConfigSyntax) {
  Write("HEAD", "ref: refs/heads/main\n");
  const std::vector<ConfigCase> cases = {
      {"[remote \"origin\"]\n\turl = https://github.com/acme/app.git\n", "github.com/acme/app"},
      // Case-insensitive section and key; comments; another remote first.
      {"; top comment\n[remote \"upstream\"]\n url = https://github.com/other/x\n"
       "[REMOTE \"origin\"] # c\n  URL=git@github.com:acme/app.git ; trailing\n",
       "github.com/acme/app"},
      // Quotes (a "#" inside them is not a comment) and escapes.
      {"[remote \"origin\"]\n url = \"https://host.example/a;b/repo\" # c\n",
       "host.example/a;b/repo"},
      {"[remote \"origin\"]\n url = \"ssh://git@host.example:2222/a/b\\\"c\"\n",
       "host.example/a/b\"c"},
      // Subsection names are case-sensitive.
      {"[remote \"Origin\"]\n url = https://github.com/acme/app\n", ""},
      // Key and value on the section line; deprecated [remote.origin] form.
      {"[remote \"origin\"] url = https://github.com/acme/inline\n", "github.com/acme/inline"},
      {"[Remote.Origin]\n url = https://github.com/acme/old\n", "github.com/acme/old"},
      // Backslash line continuation.
      {"[remote \"origin\"]\n url = https://github.com/\\\nacme/cont\n", "github.com/acme/cont"},
      // A commented-out url does not count; the first url wins.
      {"[remote \"origin\"]\n# url = https://github.com/acme/commented\n"
       " url = https://github.com/acme/first\n url = https://github.com/acme/second\n",
       "github.com/acme/first"},
      // A url key in another section does not count.
      {"[core]\n url = https://github.com/acme/core\n", ""},
      {"", ""},
  };
  for (const auto& c : cases) {
    Write("config", c.config);
    auto info = ReadGit(root());
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->origin, c.origin) << "config:\n" << c.config;
  }
}

}  // namespace
}  // namespace jitsec::context

namespace jitsec::context {
namespace {

// Runs ReadGit(start) in a child that drops to `uid`; returns 0 nullopt, 1 found, other: error.
int ReadGitAs(uid_t uid, const fs::path& start) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(uid) != 0) {
      ::_exit(3);
    }
    ::_exit(ReadGit(start).has_value() ? 1 : 0);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

TEST(GitTest, DotGitOwnedByAnotherUserIsIgnoredForOrdinaryCallers) {
  if (::getuid() != 0) {
    GTEST_SKIP() << "needs root to create files owned by other users";
  }
  ScopedTempDir tmp;
  ::chmod(tmp.path().c_str(), 0755);
  fs::path planted = tmp / "shared";
  WriteTextFile(planted / ".git" / "HEAD", "ref: refs/heads/main\n", 0644);
  fs::create_directories(planted / "work");
  ::chmod(planted.c_str(), 0755);
  ::chmod((planted / "work").c_str(), 0755);
  ::chmod((planted / ".git").c_str(), 0755);

  // Owned by a third user: the caller (65534) does not trust it.
  ASSERT_EQ(::chown((planted / ".git").c_str(), 12345, 12345), 0);
  EXPECT_EQ(ReadGitAs(65534, planted / "work"), 0);
  // Root trusts every owner.
  EXPECT_TRUE(ReadGit(planted / "work").has_value());
  // Owned by the caller, or by root: trusted.
  ASSERT_EQ(::chown((planted / ".git").c_str(), 65534, 65534), 0);
  EXPECT_EQ(ReadGitAs(65534, planted / "work"), 1);
  ASSERT_EQ(::chown((planted / ".git").c_str(), 0, 0), 0);
  EXPECT_EQ(ReadGitAs(65534, planted / "work"), 1);
}

}  // namespace
}  // namespace jitsec::context
