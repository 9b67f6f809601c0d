// RunContext: who is asking, from where and when, captured once per invocation and then
// read-only. Owns cwd/git/CI/user detection and command resolution. Must not depend on policy
// (the run module evaluates `when` and `commands` with these values), never spawns git and never
// fails a run because of a broken .git. Parent side.
#pragma once

#include "base/environment.h"
#include "base/error.h"

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  std::string ci_system;  // DetectCi(): "github-actions", "gitlab", ..., "generic"; "" if none
  std::string user;       // login name of the real uid
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::map<std::string, std::string> env;  // the caller's environment, snapshot

  // Git root if any, else cwd: what "." and relative policy paths mean.
  const std::filesystem::path& workspace() const { return git ? git->root : cwd; }
};

// Captures everything at once. Fails only if cwd cannot be read.
// user: passwd name of the real uid, else $USER, else the uid as decimal text.
Result<RunContext> Capture(const Environment& env);

// The passwd name of `uid` as the name service switch gives it when its "passwd:" line
// (`nsswitch_conf`, the text of /etc/nsswitch.conf) consults "files" first: the first entry of
// `passwd` (the text of /etc/passwd) with that uid. nullopt when files are not consulted first
// or hold no such entry (Capture then asks getpwuid_r). Capture reads the two files itself,
// which spares every command glibc's attempts to reach nscd (~50 us). Exposed for tests.
std::optional<std::string> PasswdNameFromFiles(std::string_view nsswitch_conf,
                                               std::string_view passwd, uid_t uid);

// The current directory: getcwd(), but $PWD when it is absolute, has no "." or ".."
// components and names the same directory (same device and inode), so that a workspace
// reached through a symlink keeps its name (as `pwd -L`). Fails with kIo if getcwd fails.
Result<std::filesystem::path> CurrentDirectory(const Environment& env);

// Finds the repository containing `start` (walking up) and reads it: .git directory or
// .git file (worktrees, submodules), HEAD (symbolic or detached), loose and packed refs,
// remote "origin" from config (also through commondir). nullopt when not in a repository.
//
// Like git's safe.directory check, a .git owned by neither the caller nor root ends the walk with
// nullopt (unless the caller is root). Values come from files the caller controls: `when`
// conditions on them guard against mistakes, not against the caller.
// Like git, the walk stops at a file-system boundary, and a .git directory without a HEAD file
// is not a repository (the walk goes on). Environment variables (GIT_DIR, GIT_CEILING_DIRECTORIES
// ...), config includes, url.insteadOf and reftable repositories are not supported.
// Never fails: a broken repository yields what could be read. A .git file that is not
// "gitdir: PATH" or points nowhere gives {root} with empty origin, branch and commit; an
// unreadable HEAD gives an empty branch and commit; a ref that resolves to nothing gives the
// branch with an empty commit (as for an unborn branch). Empty values never satisfy a policy
// condition on them, so a broken repository fails closed.
std::optional<GitInfo> ReadGit(const std::filesystem::path& start);

// "git@github.com:acme/app.git", "https://user@github.com/acme/app", "ssh://git@host:22/a/b.git"
// -> "github.com/acme/app" (lowercase host, no user, port, scheme or ".git").
// Credentials never survive: everything up to the last "@" of the authority is dropped, as are
// a query and a fragment. Local repositories (file:// URLs and plain paths) have no host and
// give "" (so a `repo:` condition cannot match them). Unparseable input gives "".
std::string NormaliseRemoteUrl(std::string_view url);

// CI detection: a specific system's variable wins (GITHUB_ACTIONS -> "github-actions",
// GITLAB_CI -> "gitlab", BUILDKITE -> "buildkite", JENKINS_URL/JENKINS_HOME -> "jenkins",
// CIRCLECI -> "circleci", TF_BUILD -> "azure-pipelines", TRAVIS -> "travis", DRONE -> "drone",
// BITBUCKET_BUILD_NUMBER -> "bitbucket", TEAMCITY_VERSION -> "teamcity",
// CODEBUILD_BUILD_ID -> "codebuild"), else CI -> "generic". A variable counts when it is set
// to something other than "", "false", "0", "no" or "off" (any case).
// Returns the system name or "" when not under CI. This is a convenience signal from the
// caller's environment, not a security boundary: any caller can set these variables.
std::string DetectCi(const Environment& env);

// What execvp uses when PATH is unset (glibc's confstr(_CS_PATH)).
inline constexpr std::string_view kDefaultPath = "/bin:/usr/bin";

// Resolves a command as execvp would (names with a slash relative to cwd, else through PATH).
// kCommandNotFound (exit 127) when nothing matches, kCommandNotExecutable (126) when the
// only match cannot be executed. The result is absolute and lexically normal.
//
// Details: an empty PATH entry means cwd, relative entries are relative to cwd; directories on
// PATH are skipped; the first regular file executable by the effective ids wins. Messages:
// "command not found: NAME", "permission denied: NAME", "is a directory: NAME" (a name with a
// slash naming a directory, 126). Symlinks are NOT resolved: policy `commands` globs match the
// path as found on PATH (use std::filesystem::canonical on the result if the target matters).
Result<std::filesystem::path> ResolveCommand(std::string_view name, std::string_view path_var,
                                             const std::filesystem::path& cwd);
// Same, with $PATH of ctx.env (kDefaultPath when unset) and ctx.cwd.
Result<std::filesystem::path> ResolveCommand(std::string_view name, const RunContext& ctx);

// fnmatch-style glob (*, ?, [..]); "*" does not cross "/" unless `pathname` is false.
bool GlobMatch(std::string_view pattern, std::string_view text, bool pathname = false);

}  // namespace jitsec::context
