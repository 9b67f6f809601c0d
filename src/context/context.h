// RunContext: who is asking, from where and when, captured once per invocation and then
// read-only. Reads .git files directly (never spawns git). Parent side.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/environment.h"
#include "base/error.h"

namespace jitsec::context {

struct GitInfo {
  std::filesystem::path root;  // the work tree's top directory
  std::string origin;          // normalised remote "origin" URL: host/owner/name ("" if none)
  std::string branch;          // "" when HEAD is detached
  std::string commit;          // full hex object id of HEAD ("" for an unborn branch)
};

struct RunContext {
  std::filesystem::path cwd;
  std::optional<GitInfo> git;
  bool ci = false;
  std::string ci_system;  // "github-actions", "gitlab", "buildkite", "jenkins", "circleci", "generic"
  std::string user;       // login name of the real uid
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::map<std::string, std::string> env;  // the caller's environment, snapshot

  // Git root if any, else cwd: what "." and relative policy paths mean.
  const std::filesystem::path& workspace() const { return git ? git->root : cwd; }
};

// Captures everything at once. Fails only if cwd cannot be read.
Result<RunContext> Capture(const Environment& env);

// Finds the repository containing `start` (walking up) and reads it: .git directory or
// .git file (worktrees, submodules), HEAD (symbolic or detached), loose and packed refs,
// remote "origin" from config (also through commondir). nullopt when not in a repository.
std::optional<GitInfo> ReadGit(const std::filesystem::path& start);

// "git@github.com:acme/app.git", "https://user@github.com/acme/app", "ssh://git@host:22/a/b.git"
// -> "github.com/acme/app" (lowercase host, no user, port, scheme or ".git").
std::string NormaliseRemoteUrl(std::string_view url);

// CI detection: CI=true/1, GITHUB_ACTIONS, GITLAB_CI, BUILDKITE, JENKINS_URL, CIRCLECI, ...
// Returns the system name or "" when not under CI.
std::string DetectCi(const Environment& env);

// Resolves a command as execvp would (names with a slash relative to cwd, else through PATH).
// kCommandNotFound (exit 127) when nothing matches, kCommandNotExecutable (126) when the
// only match cannot be executed. The result is absolute and lexically normal.
Result<std::filesystem::path> ResolveCommand(std::string_view name, std::string_view path_var,
                                             const std::filesystem::path& cwd);

// fnmatch-style glob (*, ?, [..]); "*" does not cross "/" unless `pathname` is false.
bool GlobMatch(std::string_view pattern, std::string_view text, bool pathname = false);

}  // namespace jitsec::context
