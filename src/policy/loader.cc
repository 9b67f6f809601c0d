// Syntax stage of the policy loader: walks the YAML tree (policy/yaml.h; a YAML error becomes
// one diagnostic) and reports unknown keys and wrong types. Values are checked here when the
// check needs nothing but the value itself; rules across keys and sections live in validate.cc.
#include "policy/internal.h"
#include "policy/schema.h"
#include "policy/yaml.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <utility>

namespace jitsec::policy::internal {
namespace {

// A concrete key path and its schema pattern, built together while walking the tree.
struct KeyPath {
  std::string key;
  std::string pattern;

  static std::string Join(const std::string& a, std::string_view b) {
    return a.empty() ? std::string(b) : a + "." + std::string(b);
  }
  KeyPath Key(std::string_view k) const { return {Join(key, k), Join(pattern, k)}; }
  KeyPath Named(std::string_view k) const { return {Join(key, k), Join(pattern, "*")}; }
  KeyPath Index(size_t i) const { return {key + "[" + std::to_string(i) + "]", pattern + "[]"}; }
};

std::string Describe(const yaml::Node& n) {
  switch (n.type) {
    case yaml::NodeType::kMap: return "a map";
    case yaml::NodeType::kSequence: return "a list";
    case yaml::NodeType::kScalar: return "a string";
    case yaml::NodeType::kNull: return "nothing";
  }
  return "nothing";
}

// Path syntax shared by settings and sandbox lists; nullopt when fine.
std::optional<std::string> PathProblem(std::string_view p) {
  if (p.empty()) return "empty path";
  if (p.find('\0') != std::string_view::npos) return Quote(p) + " contains a NUL character";
  if (p[0] == '~' && p.size() > 1 && p[1] != '/') {
    return Quote(p) +
           " is not a supported path (only \"~\" and \"~/...\" are expanded; use an absolute "
           "path, ~/..., . or a relative path)";
  }
  return std::nullopt;
}

SourcePos PosOf(const yaml::Mark& m, SourcePos fallback) {
  return m.is_null() ? fallback : SourcePos{m.line + 1, m.column + 1};
}

class Parser {
 public:
  Parser(Diags& diags, PolicyDocument& doc) : diags_(diags), doc_(doc) {}

  void Top(const yaml::Node& root) {
    SourcePos start{1, 1};
    if (root.IsNull()) {
      diags_.Add(start, "", "policy is empty (it needs \"version: 1\" and \"tasks\")");
      return;
    }
    if (!root.IsMap()) {
      diags_.Add(PosOf(root, start), "", "expected a map at the top level, got " + Describe(root));
      return;
    }
    start = PosOf(root, start);
    bool has_version = false;
    bool has_tasks = false;
    ForEachKey(root, KeyPath{}, start,
               [&](const std::string& k, const KeyPath& p, SourcePos kpos, const yaml::Node& v,
                   SourcePos vpos) {
                 if (k == "version") {
                   has_version = true;
                   Version(v, vpos, p);
                 } else if (k == "settings") {
                   Settings(v, vpos, p);
                 } else if (k == "providers") {
                   Providers(v, vpos, p);
                 } else if (k == "environments") {
                   Environments(v, vpos, p);
                 } else if (k == "tasks") {
                   has_tasks = true;
                   Tasks(v, kpos, vpos, p);
                 }
               });
    if (!has_version) {
      diags_.Add(start, "", "missing required key \"version\" (add \"version: 1\")");
    }
    if (!has_tasks) diags_.Add(start, "", "missing required key \"tasks\"");
  }

 private:
  using EntryFn = std::function<void(const std::string& key, const KeyPath& path, SourcePos kpos,
                                     const yaml::Node& value, SourcePos vpos)>;

  static SourcePos PosOf(const yaml::Node& n, SourcePos fallback) {
    return internal::PosOf(n.mark, fallback);
  }

  // Calls fn for each entry of a map. For a map of fixed keys (schema), unknown keys are
  // reported with a suggestion; for a map of names ("<path>.*"), every key is passed on.
  // Duplicate keys are reported (the tree keeps both).
  void ForEachKey(const yaml::Node& map, const KeyPath& path, SourcePos map_pos,
                  const EntryFn& fn) {
    std::vector<std::string_view> allowed = AllowedKeys(path.pattern);
    bool named = FindSchemaKey(KeyPath::Join(path.pattern, "*")) != nullptr;
    std::set<std::string> seen;
    for (const auto& [knode, vnode] : map.entries) {
      SourcePos kpos = PosOf(knode, map_pos);
      if (!knode.IsScalar()) {
        diags_.Add(kpos, path.key, "expected a key name, got " + Describe(knode),
                   DiagnosticKind::kInvalid, false);
        continue;
      }
      std::string k = knode.Scalar();
      if (!seen.insert(k).second) {
        diags_.Add(kpos, path.key, "duplicate key " + Quote(k), DiagnosticKind::kInvalid, false);
        continue;
      }
      KeyPath child = named ? path.Named(k) : path.Key(k);
      if (!named && std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        UnknownKey(k, kpos, path, allowed);
        continue;
      }
      SourcePos vpos = PosOf(vnode, kpos);
      if (vnode.IsNull()) vpos = kpos;
      doc_.pos[child.key] = vpos;
      fn(k, child, kpos, vnode, vpos);
    }
  }

  void UnknownKey(const std::string& k, SourcePos kpos, const KeyPath& path,
                  const std::vector<std::string_view>& allowed) {
    if (k == "unsafe" &&
        (path.pattern.ends_with("deliver[].file") || path.pattern.ends_with("deliver[].stdin"))) {
      diags_.Add(kpos, path.key, "\"unsafe\" is only allowed on env deliveries",
                 DiagnosticKind::kInvalid, false);
      return;
    }
    std::string msg = "unknown key " + Quote(k);
    std::string s = Suggest(k, std::span<const std::string_view>(allowed));
    if (!s.empty()) msg += " (did you mean " + Quote(s) + "?)";
    diags_.Add(kpos, path.key, std::move(msg), DiagnosticKind::kInvalid, false);
  }

  // A map value; null counts as an empty map. False (and reported) for anything else.
  bool IsMapOrNull(const yaml::Node& v, SourcePos vpos, const KeyPath& p) {
    if (v.IsMap() || v.IsNull()) return true;
    diags_.Add(vpos, p.key, "expected a map, got " + Describe(v));
    return false;
  }

  std::optional<std::string> String(const yaml::Node& v, SourcePos vpos, const KeyPath& p) {
    if (v.IsScalar()) return v.Scalar();
    diags_.Add(vpos, p.key, "expected a string, got " + Describe(v));
    return std::nullopt;
  }

  // A string that must not be empty.
  std::optional<std::string> NonEmpty(const yaml::Node& v, SourcePos vpos, const KeyPath& p) {
    auto s = String(v, vpos, p);
    if (s && s->empty()) {
      diags_.Add(vpos, p.key, "must not be empty");
      return std::nullopt;
    }
    return s;
  }

  std::optional<bool> Bool(const yaml::Node& v, SourcePos vpos, const KeyPath& p) {
    if (v.IsScalar() && v.Tag() != "!") {
      const std::string& s = v.Scalar();
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
      diags_.Add(vpos, p.key, "expected true or false, got " + Quote(s));
      return std::nullopt;
    }
    diags_.Add(vpos, p.key,
               "expected true or false, got " + (v.IsScalar() ? Quote(v.Scalar()) : Describe(v)));
    return std::nullopt;
  }

  std::optional<std::chrono::seconds> Duration(const yaml::Node& v, SourcePos vpos,
                                               const KeyPath& p) {
    auto s = String(v, vpos, p);
    if (!s) return std::nullopt;
    auto d = ParseDuration(*s);
    if (!d) {
      diags_.Add(vpos, p.key, Quote(*s) + " is not a duration (use 10m, 1h30m, 45s)");
      return std::nullopt;
    }
    if (d->count() == 0) {
      diags_.Add(vpos, p.key, "must be longer than 0s");
      return std::nullopt;
    }
    return d;
  }

  // One value of a fixed set, given as `names`.
  template <class E>
  std::optional<E> Enum(const yaml::Node& v, SourcePos vpos, const KeyPath& p,
                        std::initializer_list<std::pair<std::string_view, E>> names) {
    std::string expected;
    size_t i = 0;
    for (const auto& [name, value] : names) {
      if (i > 0) expected += (i + 1 == names.size()) ? " or " : ", ";
      expected += name;
      ++i;
    }
    if (!v.IsScalar()) {
      diags_.Add(vpos, p.key, "expected " + expected + ", got " + Describe(v));
      return std::nullopt;
    }
    for (const auto& [name, value] : names) {
      if (v.Scalar() == name) return value;
    }
    diags_.Add(vpos, p.key, "expected " + expected + ", got " + Quote(v.Scalar()));
    return std::nullopt;
  }

  // A list of strings; `check` returns a problem text for a bad entry (nullopt when fine).
  std::optional<std::vector<std::string>> StringList(
      const yaml::Node& v, SourcePos vpos, const KeyPath& p,
      const std::function<std::optional<std::string>(const std::string&)>& check = {}) {
    if (!v.IsSequence()) {
      diags_.Add(vpos, p.key, "expected a list of strings, got " + Describe(v));
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (size_t i = 0; i < v.size(); ++i) {
      const yaml::Node& item = v[i];
      KeyPath ip = p.Index(i);
      SourcePos ipos = PosOf(item, vpos);
      doc_.pos[ip.key] = ipos;
      if (!item.IsScalar()) {
        diags_.Add(ipos, ip.key, "expected a string, got " + Describe(item));
        ok = false;
        continue;
      }
      const std::string& s = item.Scalar();
      if (check) {
        if (auto problem = check(s)) {
          diags_.Add(ipos, ip.key, *problem);
          ok = false;
          continue;
        }
      }
      out.push_back(s);
    }
    if (!ok) return std::nullopt;
    return out;
  }

  std::optional<std::vector<std::string>> PathList(const yaml::Node& v, SourcePos vpos,
                                                   const KeyPath& p) {
    return StringList(v, vpos, p, [](const std::string& s) { return PathProblem(s); });
  }

  bool CheckName(const std::string& name, SourcePos kpos, const KeyPath& p, std::string_view what) {
    if (IsName(name)) return true;
    diags_.Add(kpos, p.key,
               "invalid " + std::string(what) + " name " + Quote(name) + " (" + kNameRule + ")");
    return false;
  }

  void Version(const yaml::Node& v, SourcePos vpos, const KeyPath& p) {
    if (v.IsScalar() && v.Tag() != "!" && v.Scalar() == "1") return;
    if (v.IsScalar()) {
      diags_.Add(
          vpos, p.key,
          "unsupported policy version " + Quote(v.Scalar()) + " (this jitsec reads version 1)");
    } else {
      diags_.Add(vpos, p.key, "expected the number 1, got " + Describe(v));
    }
  }

  void Settings(const yaml::Node& v, SourcePos vpos, const KeyPath& path) {
    if (!IsMapOrNull(v, vpos, path) || v.IsNull()) return;
    policy::Settings& s = doc_.policy.settings;
    ForEachKey(v, path, vpos,
               [&](const std::string& k, const KeyPath& p, SourcePos, const yaml::Node& val,
                   SourcePos pos) {
                 if (k == "store" || k == "state") {
                   auto str = String(val, pos, p);
                   if (!str) return;
                   if (auto problem = PathProblem(*str)) {
                     diags_.Add(pos, p.key, *problem);
                     return;
                   }
                   (k == "store" ? s.store : s.state) = *str;
                 } else if (k == "audit") {
                   if (!IsMapOrNull(val, pos, p) || val.IsNull()) return;
                   ForEachKey(
                       val, p, pos,
                       [&](const std::string& ak, const KeyPath& ap, SourcePos,
                           const yaml::Node& aval, SourcePos apos) {
                         if (ak == "path") {
                           auto str = String(aval, apos, ap);
                           if (!str) return;
                           if (auto problem = PathProblem(*str)) {
                             diags_.Add(apos, ap.key, *problem);
                             return;
                           }
                           s.audit_path = *str;
                         } else if (ak == "syslog") {
                           if (auto b = Bool(aval, apos, ap)) s.audit_syslog = *b;
                         } else if (ak == "sync") {
                           if (auto mode = Enum<AuditSync>(aval, apos, ap,
                                                           {{"background", AuditSync::kBackground},
                                                            {"wait", AuditSync::kWait}})) {
                             s.audit_sync = *mode;
                           }
                         }
                       });
                 }
               });
  }

  void Providers(const yaml::Node& v, SourcePos vpos, const KeyPath& path) {
    if (!IsMapOrNull(v, vpos, path) || v.IsNull()) return;
    ForEachKey(v, path, vpos,
               [&](const std::string& name, const KeyPath& p, SourcePos kpos, const yaml::Node& val,
                   SourcePos pos) {
                 if (!CheckName(name, kpos, p, "provider")) return;
                 Provider(name, p, kpos, val, pos);
               });
  }

  void Provider(const std::string& name, const KeyPath& path, SourcePos kpos, const yaml::Node& v,
                SourcePos vpos) {
    if (!IsMapOrNull(v, vpos, path)) return;
    ProviderConfig cfg;
    cfg.name = name;
    cfg.pos = kpos;
    std::optional<ProviderType> type;
    bool type_given = false;
    std::vector<std::pair<std::string, SourcePos>> pg_keys;  // given postgres-only keys
    if (v.IsMap()) {
      ForEachKey(
          v, path, vpos,
          [&](const std::string& k, const KeyPath& p, SourcePos, const yaml::Node& val,
              SourcePos pos) {
            if (k == "type") {
              type_given = true;
              if (!val.IsScalar()) {
                diags_.Add(pos, p.key, "expected a provider type, got " + Describe(val));
                return;
              }
              const std::string& t = val.Scalar();
              if (t == "store") {
                type = ProviderType::kStore;
              } else if (t == "env") {
                type = ProviderType::kEnv;
              } else if (t == "postgres") {
                type = ProviderType::kPostgres;
              } else {
                diags_.Add(
                    pos, p.key,
                    "unknown provider type " + Quote(t) + " (expected store, env or postgres)");
              }
              return;
            }
            pg_keys.emplace_back(k, pos);
            auto s = NonEmpty(val, pos, p);
            if (!s) return;
            if (k == "conninfo") {
              if (auto problem = ConninfoProblem(*s)) {
                diags_.Add(pos, p.key, *problem);
                return;
              }
              cfg.conninfo = *s;
            } else if (k == "admin_secret") {
              if (!IsStoreName(*s)) {
                diags_.Add(pos, p.key,
                           "invalid secret name " + Quote(*s) + " (" + kStoreNameRule + ")");
                return;
              }
              cfg.admin_secret = *s;
            } else if (k == "role_prefix") {
              if (!IsRolePrefix(*s)) {
                diags_.Add(pos, p.key,
                           "role_prefix " + Quote(*s) +
                               " is not a valid role name prefix (lowercase letters, digits and "
                               "\"_\", starting with a letter or \"_\", at most 20 characters)");
                return;
              }
              cfg.role_prefix = *s;
            }
          });
    }
    if (!type_given) {
      diags_.Add(kpos, path.key, "missing required key \"type\"");
      return;
    }
    if (!type) return;
    cfg.type = *type;
    if (name == "store" && cfg.type != ProviderType::kStore) {
      diags_.Add(doc_.At(path.Key("type").key), path.Key("type").key,
                 "the built-in provider \"store\" can only have type store");
      return;
    }
    if (cfg.type == ProviderType::kPostgres) {
      for (std::string_view req : {"conninfo", "admin_secret"}) {
        if (!doc_.Has(path.Key(req).key)) {
          diags_.Add(kpos, path.key,
                     "missing required key " + Quote(req) + " (postgres providers need it)");
        }
      }
    } else {
      for (const auto& [k, pos] : pg_keys) {
        diags_.Add(pos, path.Key(k).key,
                   Quote(k) + " is only allowed for postgres providers (this one is of type " +
                       std::string(ProviderTypeName(cfg.type)) + ")");
      }
    }
    doc_.policy.providers[name] = std::move(cfg);
  }

  // libpq keyword/value strings and postgres:// URIs; the password must live in the store.
  static std::optional<std::string> ConninfoProblem(std::string_view s) {
    const std::string kNoPassword =
        "conninfo must not contain a password (keep it in the store secret named by "
        "admin_secret)";
    for (std::string_view scheme : {"postgresql://", "postgres://"}) {
      if (s.substr(0, scheme.size()) != scheme) continue;
      std::string_view rest = s.substr(scheme.size());
      std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
      size_t at = authority.rfind('@');
      if (at != std::string_view::npos &&
          authority.substr(0, at).find(':') != std::string_view::npos) {
        return kNoPassword;
      }
      size_t q = rest.find('?');
      if (q != std::string_view::npos) {
        std::string_view query = rest.substr(q + 1);
        while (!query.empty()) {
          std::string_view param = query.substr(0, query.find('&'));
          if (param.substr(0, param.find('=')) == "password") return kNoPassword;
          if (param.size() == query.size()) break;
          query.remove_prefix(param.size() + 1);
        }
      }
      return std::nullopt;
    }
    const std::string kSyntax =
        "conninfo is not a libpq connection string (expected \"keyword=value ...\" or a "
        "postgresql:// URI)";
    size_t i = 0;
    auto skip_ws = [&] {
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
    };
    while (true) {
      skip_ws();
      if (i == s.size()) break;
      size_t start = i;
      while (i < s.size() && s[i] != '=' && s[i] != ' ' && s[i] != '\t') ++i;
      std::string_view keyword = s.substr(start, i - start);
      skip_ws();
      if (keyword.empty() || i == s.size() || s[i] != '=') return kSyntax;
      ++i;
      skip_ws();
      if (keyword == "password") return kNoPassword;
      if (i < s.size() && s[i] == '\'') {
        ++i;
        while (i < s.size() && s[i] != '\'') i += (s[i] == '\\') ? 2 : 1;
        if (i >= s.size()) return kSyntax;
        ++i;
      } else {
        while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '\n') {
          i += (s[i] == '\\') ? 2 : 1;
        }
        i = std::min(i, s.size());
      }
    }
    return std::nullopt;
  }

  void Environments(const yaml::Node& v, SourcePos vpos, const KeyPath& path) {
    if (!IsMapOrNull(v, vpos, path) || v.IsNull()) return;
    ForEachKey(v, path, vpos,
               [&](const std::string& name, const KeyPath& p, SourcePos kpos, const yaml::Node& val,
                   SourcePos pos) {
                 if (!CheckName(name, kpos, p, "environment")) return;
                 if (!IsMapOrNull(val, pos, p)) return;
                 EnvironmentConfig env;
                 env.name = name;
                 env.pos = kpos;
                 if (val.IsMap()) {
                   ForEachKey(val, p, pos,
                              [&](const std::string& k, const KeyPath& ep, SourcePos,
                                  const yaml::Node& ev, SourcePos epos) {
                                if (k == "approval") {
                                  if (auto a = Enum<Approval>(
                                          ev, epos, ep,
                                          {{"none", Approval::kNone}, {"tty", Approval::kTty}})) {
                                    env.approval = *a;
                                  }
                                } else if (k == "when") {
                                  When(ev, epos, ep, env.when);
                                }
                              });
                 }
                 doc_.policy.environments[name] = std::move(env);
               });
  }

  void When(const yaml::Node& v, SourcePos vpos, const KeyPath& path, WhenClause& when) {
    if (!IsMapOrNull(v, vpos, path) || v.IsNull()) return;
    auto non_empty = [](const std::string& s) -> std::optional<std::string> {
      if (s.empty()) return std::string("empty pattern");
      return std::nullopt;
    };
    ForEachKey(v, path, vpos,
               [&](const std::string& k, const KeyPath& p, SourcePos, const yaml::Node& val,
                   SourcePos pos) {
                 if (k == "ci") {
                   when.ci = Bool(val, pos, p);
                   return;
                 }
                 auto list = StringList(val, pos, p, non_empty);
                 if (!list) return;
                 if (k == "branch") when.branch = std::move(*list);
                 if (k == "repo") when.repo = std::move(*list);
                 if (k == "user") when.user = std::move(*list);
               });
  }

  void Tasks(const yaml::Node& v, SourcePos kpos, SourcePos vpos, const KeyPath& path) {
    if (!IsMapOrNull(v, vpos, path)) return;
    if (v.IsNull() || v.size() == 0) {
      diags_.Add(v.IsNull() ? kpos : vpos, path.key, "at least one task is required");
      return;
    }
    ForEachKey(v, path, vpos,
               [&](const std::string& name, const KeyPath& p, SourcePos tpos, const yaml::Node& val,
                   SourcePos pos) {
                 Task task;
                 task.name = name;
                 task.pos = tpos;
                 bool ok = CheckName(name, tpos, p, "task");
                 if (IsMapOrNull(val, pos, p) && val.IsMap()) TaskBody(val, pos, p, task);
                 if (ok) doc_.policy.tasks.push_back(std::move(task));
               });
  }

  void TaskBody(const yaml::Node& v, SourcePos vpos, const KeyPath& path, Task& task) {
    ForEachKey(v, path, vpos,
               [&](const std::string& k, const KeyPath& p, SourcePos kpos, const yaml::Node& val,
                   SourcePos pos) {
                 if (k == "description") {
                   if (auto s = String(val, pos, p)) task.description = *s;
                 } else if (k == "environments") {
                   std::set<std::string> seen;
                   auto list = StringList(
                       val, pos, p, [&](const std::string& s) -> std::optional<std::string> {
                         if (!IsName(s))
                           return "invalid environment name " + Quote(s) + " (" + kNameRule + ")";
                         if (!seen.insert(s).second)
                           return "environment " + Quote(s) + " is listed twice";
                         return std::nullopt;
                       });
                   if (list) task.environments = std::move(*list);
                 } else if (k == "default_environment") {
                   if (auto s = NonEmpty(val, pos, p)) task.default_environment = *s;
                 } else if (k == "commands") {
                   auto list = StringList(val, pos, p,
                                          [](const std::string& s) -> std::optional<std::string> {
                                            if (s.empty()) return std::string("empty command");
                                            return std::nullopt;
                                          });
                   if (list) task.commands = std::move(*list);
                 } else if (k == "max_duration") {
                   task.max_duration = Duration(val, pos, p);
                 } else if (k == "env") {
                   Env(val, pos, p, task);
                 } else if (k == "credentials") {
                   if (!IsMapOrNull(val, pos, p) || val.IsNull()) return;
                   ForEachKey(val, p, pos,
                              [&](const std::string& name, const KeyPath& cp, SourcePos cpos,
                                  const yaml::Node& cv, SourcePos cvpos) {
                                Credential cred;
                                cred.name = name;
                                cred.pos = cpos;
                                if (!IsCredentialName(name)) {
                                  diags_.Add(cpos, cp.key,
                                             "invalid credential name " + Quote(name) + " (" +
                                                 kCredentialNameRule + ")");
                                }
                                if (IsMapOrNull(cv, cvpos, cp))
                                  CredentialBody(cv, cpos, cvpos, cp, cred);
                                task.credentials.push_back(std::move(cred));
                              });
                 } else if (k == "sandbox") {
                   Sandbox(val, pos, p, task.sandbox);
                 }
                 (void)kpos;
               });
  }

  void Env(const yaml::Node& v, SourcePos vpos, const KeyPath& path, Task& task) {
    if (!IsMapOrNull(v, vpos, path) || v.IsNull()) return;
    ForEachKey(
        v, path, vpos,
        [&](const std::string& k, const KeyPath& p, SourcePos, const yaml::Node& val,
            SourcePos pos) {
          if (k == "pass") {
            auto list =
                StringList(val, pos, p, [](const std::string& s) -> std::optional<std::string> {
                  if (IsEnvGlob(s)) return std::nullopt;
                  return Quote(s) + " is not a variable name or glob (e.g. LANG, LC_*)";
                });
            if (list) task.env_pass = std::move(*list);
          } else if (k == "set") {
            if (!IsMapOrNull(val, pos, p) || val.IsNull()) return;
            ForEachKey(
                val, p, pos,
                [&](const std::string& name, const KeyPath& sp, SourcePos spos,
                    const yaml::Node& sv, SourcePos svpos) {
                  if (!IsEnvVarName(name)) {
                    diags_.Add(spos, sp.key,
                               "invalid variable name " + Quote(name) + " (" + kEnvVarRule + ")");
                    return;
                  }
                  if (name.starts_with("JITSEC_")) {
                    diags_.Add(spos, sp.key, "variable " + Quote(name) + " is reserved for jitsec");
                    return;
                  }
                  if (auto s = String(sv, svpos, sp)) task.env_set.emplace_back(name, *s);
                });
          }
        });
  }

  void CredentialBody(const yaml::Node& v, SourcePos kpos, SourcePos vpos, const KeyPath& path,
                      Credential& cred) {
    bool has_provider = false;
    bool has_deliver = false;
    if (v.IsMap()) {
      ForEachKey(v, path, vpos,
                 [&](const std::string& k, const KeyPath& p, SourcePos, const yaml::Node& val,
                     SourcePos pos) {
                   if (k == "provider") {
                     has_provider = true;
                     auto s = NonEmpty(val, pos, p);
                     if (!s) return;
                     std::string plain = *s;
                     for (size_t i = plain.find("{env}"); i != std::string::npos;
                          i = plain.find("{env}")) {
                       plain.replace(i, 5, "x");
                     }
                     if (plain.find_first_of("{}") != std::string::npos) {
                       diags_.Add(pos, p.key,
                                  "provider " + Quote(*s) +
                                      ": only \"{env}\" is substituted in provider names");
                       return;
                     }
                     if (!IsName(plain)) {
                       diags_.Add(pos, p.key,
                                  "invalid provider name " + Quote(*s) + " (" + kNameRule + ")");
                       return;
                     }
                     cred.provider = *s;
                   } else if (k == "secret") {
                     if (auto s = NonEmpty(val, pos, p)) cred.secret = *s;
                   } else if (k == "grants") {
                     auto list = StringList(
                         val, pos, p, [](const std::string& s) -> std::optional<std::string> {
                           if (IsRoleName(s)) return std::nullopt;
                           return Quote(s) +
                                  " is not a valid PostgreSQL role name (lowercase letters, "
                                  "digits, \"_\" and "
                                  "\"$\", starting with a letter or \"_\", at most 63 characters)";
                         });
                     if (list) cred.grants = std::move(*list);
                   } else if (k == "ttl") {
                     if (auto d = Duration(val, pos, p)) cred.ttl = *d;
                   } else if (k == "deliver") {
                     has_deliver = true;
                     Deliveries(val, pos, p, cred);
                   }
                 });
    }
    if (!has_provider) diags_.Add(kpos, path.key, "missing required key \"provider\"");
    if (!has_deliver) diags_.Add(kpos, path.key, "missing required key \"deliver\"");
  }

  void Deliveries(const yaml::Node& v, SourcePos vpos, const KeyPath& path, Credential& cred) {
    if (!v.IsSequence()) {
      diags_.Add(vpos, path.key, "expected a list of deliveries, got " + Describe(v));
      return;
    }
    if (v.size() == 0) {
      diags_.Add(vpos, path.key, "at least one delivery is required");
      return;
    }
    for (size_t i = 0; i < v.size(); ++i) {
      const yaml::Node& item = v[i];
      KeyPath ip = path.Index(i);
      SourcePos ipos = PosOf(item, vpos);
      doc_.pos[ip.key] = ipos;
      Delivery d;
      d.pos = ipos;
      DeliveryEntry(item, ipos, ip, d);
      cred.deliver.push_back(std::move(d));  // always, so indices match key paths
    }
  }

  void DeliveryEntry(const yaml::Node& v, SourcePos vpos, const KeyPath& path, Delivery& d) {
    if (!v.IsMap()) {
      diags_.Add(vpos, path.key,
                 "expected a map with one of \"file\", \"stdin\" or \"env\", got " + Describe(v));
      return;
    }
    std::vector<std::string> kinds;
    ForEachKey(v, path, vpos,
               [&](const std::string& k, const KeyPath& p, SourcePos, const yaml::Node& val,
                   SourcePos pos) {
                 kinds.push_back(k);
                 if (kinds.size() > 1) return;
                 d.kind = k == "file"    ? DeliveryKind::kFile
                          : k == "stdin" ? DeliveryKind::kStdin
                                         : DeliveryKind::kEnv;
                 DeliveryBody(val, pos, p, d);
               });
    if (kinds.empty()) {
      diags_.Add(vpos, path.key, "each delivery needs one of \"file\", \"stdin\" or \"env\"");
    } else if (kinds.size() > 1) {
      diags_.Add(vpos, path.key,
                 Quote(kinds[0]) + " and " + Quote(kinds[1]) +
                     " in one delivery (use one list entry per delivery)");
    }
  }

  void DeliveryBody(const yaml::Node& v, SourcePos vpos, const KeyPath& path, Delivery& d) {
    if (!IsMapOrNull(v, vpos, path)) return;
    bool has_template = false;
    bool has_field = false;
    bool format_ok = true;
    if (v.IsMap()) {
      ForEachKey(v, path, vpos,
                 [&](const std::string& k, const KeyPath& p, SourcePos, const yaml::Node& val,
                     SourcePos pos) {
                   if (k == "env" || k == "name") {
                     auto s = NonEmpty(val, pos, p);
                     if (!s) return;
                     if (!IsEnvVarName(*s)) {
                       diags_.Add(pos, p.key,
                                  "invalid variable name " + Quote(*s) + " (" + kEnvVarRule + ")");
                     } else if (s->starts_with("JITSEC_")) {
                       diags_.Add(pos, p.key, "variable " + Quote(*s) + " is reserved for jitsec");
                     } else {
                       d.env = *s;
                     }
                   } else if (k == "path") {
                     auto s = NonEmpty(val, pos, p);
                     if (!s) return;
                     if (auto problem = MountPathProblem(*s)) {
                       diags_.Add(pos, p.key, *problem);
                       return;
                     }
                     d.path = *s;
                   } else if (k == "format") {
                     auto f = Enum<FileFormat>(val, pos, p,
                                               {{"raw", FileFormat::kRaw},
                                                {"pgpass", FileFormat::kPgpass},
                                                {"netrc", FileFormat::kNetrc},
                                                {"dotenv", FileFormat::kDotenv},
                                                {"json", FileFormat::kJson},
                                                {"template", FileFormat::kTemplate}});
                     if (f) {
                       d.format = *f;
                     } else {
                       format_ok = false;
                     }
                   } else if (k == "field") {
                     has_field = true;
                     if (auto s = NonEmpty(val, pos, p)) d.field = *s;
                   } else if (k == "template") {
                     has_template = true;
                     if (auto s = NonEmpty(val, pos, p)) d.template_text = *s;
                   } else if (k == "unsafe") {
                     if (auto b = Bool(val, pos, p)) d.unsafe = *b;
                   }
                 });
    }
    if (d.kind == DeliveryKind::kEnv && !doc_.Has(path.Key("name").key)) {
      diags_.Add(vpos, path.key, "missing required key \"name\"");
    }
    if (d.kind == DeliveryKind::kFile && !doc_.Has(path.Key("env").key) &&
        !doc_.Has(path.Key("path").key)) {
      diags_.Add(vpos, path.key,
                 "a file delivery needs \"env\" (a variable for /dev/fd/N) or \"path\"");
    }
    if (!format_ok) return;
    if (d.format == FileFormat::kTemplate && !has_template) {
      diags_.Add(vpos, path.key, "format template needs a \"template\" key");
    }
    if (has_template && d.format != FileFormat::kTemplate) {
      std::string tp = path.Key("template").key;
      diags_.Add(doc_.At(tp), tp, "\"template\" needs \"format: template\"");
    }
    if (has_field && d.kind != DeliveryKind::kEnv && d.format != FileFormat::kRaw) {
      std::string fp = path.Key("field").key;
      diags_.Add(doc_.At(fp), fp,
                 "\"field\" is only used with format raw (format " +
                     std::string(FileFormatName(d.format)) + " writes every field it needs)");
    }
  }

  static std::optional<std::string> MountPathProblem(const std::string& s) {
    std::filesystem::path p(s);
    if (!p.is_absolute()) return "path " + Quote(s) + " must be absolute";
    std::filesystem::path norm = p.lexically_normal();
    std::string n = norm.string();
    if (n.size() > 1 && n.back() == '/') n.pop_back();
    if (n == "/") return "path " + Quote(s) + " must name a file, not \"/\"";
    for (std::string_view top : {"/proc", "/dev", "/sys"}) {
      if (n == top || (n.starts_with(top) && n[top.size()] == '/')) {
        return "path " + Quote(s) + " is under " + std::string(top) +
               " (choose a path such as /run/secrets/NAME)";
      }
    }
    return std::nullopt;
  }

  void Sandbox(const yaml::Node& v, SourcePos vpos, const KeyPath& path, SandboxConfig& sb) {
    if (!IsMapOrNull(v, vpos, path) || v.IsNull()) return;
    ForEachKey(v, path, vpos,
               [&](const std::string& k, const KeyPath& p, SourcePos, const yaml::Node& val,
                   SourcePos pos) {
                 if (k == "enabled") {
                   if (auto b = Bool(val, pos, p)) {
                     sb.enabled = *b;
                     sb.enabled_explicit = true;
                   }
                 } else if (k == "network") {
                   if (auto n = Enum<Network>(
                           val, pos, p, {{"none", Network::kNone}, {"host", Network::kHost}})) {
                     sb.network = *n;
                   }
                 } else if (k == "protect") {
                   if (auto l = PathList(val, pos, p)) sb.protect = std::move(*l);
                   sb.protect_explicit = true;
                 } else if (k == "filesystem") {
                   if (!IsMapOrNull(val, pos, p) || val.IsNull()) return;
                   ForEachKey(val, p, pos,
                              [&](const std::string& fk, const KeyPath& fp, SourcePos,
                                  const yaml::Node& fv, SourcePos fpos) {
                                auto l = PathList(fv, fpos, fp);
                                if (!l) return;
                                if (fk == "read") sb.read = std::move(*l);
                                if (fk == "write") sb.write = std::move(*l);
                                if (fk == "deny") {
                                  sb.deny = std::move(*l);
                                  sb.deny_explicit = true;
                                }
                              });
                 }
               });
  }

  Diags& diags_;
  PolicyDocument& doc_;
};

}  // namespace

void ParseYaml(std::string_view text, Diags& diags, PolicyDocument& doc) {
  yaml::Document read = yaml::Read(text);
  if (read.error) {
    diags.Add(PosOf(read.error->mark, SourcePos{1, 1}), "", read.error->message,
              read.error->syntax ? DiagnosticKind::kSyntax : DiagnosticKind::kInvalid);
    return;
  }
  Parser(diags, doc).Top(read.root);
}

}  // namespace jitsec::policy::internal
