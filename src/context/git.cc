// Reading .git metadata from files (never by running git) and normalising remote URLs.
#include "base/fs.h"
#include "context/context.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>

namespace jitsec::context {
namespace {

namespace fs = std::filesystem;

// The repository files are small; anything bigger is not what we are looking for.
constexpr size_t kMaxGitFileBytes = size_t{16} << 20;
constexpr int kMaxSymrefDepth = 5;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::optional<std::string> ReadSmallFile(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<size_t>(st.st_size) > kMaxGitFileBytes) {
    return std::nullopt;
  }
  auto text = ReadFile(p);
  if (!text) {
    return std::nullopt;
  }
  return std::move(*text);
}

bool IsObjectId(std::string_view s) {
  if (s.size() != 40 && s.size() != 64) {
    return false;
  }
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

// A path in a file (.git "gitdir:", commondir) is relative to that file's directory.
fs::path RelativeTo(const fs::path& dir, std::string_view p) {
  fs::path path{std::string(p)};
  if (path.is_relative()) {
    path = dir / path;
  }
  return path.lexically_normal();
}

struct GitDirs {
  fs::path git_dir;     // per work tree: HEAD, worktree-local refs
  fs::path common_dir;  // shared: refs, packed-refs, config
};

GitDirs WithCommonDir(const fs::path& git_dir) {
  GitDirs dirs{git_dir, git_dir};
  if (auto common = ReadSmallFile(git_dir / "commondir")) {
    std::string_view c = Trim(*common);
    if (!c.empty()) {
      dirs.common_dir = RelativeTo(git_dir, c);
    }
  }
  return dirs;
}

// Looks up `ref` in a packed-refs file: "OID SP refname" lines; "#" headers and "^OID" peel
// lines are skipped.
std::optional<std::string> LookupPackedRef(const fs::path& packed, std::string_view ref) {
  auto text = ReadSmallFile(packed);
  if (!text) {
    return std::nullopt;
  }
  std::string_view rest = *text;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty() || line[0] == '#' || line[0] == '^') {
      continue;
    }
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) {
      continue;
    }
    if (line.substr(sp + 1) == ref && IsObjectId(line.substr(0, sp))) {
      return Lower(line.substr(0, sp));
    }
  }
  return std::nullopt;
}

// Resolves a ref name to an object id: loose file in the git dir, then the common dir, then
// packed-refs in the same order. Follows symbolic refs a few levels. "" when unresolvable.
std::string ResolveRef(const GitDirs& dirs, std::string ref, int depth = 0) {
  if (depth > kMaxSymrefDepth || ref.empty() || ref.find("..") != std::string::npos ||
      ref.front() == '/') {
    return "";
  }
  for (const fs::path& dir : {dirs.git_dir, dirs.common_dir}) {
    auto text = ReadSmallFile(dir / ref);
    if (!text) {
      continue;
    }
    std::string_view v = Trim(*text);
    if (v.substr(0, 4) == "ref:") {
      return ResolveRef(dirs, std::string(Trim(v.substr(4))), depth + 1);
    }
    if (IsObjectId(v)) {
      return Lower(v);
    }
    return "";  // a loose ref that is not an object id: corrupt, do not guess
  }
  for (const fs::path& dir : {dirs.git_dir, dirs.common_dir}) {
    if (auto oid = LookupPackedRef(dir / "packed-refs", ref)) {
      return *oid;
    }
    if (dirs.git_dir == dirs.common_dir) {
      break;
    }
  }
  return "";
}

// ---- git config, just enough for remote.origin.url ----

// Parses a value after "=": strips comments (; and # outside quotes), removes quotes,
// handles the escapes git knows and trims unquoted whitespace at both ends.
std::string ParseConfigValue(std::string_view v) {
  std::string out;
  bool quoted = false;
  size_t keep = 0;  // length of out that must survive trailing-space trimming
  v = Trim(v);
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (!quoted && (c == ';' || c == '#')) {
      break;
    }
    if (c == '"') {
      quoted = !quoted;
      keep = out.size();
      continue;
    }
    if (c == '\\' && i + 1 < v.size()) {
      char e = v[++i];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'b':
          if (!out.empty()) {
            out.pop_back();
          }
          break;
        default: out += e; break;
      }
      keep = out.size();
      continue;
    }
    out += c;
    if (quoted || !std::isspace(static_cast<unsigned char>(c))) {
      keep = out.size();
    }
  }
  out.resize(keep);
  return out;
}

// Returns the first remote.origin.url of a config file, or "".
std::string OriginUrlFromConfig(std::string_view text) {
  bool in_origin = false;
  std::string_view rest = text;
  std::string pending;  // a line joined with its backslash continuations
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view raw = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (!raw.empty() && raw.back() == '\r') {
      raw.remove_suffix(1);
    }
    if (!raw.empty() && raw.back() == '\\') {
      raw.remove_suffix(1);
      pending += raw;
      continue;
    }
    pending += raw;
    std::string line_buf = std::move(pending);
    pending.clear();
    std::string_view line = Trim(line_buf);

    if (!line.empty() && line.front() == '[') {
      size_t close = line.find(']');
      if (close == std::string_view::npos) {
        in_origin = false;
        continue;
      }
      std::string_view header = Trim(line.substr(1, close - 1));
      size_t q = header.find('"');
      if (q != std::string_view::npos) {
        // [remote "origin"]: section name case-insensitive, subsection exact.
        std::string_view name = Trim(header.substr(0, q));
        std::string_view sub = header.substr(q + 1);
        if (!sub.empty() && sub.back() == '"') {
          sub.remove_suffix(1);
        }
        in_origin = Lower(name) == "remote" && sub == "origin";
      } else {
        // Deprecated [remote.origin]: the whole name is case-insensitive.
        in_origin = Lower(header) == "remote.origin";
      }
      line = Trim(line.substr(close + 1));  // "[remote "origin"] url = x" is valid
      if (line.empty()) {
        continue;
      }
    }
    if (!in_origin || line.empty() || line.front() == '#' || line.front() == ';') {
      continue;
    }
    size_t eq = line.find('=');
    std::string_view key = Trim(line.substr(0, eq));
    if (Lower(key) != "url" || eq == std::string_view::npos) {
      continue;
    }
    std::string value = ParseConfigValue(line.substr(eq + 1));
    if (!value.empty()) {
      return value;
    }
  }
  return "";
}

// Reads a repository whose work tree is `root`, with the given git dir.
GitInfo ReadRepository(fs::path root, const fs::path& git_dir) {
  GitInfo info;
  info.root = std::move(root);
  GitDirs dirs = WithCommonDir(git_dir);
  if (auto head = ReadSmallFile(dirs.git_dir / "HEAD")) {
    std::string_view h = Trim(*head);
    if (h.substr(0, 4) == "ref:") {
      std::string ref(Trim(h.substr(4)));
      constexpr std::string_view kHeads = "refs/heads/";
      info.branch = ref.starts_with(kHeads) ? ref.substr(kHeads.size()) : ref;
      info.commit = ResolveRef(dirs, ref);
    } else if (IsObjectId(h)) {
      info.commit = Lower(h);
    }
  }
  if (auto config = ReadSmallFile(dirs.common_dir / "config")) {
    info.origin = NormaliseRemoteUrl(OriginUrlFromConfig(*config));
  }
  return info;
}

// Splits "[user[:password]@]host[:port]" and returns the lowercase host, or "".
std::string HostOfAuthority(std::string_view authority) {
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return "";
    }
    return Lower(authority.substr(0, close + 1));
  }
  authority = authority.substr(0, authority.find(':'));
  return Lower(authority);
}

std::string CleanRepoPath(std::string_view path) {
  path = path.substr(0, path.find_first_of("?#"));
  std::string out;
  for (char c : path) {
    if (c == '/' && (out.empty() || out.back() == '/')) {
      continue;  // leading and doubled
    }
    out += c;
  }
  while (!out.empty() && out.back() == '/') {
    out.pop_back();
  }
  if (out.ends_with(".git")) {
    out.resize(out.size() - 4);
  }
  while (!out.empty() && out.back() == '/') {
    out.pop_back();
  }
  return out;
}

}  // namespace

std::string NormaliseRemoteUrl(std::string_view url) {
  url = Trim(url);
  if (url.empty()) {
    return "";
  }
  std::string host;
  std::string_view path;
  size_t scheme_end = url.find("://");
  size_t first_slash = url.find('/');
  if (scheme_end != std::string_view::npos && scheme_end < first_slash) {
    std::string scheme = Lower(url.substr(0, scheme_end));
    if (scheme == "file") {
      return "";
    }
    std::string_view rest = url.substr(scheme_end + 3);
    // Everything up to the last "@" (before any query or fragment) is user information, even
    // when an unencoded "/" in a password would end the authority early: never keep a token.
    std::string_view before_query = rest.substr(0, rest.find_first_of("?#"));
    size_t at = before_query.rfind('@');
    size_t auth_start = at == std::string_view::npos ? 0 : at + 1;
    size_t auth_end = before_query.find('/', auth_start);
    if (auth_end == std::string_view::npos) {
      auth_end = before_query.size();
    }
    host = HostOfAuthority(before_query.substr(auth_start, auth_end - auth_start));
    path = before_query.substr(auth_end);
  } else {
    // scp-like "[user@]host:path": a colon before the first slash (else a local path).
    size_t colon = url.find(':');
    if (url.front() == '[') {
      colon = url.find(':', url.find(']'));
    }
    if (colon == std::string_view::npos || colon > first_slash) {
      return "";
    }
    std::string_view authority = url.substr(0, colon);
    size_t at = url.rfind('@', first_slash == std::string_view::npos ? url.size() : first_slash);
    if (at != std::string_view::npos && at > colon) {
      // "user:token@host:path": the colon found was inside the user information.
      std::string_view after = url.substr(at + 1);
      size_t c2 = after.find(':');
      if (c2 == std::string_view::npos) {
        return "";
      }
      authority = after.substr(0, c2);
      path = after.substr(c2 + 1);
    } else {
      path = url.substr(colon + 1);
    }
    host = HostOfAuthority(authority);
  }
  if (host.empty()) {
    return "";
  }
  std::string repo = CleanRepoPath(path);
  return repo.empty() ? host : host + "/" + repo;
}

std::optional<GitInfo> ReadGit(const fs::path& start) {
  std::error_code ec;
  fs::path dir = start.is_absolute() ? start : fs::current_path(ec) / start;
  if (ec) {
    return std::nullopt;
  }
  dir = dir.lexically_normal();
  if (!dir.has_filename() && dir != dir.root_path()) {
    dir = dir.parent_path();
  }

  struct stat start_st {};
  if (::stat(dir.c_str(), &start_st) != 0) {
    return std::nullopt;
  }
  dev_t device = start_st.st_dev;

  uid_t caller = ::getuid();
  for (;;) {
    fs::path dot_git = dir / ".git";
    struct stat st {};
    if (::stat(dot_git.c_str(), &st) == 0) {
      // Like git's safe.directory check: a .git planted by another user (say /tmp/.git above
      // the caller's /tmp/work) must not widen the workspace. Root trusts every owner, so
      // CI containers running as root on a checkout owned by a build user keep working.
      if (caller != 0 && st.st_uid != caller && st.st_uid != 0) {
        return std::nullopt;
      }
      if (S_ISDIR(st.st_mode)) {
        struct stat head {};
        if (::stat((dot_git / "HEAD").c_str(), &head) == 0 && S_ISREG(head.st_mode)) {
          return ReadRepository(dir, dot_git);
        }
      } else if (S_ISREG(st.st_mode)) {
        // A gitfile (worktree or submodule). A broken one still marks the work tree root.
        auto text = ReadSmallFile(dot_git);
        std::string_view t = text ? Trim(*text) : std::string_view();
        if (t.substr(0, 7) != "gitdir:" || Trim(t.substr(7)).empty()) {
          return GitInfo{dir, "", "", ""};
        }
        fs::path git_dir = RelativeTo(dir, Trim(t.substr(7)));
        struct stat gd {};
        if (::stat(git_dir.c_str(), &gd) != 0 || !S_ISDIR(gd.st_mode)) {
          return GitInfo{dir, "", "", ""};
        }
        return ReadRepository(dir, git_dir);
      }
    }
    if (dir == dir.root_path()) {
      return std::nullopt;
    }
    fs::path parent = dir.parent_path();
    struct stat pst {};
    // Like git without GIT_DISCOVERY_ACROSS_FILESYSTEM: stop at a mount point.
    if (::stat(parent.c_str(), &pst) != 0 || pst.st_dev != device) {
      return std::nullopt;
    }
    dir = std::move(parent);
  }
}

}  // namespace jitsec::context
