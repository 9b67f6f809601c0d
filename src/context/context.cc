// Capture of the run context: cwd, git, CI, user. Parent side.
#include "context/context.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/fs.h"

namespace jitsec::context {
namespace {

namespace fs = std::filesystem;

bool IsSet(const Environment& env, std::string_view name) {
  auto v = env.Get(name);
  if (!v || v->empty()) {
    return false;
  }
  std::string lower;
  for (char c : *v) {
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return lower != "false" && lower != "0" && lower != "no" && lower != "off";
}

std::string UserName(const Environment& env, uid_t uid) {
  if (auto nsswitch = ReadFile("/etc/nsswitch.conf")) {
    if (auto passwd = ReadFile("/etc/passwd")) {
      if (auto name = PasswdNameFromFiles(*nsswitch, *passwd, uid)) return *name;
    }
  }
  long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<size_t>(hint) : 4096);
  for (int attempt = 0; attempt < 8; ++attempt) {
    struct passwd pw {};
    struct passwd* res = nullptr;
    int rc = ::getpwuid_r(uid, &pw, buf.data(), buf.size(), &res);
    if (rc == ERANGE) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc == 0 && res != nullptr && res->pw_name != nullptr && res->pw_name[0] != '\0') {
      return res->pw_name;
    }
    break;
  }
  if (auto user = env.Get("USER"); user && !user->empty()) {
    return *user;
  }
  return std::to_string(uid);
}

// The text up to the next '\n' (or the end), which `rest` then no longer holds.
std::string_view NextLine(std::string_view& rest) {
  const size_t nl = rest.find('\n');
  const std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return line;
}

std::string_view TrimLeft(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  return v;
}

bool SameFile(const char* a, const char* b) {
  struct stat sa {};
  struct stat sb {};
  return ::stat(a, &sa) == 0 && ::stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

}  // namespace

std::optional<std::string> PasswdNameFromFiles(std::string_view nsswitch_conf,
                                               std::string_view passwd, uid_t uid) {
  // The sources of the one "passwd:" line (two are left to glibc to interpret).
  std::optional<std::string_view> sources;
  for (std::string_view rest = nsswitch_conf; !rest.empty();) {
    const std::string_view line = TrimLeft(NextLine(rest));
    if (!line.starts_with("passwd:")) continue;
    if (sources) return std::nullopt;
    sources = TrimLeft(line.substr(7));
  }
  if (!sources || sources->substr(0, sources->find_first_of(" \t\r[")) != "files") {
    return std::nullopt;
  }
  // name:password:uid:gid:gecos:home:shell; "+" and "-" lines are NIS compat entries.
  const std::string want = std::to_string(uid);
  for (std::string_view rest = passwd; !rest.empty();) {
    const std::string_view line = NextLine(rest);
    if (line.empty() || line.front() == '+' || line.front() == '-' || line.front() == '#') continue;
    const size_t c1 = line.find(':');
    const size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    const size_t c3 = c2 == std::string_view::npos ? c2 : line.find(':', c2 + 1);
    if (c3 == std::string_view::npos || c1 == 0) continue;
    if (line.substr(c2 + 1, c3 - c2 - 1) == want) return std::string(line.substr(0, c1));
  }
  return std::nullopt;
}

Result<fs::path> CurrentDirectory(const Environment& env) {
  std::vector<char> buf(4096);
  while (::getcwd(buf.data(), buf.size()) == nullptr) {
    if (errno != ERANGE) {
      return FailErrno(ErrorCode::kIo, "getcwd");
    }
    buf.resize(buf.size() * 2);
  }
  fs::path physical(buf.data());
  auto pwd = env.Get("PWD");
  if (!pwd || pwd->empty() || (*pwd)[0] != '/') {
    return physical;
  }
  fs::path logical(*pwd);
  for (const auto& part : logical) {
    if (part == "." || part == "..") {
      return physical;
    }
  }
  // "/a/b/" names the same directory as "/a/b": keep the form without the trailing slash.
  std::string text = logical.lexically_normal().string();
  while (text.size() > 1 && text.back() == '/') {
    text.pop_back();
  }
  if (!SameFile(text.c_str(), physical.c_str())) {
    return physical;
  }
  return fs::path(text);
}

std::string DetectCi(const Environment& env) {
  // Specific systems first: several of them also set CI=true.
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kSystems{{
      {"GITHUB_ACTIONS", "github-actions"},
      {"GITLAB_CI", "gitlab"},
      {"BUILDKITE", "buildkite"},
      {"JENKINS_URL", "jenkins"},
      {"JENKINS_HOME", "jenkins"},
      {"CIRCLECI", "circleci"},
      {"TF_BUILD", "azure-pipelines"},
      {"TRAVIS", "travis"},
      {"DRONE", "drone"},
      {"BITBUCKET_BUILD_NUMBER", "bitbucket"},
      {"TEAMCITY_VERSION", "teamcity"},
      {"CODEBUILD_BUILD_ID", "codebuild"},
  }};
  for (const auto& [var, name] : kSystems) {
    if (IsSet(env, var)) {
      return std::string(name);
    }
  }
  if (IsSet(env, "CI")) {
    return "generic";
  }
  return "";
}

Result<RunContext> Capture(const Environment& env) {
  RunContext ctx;
  JITSEC_ASSIGN_OR_RETURN(ctx.cwd, CurrentDirectory(env));
  ctx.git = ReadGit(ctx.cwd);
  ctx.ci_system = DetectCi(env);
  ctx.ci = !ctx.ci_system.empty();
  ctx.uid = ::getuid();
  ctx.gid = ::getgid();
  ctx.user = UserName(env, ctx.uid);
  ctx.home = HomeDir(env);
  ctx.env = env.All();
  return ctx;
}

}  // namespace jitsec::context
