#include "policy/schema.h"

#include <algorithm>
#include <array>

namespace jitsec::policy {
namespace {

constexpr std::string_view kReq = "(required)";
constexpr std::string_view kFormats = "raw|pgpass|netrc|dotenv|json|template";

// clang-format off
constexpr std::array kSchema = {
  SchemaKey{"version", "int", kReq, "policy format version; must be 1"},
  SchemaKey{"settings", "map", "", "where jitsec keeps its own state"},
  SchemaKey{"settings.store", "path", "$XDG_DATA_HOME/jitsec/store", "the embedded encrypted secret store (directory)"},
  SchemaKey{"settings.state", "path", "$XDG_STATE_HOME/jitsec", "directory of the lease journal and the audit log"},
  SchemaKey{"settings.audit", "map", "", "audit log settings"},
  SchemaKey{"settings.audit.path", "path", "<state>/audit.jsonl", "audit log file (JSON lines)"},
  SchemaKey{"settings.audit.syslog", "bool", "false", "also send each audit record to syslog"},
  SchemaKey{"settings.audit.sync", "background|wait", "background", "a run's records reach the disk after jitsec exits (a helper syncs) or before"},
  SchemaKey{"providers", "map", "{store: {type: store}}", "where credentials come from, by name; \"store\" always exists"},
  SchemaKey{"providers.*", "map", "", "a provider; name: [a-z0-9][a-z0-9_.-]*"},
  SchemaKey{"providers.*.type", "store|env|postgres", kReq, "provider type"},
  SchemaKey{"providers.*.conninfo", "string", "", "postgres: libpq connection string without a password (required)"},
  SchemaKey{"providers.*.admin_secret", "string", "", "postgres: store secret holding the admin password or a full conninfo (required)"},
  SchemaKey{"providers.*.role_prefix", "string", "jitsec_", "postgres: prefix of the login roles created per run"},
  SchemaKey{"environments", "map", "", "named environments and the context each requires"},
  SchemaKey{"environments.*", "map", "", "an environment; name: [a-z0-9][a-z0-9_.-]*"},
  SchemaKey{"environments.*.when", "map", "", "conditions that must all hold, else the run is refused"},
  SchemaKey{"environments.*.when.ci", "bool", "", "running under a CI system (true) or not (false)"},
  SchemaKey{"environments.*.when.branch", "list<glob>", "", "globs on the current git branch"},
  SchemaKey{"environments.*.when.repo", "list<glob>", "", "globs on the normalised origin URL (host/owner/name)"},
  SchemaKey{"environments.*.when.user", "list<string>", "", "local user names"},
  SchemaKey{"environments.*.approval", "none|tty", "none", "tty: ask on /dev/tty, refuse when there is none"},
  SchemaKey{"tasks", "map", kReq, "what a command may do, by task name (at least one)"},
  SchemaKey{"tasks.*", "map", "", "a task; name: [a-z0-9][a-z0-9_.-]*"},
  SchemaKey{"tasks.*.description", "string", "", "one line shown by jitsec tasks"},
  SchemaKey{"tasks.*.environments", "list<name>", "[]", "environments the task may run in; empty: no environment"},
  SchemaKey{"tasks.*.default_environment", "name", "", "environment used when --env is not given"},
  SchemaKey{"tasks.*.commands", "list<glob>", "(any)", "allowed programs: globs on the resolved path or the basename"},
  SchemaKey{"tasks.*.max_duration", "duration", "", "stop the command (TERM, then KILL) at this age"},
  SchemaKey{"tasks.*.env", "map", "", "the child's environment"},
  SchemaKey{"tasks.*.env.pass", "list<glob>", "[PATH, HOME, TERM, LANG, LC_*]", "allowlist of the caller's variables (names or globs)"},
  SchemaKey{"tasks.*.env.set", "map", "{}", "literal, non-secret variables"},
  SchemaKey{"tasks.*.env.set.*", "string", "", "a variable's value"},
  SchemaKey{"tasks.*.credentials", "map", "{}", "credentials issued for the run, by name"},
  SchemaKey{"tasks.*.credentials.*", "map", "", "a credential; name: [A-Z][A-Z0-9_]*"},
  SchemaKey{"tasks.*.credentials.*.provider", "name", kReq, "provider name; {env} is replaced by the chosen environment"},
  SchemaKey{"tasks.*.credentials.*.secret", "string", "", "store/env providers: which secret or variable (required there)"},
  SchemaKey{"tasks.*.credentials.*.grants", "list<role>", "[]", "postgres: roles granted to the new login role"},
  SchemaKey{"tasks.*.credentials.*.ttl", "duration", "max_duration or 1h", "lifetime at the provider; at most max_duration"},
  SchemaKey{"tasks.*.credentials.*.deliver", "list<map>", kReq, "how the child receives the credential (one or more)"},
  SchemaKey{"tasks.*.credentials.*.deliver[].file", "map", "", "a sealed read-only memory file"},
  SchemaKey{"tasks.*.credentials.*.deliver[].file.env", "envvar", "", "variable that receives the file's path /dev/fd/N"},
  SchemaKey{"tasks.*.credentials.*.deliver[].file.path", "path", "", "mount path of the file inside the sandbox (absolute)"},
  SchemaKey{"tasks.*.credentials.*.deliver[].file.format", kFormats, "raw", "file content format"},
  SchemaKey{"tasks.*.credentials.*.deliver[].file.field", "field", "(first secret field)", "format raw: which field"},
  SchemaKey{"tasks.*.credentials.*.deliver[].file.template", "string", "", "format template: text with {{field}} placeholders"},
  SchemaKey{"tasks.*.credentials.*.deliver[].stdin", "map", "", "the content on the child's standard input"},
  SchemaKey{"tasks.*.credentials.*.deliver[].stdin.format", kFormats, "raw", "content format"},
  SchemaKey{"tasks.*.credentials.*.deliver[].stdin.field", "field", "(first secret field)", "format raw: which field"},
  SchemaKey{"tasks.*.credentials.*.deliver[].stdin.template", "string", "", "format template: text with {{field}} placeholders"},
  SchemaKey{"tasks.*.credentials.*.deliver[].env", "map", "", "a field in an environment variable"},
  SchemaKey{"tasks.*.credentials.*.deliver[].env.name", "envvar", kReq, "the variable"},
  SchemaKey{"tasks.*.credentials.*.deliver[].env.field", "field", "(first secret field)", "which field"},
  SchemaKey{"tasks.*.credentials.*.deliver[].env.unsafe", "bool", "false", "allow a secret field in the environment"},
  SchemaKey{"tasks.*.sandbox", "map", "", "the sandbox the command runs in"},
  SchemaKey{"tasks.*.sandbox.enabled", "bool", "true", "false turns the sandbox off for this task"},
  SchemaKey{"tasks.*.sandbox.network", "none|host", "none", "none: only a private loopback; host: the host's network"},
  SchemaKey{"tasks.*.sandbox.filesystem", "map", "", "file system access"},
  SchemaKey{"tasks.*.sandbox.filesystem.read", "list<path>", "[/]", "readable trees"},
  SchemaKey{"tasks.*.sandbox.filesystem.write", "list<path>", "[., /tmp]", "writable trees; . is the git root or current directory"},
  SchemaKey{"tasks.*.sandbox.filesystem.deny", "list<path>", "credential stores and service sockets", "trees neither readable nor writable"},
  SchemaKey{"tasks.*.sandbox.protect", "list<path>", "[.git/hooks, .git/config]", "stay read-only even inside writable trees"},
};
// clang-format on

}  // namespace

std::span<const SchemaKey> Schema() { return kSchema; }

const SchemaKey* FindSchemaKey(std::string_view path) {
  for (const SchemaKey& k : kSchema) {
    if (k.path == path) return &k;
  }
  return nullptr;
}

std::vector<std::string_view> AllowedKeys(std::string_view path) {
  std::vector<std::string_view> out;
  std::string prefix = path.empty() ? std::string() : std::string(path) + ".";
  for (const SchemaKey& k : kSchema) {
    if (k.path.size() <= prefix.size() || k.path.substr(0, prefix.size()) != prefix) continue;
    std::string_view rest = k.path.substr(prefix.size());
    if (rest == "*") return {};
    if (rest.find_first_of(".[") != std::string_view::npos) continue;
    out.push_back(rest);
  }
  return out;
}

int EditDistance(std::string_view a, std::string_view b) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = int(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diag = row[0];
    row[0] = int(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      int up = row[j];
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
      diag = up;
    }
  }
  return row[b.size()];
}

namespace {
template <class C>
std::string SuggestImpl(std::string_view word, const C& candidates) {
  int limit = std::min(3, std::max(1, int(word.size()) / 3));
  int best = limit + 1;
  std::string_view best_word;
  for (const auto& c : candidates) {
    std::string_view cv(c);
    int d = EditDistance(word, cv);
    if (d < best) {
      best = d;
      best_word = cv;
    }
  }
  return std::string(best_word);
}
}  // namespace

std::string Suggest(std::string_view word, std::span<const std::string_view> candidates) {
  return SuggestImpl(word, candidates);
}
std::string Suggest(std::string_view word, std::span<const std::string> candidates) {
  return SuggestImpl(word, candidates);
}

}  // namespace jitsec::policy
