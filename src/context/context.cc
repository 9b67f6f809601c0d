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
  {
    auto nsswitch = ReadFile("/etc/nsswitch.conf");
    auto passwd = nsswitch ? ReadFile("/etc/passwd") : nsswitch;
    if (nsswitch && passwd) {
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

bool SameFile(const char* a, const char* b) {
  struct stat sa {};
  struct stat sb {};
  return ::stat(a, &sa) == 0 && ::stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

}  // namespace

std::optional<std::string> PasswdNameFromFiles(std::string_view nsswitch_conf,
                                               std::string_view passwd, uid_t uid) {
  auto lines = [](std::string_view text, auto&& each) {
    while (!text.empty()) {
      const size_t nl = text.find('\n');
      if (each(text.substr(0, nl))) return;
      if (nl == std::string_view::npos) return;
      text.remove_prefix(nl + 1);
    }
  };
  auto trim_left = [](std::string_view v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    return v;
  };
  // The sources of the "passwd:" database; two such lines are left to glibc to interpret.
  std::optional<std::string_view> sources;
  int passwd_lines = 0;
  lines(nsswitch_conf, [&](std::string_view line) {
    line = trim_left(line);
    if (line.starts_with("passwd:")) {
      sources = trim_left(line.substr(7));
      ++passwd_lines;
    }
    return false;
  });
  if (!sources || passwd_lines != 1) return std::nullopt;
  const std::string_view first = sources->substr(0, sources->find_first_of(" \t\r["));
  if (first != "files") return std::nullopt;
  // name:password:uid:gid:gecos:home:shell; "+" and "-" lines are NIS compat entries.
  std::optional<std::string> found;
  const std::string want = std::to_string(uid);
  lines(passwd, [&](std::string_view line) {
    if (line.empty() || line.front() == '+' || line.front() == '-' || line.front() == '#') return false;
    const size_t c1 = line.find(':');
    const size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    const size_t c3 = c2 == std::string_view::npos ? c2 : line.find(':', c2 + 1);
    if (c3 == std::string_view::npos || c1 == 0) return false;
    if (line.substr(c2 + 1, c3 - c2 - 1) != want) return false;
    found = std::string(line.substr(0, c1));
    return true;
  });
  return found;
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
