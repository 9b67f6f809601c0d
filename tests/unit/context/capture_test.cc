#include "base/environment.h"
#include "context/context.h"
#include "support/support.h"

#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

namespace jitsec::context {
namespace {

namespace fs = std::filesystem;
using jitsec::testing::ScopedTempDir;
using jitsec::testing::WriteTextFile;

// Changes the process's working directory for one test and restores it.
class ScopedChdir {
 public:
  explicit ScopedChdir(const fs::path& dir) : old_(fs::current_path()) { fs::current_path(dir); }
  ~ScopedChdir() {
    std::error_code ec;
    fs::current_path(old_, ec);
  }
  ScopedChdir(const ScopedChdir&) = delete;
  ScopedChdir& operator=(const ScopedChdir&) = delete;
  ScopedChdir(ScopedChdir&&) = delete;
  ScopedChdir& operator=(ScopedChdir&&) = delete;

 private:
  fs::path old_;
};

fs::path Physical(const fs::path& p) { return fs::canonical(p); }

TEST(CurrentDirectoryTest, PrefersPwdWhenItNamesTheSameDirectory) {
  ScopedTempDir tmp;
  fs::create_directories(tmp / "real" / "ws");
  fs::create_directory_symlink(tmp / "real", tmp / "link");
  ScopedChdir cd(tmp / "link" / "ws");

  MapEnvironment env(std::map<std::string, std::string>{{"PWD", (tmp / "link" / "ws").string()}});
  auto cwd = CurrentDirectory(env);
  ASSERT_TRUE(cwd.has_value()) << cwd.error().message();
  EXPECT_EQ(*cwd, tmp / "link" / "ws");

  env.Set("PWD", (tmp / "link" / "ws").string() + "/");
  cwd = CurrentDirectory(env);
  ASSERT_TRUE(cwd.has_value());
  EXPECT_EQ(*cwd, tmp / "link" / "ws");
}

TEST(CurrentDirectoryTest, IgnoresPwdThatIsStaleRelativeOrHasDotComponents) {
  ScopedTempDir tmp;
  fs::create_directories(tmp / "real" / "ws");
  fs::create_directories(tmp / "other");
  fs::create_directory_symlink(tmp / "real", tmp / "link");
  ScopedChdir cd(tmp / "real" / "ws");
  fs::path physical = Physical(tmp / "real" / "ws");

  for (const std::string& pwd :
       {(tmp / "other").string(), std::string("link/ws"), (tmp / "link" / "." / "ws").string(),
        (tmp / "other" / ".." / "real" / "ws").string(), std::string(""),
        (tmp / "missing").string()}) {
    MapEnvironment env(std::map<std::string, std::string>{{"PWD", pwd}});
    auto cwd = CurrentDirectory(env);
    ASSERT_TRUE(cwd.has_value());
    EXPECT_EQ(*cwd, physical) << "PWD=" << pwd;
  }
  auto cwd = CurrentDirectory(MapEnvironment());
  ASSERT_TRUE(cwd.has_value());
  EXPECT_EQ(*cwd, physical);
}

TEST(CaptureTest, CollectsWorkspaceCiUserAndEnvironment) {
  ScopedTempDir tmp;
  fs::path repo = tmp / "repo";
  WriteTextFile(repo / ".git" / "HEAD", "ref: refs/heads/main\n");
  WriteTextFile(repo / ".git" / "refs" / "heads" / "main",
                "0123456789abcdef0123456789abcdef01234567\n");
  WriteTextFile(repo / ".git" / "config",
                "[remote \"origin\"]\n\turl = https://tok@github.com/acme/app.git\n");
  fs::create_directories(repo / "sub");
  ScopedChdir cd(repo / "sub");

  MapEnvironment env(std::map<std::string, std::string>{{"PWD", (repo / "sub").string()},
                                                        {"HOME", "/home/jitsec-test"},
                                                        {"GITHUB_ACTIONS", "true"},
                                                        {"CI", "true"},
                                                        {"USER", "someone-else"},
                                                        {"PATH", "/usr/bin:/bin"}});
  auto ctx = Capture(env);
  ASSERT_TRUE(ctx.has_value()) << ctx.error().message();

  EXPECT_EQ(ctx->cwd, repo / "sub");  // $PWD names it: kept as written
  ASSERT_TRUE(ctx->git.has_value());
  EXPECT_EQ(ctx->git->root, repo);
  EXPECT_EQ(ctx->workspace(), ctx->git->root);
  EXPECT_EQ(ctx->git->branch, "main");
  EXPECT_EQ(ctx->git->commit, "0123456789abcdef0123456789abcdef01234567");
  EXPECT_EQ(ctx->git->origin, "github.com/acme/app");
  EXPECT_TRUE(ctx->ci);
  EXPECT_EQ(ctx->ci_system, "github-actions");
  EXPECT_EQ(ctx->uid, ::getuid());
  EXPECT_EQ(ctx->gid, ::getgid());
  EXPECT_EQ(ctx->home, "/home/jitsec-test");
  EXPECT_EQ(ctx->env, env.All());

  // The user comes from the passwd entry of the real uid when there is one, not from $USER.
  struct passwd* pw = ::getpwuid(::getuid());
  if (pw != nullptr) {
    EXPECT_EQ(ctx->user, pw->pw_name);
  } else {
    EXPECT_EQ(ctx->user, "someone-else");
  }
}

constexpr std::string_view kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "+nisuser::1000:1000:::\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "dev:x:1000:1000:Dev,,,:/home/dev:/bin/bash\n"
    "alias-of-dev:x:1000:1000::/home/dev:/bin/sh\n"
    "broken-line-without-fields\n"
    "last:x:4242:4242::/home/last:/bin/sh";  // no final newline

TEST(PasswdNameFromFilesTest, FirstEntryOfTheUidWhenFilesComeFirst) {
  constexpr std::string_view kConf = "# comment\npasswd:         files systemd\ngroup: files\n";
  EXPECT_EQ(PasswdNameFromFiles(kConf, kPasswd, 0), "root");
  EXPECT_EQ(PasswdNameFromFiles(kConf, kPasswd, 1000), "dev");  // not the NIS "+" line
  EXPECT_EQ(PasswdNameFromFiles(kConf, kPasswd, 4242), "last");
  EXPECT_EQ(PasswdNameFromFiles(kConf, kPasswd, 7), std::nullopt);  // getpwuid_r decides
  EXPECT_EQ(PasswdNameFromFiles("passwd: files [NOTFOUND=return] ldap\n", kPasswd, 1), "daemon");
  EXPECT_EQ(PasswdNameFromFiles("  passwd:\tfiles\n", kPasswd, 1), "daemon");
}

TEST(PasswdNameFromFilesTest, LeavesEveryOtherConfigurationToGetpwuid) {
  for (std::string_view conf : {
           "passwd: systemd files\n",        // another source first
           "passwd: compat\n",               // NIS compat mode
           "passwd: filesx\n",               // not the word "files"
           "group: files\n",                 // no passwd line (glibc's default applies)
           "passwd: files\npasswd: ldap\n",  // two lines
           "# passwd: files\n",              // commented out
       }) {
    EXPECT_EQ(PasswdNameFromFiles(conf, kPasswd, 0), std::nullopt) << conf;
  }
}

TEST(CaptureTest, OutsideARepositoryTheWorkspaceIsTheCwd) {
  ScopedTempDir tmp;
  fs::create_directories(tmp / "plain");
  ScopedChdir cd(tmp / "plain");

  auto ctx = Capture(MapEnvironment(std::map<std::string, std::string>{{"CI", "false"}}));
  ASSERT_TRUE(ctx.has_value()) << ctx.error().message();
  EXPECT_FALSE(ctx->git.has_value());
  EXPECT_EQ(ctx->workspace(), ctx->cwd);
  EXPECT_EQ(ctx->cwd, Physical(tmp / "plain"));
  EXPECT_FALSE(ctx->ci);
  EXPECT_EQ(ctx->ci_system, "");
}

}  // namespace
}  // namespace jitsec::context
