// Command resolution (as execvp) and glob matching for policy `commands`. Parent side.
#include "context/context.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace jitsec::context {
namespace {

namespace fs = std::filesystem;

enum class Candidate : uint8_t { kMissing, kDirectory, kNotExecutable, kExecutable };

Candidate Check(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) {
    return Candidate::kMissing;
  }
  if (S_ISDIR(st.st_mode)) {
    return Candidate::kDirectory;
  }
  // execve needs a regular file with execute permission for the effective ids (root: any x bit).
  if (!S_ISREG(st.st_mode)) {
    return Candidate::kNotExecutable;
  }
  if (::faccessat(AT_FDCWD, p.c_str(), X_OK, AT_EACCESS) != 0) {
    return Candidate::kNotExecutable;
  }
  return Candidate::kExecutable;
}

fs::path Absolute(const fs::path& p, const fs::path& cwd) {
  return (p.is_absolute() ? p : cwd / p).lexically_normal();
}

}  // namespace

Result<fs::path> ResolveCommand(std::string_view name, std::string_view path_var,
                                const fs::path& cwd) {
  std::string n(name);
  if (n.empty()) {
    return Fail(ErrorCode::kCommandNotFound, "command not found: \"\"");
  }
  if (n.find('\0') != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument, "command name contains a NUL byte");
  }
  if (n.find('/') != std::string::npos) {
    fs::path p = Absolute(fs::path(n), cwd);
    // Checked as written (before lexical normalisation), as execve would see it.
    switch (Check(fs::path(n).is_absolute() ? fs::path(n) : cwd / n)) {
      case Candidate::kExecutable: return p;
      case Candidate::kMissing: return Fail(ErrorCode::kCommandNotFound, "command not found: " + n);
      case Candidate::kDirectory:
        return Fail(ErrorCode::kCommandNotExecutable, "is a directory: " + n);
      case Candidate::kNotExecutable:
        return Fail(ErrorCode::kCommandNotExecutable, "permission denied: " + n);
    }
    return Fail(ErrorCode::kCommandNotFound, "command not found: " + n);
  }
  bool seen_unexecutable = false;
  std::string_view rest = path_var;
  for (;;) {
    size_t colon = rest.find(':');
    std::string_view entry = rest.substr(0, colon);
    fs::path dir = entry.empty() ? cwd : Absolute(fs::path(std::string(entry)), cwd);
    fs::path candidate = dir / n;
    switch (Check(candidate)) {
      case Candidate::kExecutable: return candidate.lexically_normal();
      case Candidate::kNotExecutable: seen_unexecutable = true; break;
      case Candidate::kMissing:
      case Candidate::kDirectory: break;
    }
    if (colon == std::string_view::npos) {
      break;
    }
    rest = rest.substr(colon + 1);
  }
  if (seen_unexecutable) {
    return Fail(ErrorCode::kCommandNotExecutable, "permission denied: " + n);
  }
  return Fail(ErrorCode::kCommandNotFound, "command not found: " + n);
}

Result<fs::path> ResolveCommand(std::string_view name, const RunContext& ctx) {
  auto it = ctx.env.find("PATH");
  std::string_view path_var = it == ctx.env.end() ? kDefaultPath : std::string_view(it->second);
  return ResolveCommand(name, path_var, ctx.cwd);
}

bool GlobMatch(std::string_view pattern, std::string_view text, bool pathname) {
  std::string p(pattern);
  std::string t(text);
  // fnmatch stops at a NUL: a pattern or text with one would match on a prefix only.
  if (p.find('\0') != std::string::npos || t.find('\0') != std::string::npos) {
    return false;
  }
  return ::fnmatch(p.c_str(), t.c_str(), pathname ? FNM_PATHNAME : 0) == 0;
}

}  // namespace jitsec::context
