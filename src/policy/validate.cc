// Semantic stage: rules that combine keys or refer across sections ("X requires Y",
// "X conflicts with Y"). Runs after the syntax stage on whatever parsed cleanly, and skips
// values that were already reported so one mistake gives one message.
#include "policy/internal.h"
#include "policy/schema.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace jitsec::policy::internal {
namespace {

std::string FieldList(ProviderType t) {
  std::string out;
  for (const FieldInfo& f : ProviderFields(t)) {
    if (!out.empty()) out += ", ";
    out += f.name;
  }
  return out;
}

std::string Article(ProviderType t) {
  return t == ProviderType::kEnv ? "an env" : "a " + std::string(ProviderTypeName(t));
}

// "{{ field }}" names in a template; a problem text when it is malformed.
std::optional<std::string> TemplateFields(std::string_view text, std::vector<std::string>& out) {
  size_t i = 0;
  while ((i = text.find("{{", i)) != std::string_view::npos) {
    size_t end = text.find("}}", i + 2);
    if (end == std::string_view::npos) return "template has \"{{\" without \"}}\"";
    std::string_view name = text.substr(i + 2, end - i - 2);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    out.emplace_back(name);
    i = end + 2;
  }
  return std::nullopt;
}

class Validator {
 public:
  Validator(PolicyDocument& doc, Diags& diags) : doc_(doc), diags_(diags) {}

  void Run() {
    for (const Task& task : doc_.policy.tasks) {
      std::string tp = "tasks." + task.name;
      if (doc_.Bad(tp)) continue;
      TaskRules(task, tp);
    }
  }

 private:
  // Rules here are independent of each other, so a report does not hide later ones.
  void Report(const std::string& path, std::string message) {
    diags_.Add(doc_.At(path), path, std::move(message), DiagnosticKind::kInvalid, false);
  }

  void TaskRules(const Task& task, const std::string& tp) {
    std::vector<std::string> env_names;
    for (const auto& [name, env] : doc_.policy.environments) env_names.push_back(name);
    std::vector<std::string> known_envs;  // the task's environments that exist
    for (size_t i = 0; i < task.environments.size(); ++i) {
      const std::string& e = task.environments[i];
      if (doc_.policy.environments.count(e) != 0) {
        known_envs.push_back(e);
        continue;
      }
      if (doc_.Has("environments." + e)) continue;  // defined, but reported already
      std::string msg = "unknown environment " + Quote(e);
      if (env_names.empty()) {
        msg += " (define it under \"environments\")";
      } else if (std::string s = Suggest(e, std::span<const std::string>(env_names)); !s.empty()) {
        msg += " (did you mean " + Quote(s) + "?)";
      }
      Report(tp + ".environments[" + std::to_string(i) + "]", msg);
    }
    if (!task.default_environment.empty() && !doc_.Bad(tp + ".environments")) {
      std::string dp = tp + ".default_environment";
      const auto& envs = task.environments;
      if (envs.empty()) {
        Report(dp, "default_environment needs the task's \"environments\"");
      } else if (std::find(envs.begin(), envs.end(), task.default_environment) == envs.end()) {
        std::string list;
        for (const std::string& e : envs) list += (list.empty() ? "" : ", ") + e;
        Report(dp, "default_environment " + Quote(task.default_environment) +
                       " is not one of the task's environments (" + list + ")");
      }
    }
    for (const Credential& cred : task.credentials) {
      std::string cp = tp + ".credentials." + cred.name;
      if (doc_.Bad(cp)) continue;
      CredentialRules(task, cred, cp, known_envs);
    }
    TargetRules(task, tp);
  }

  // The provider type of a credential, when it resolves (reports when it does not).
  std::optional<ProviderType> ResolveType(const Task& task, const Credential& cred,
                                          const std::string& pp,
                                          const std::vector<std::string>& known_envs) {
    const auto& providers = doc_.policy.providers;
    if (cred.provider.find("{env}") == std::string::npos) {
      auto it = providers.find(cred.provider);
      if (it != providers.end()) return it->second.type;
      if (doc_.Has("providers." + cred.provider)) return std::nullopt;  // reported already
      std::vector<std::string> names;
      for (const auto& [n, p] : providers) names.push_back(n);
      std::string msg = "unknown provider " + Quote(cred.provider);
      if (std::string s = Suggest(cred.provider, std::span<const std::string>(names)); !s.empty()) {
        msg += " (did you mean " + Quote(s) + "?)";
      }
      Report(pp, msg);
      return std::nullopt;
    }
    if (task.environments.empty()) {
      Report(pp, "provider " + Quote(cred.provider) +
                     " uses {env} but the task has no \"environments\"");
      return std::nullopt;
    }
    std::optional<ProviderType> type;
    std::string first_env;
    for (const std::string& env : known_envs) {
      std::string resolved = ResolveProviderName(cred, env);
      auto it = providers.find(resolved);
      if (it == providers.end()) {
        if (doc_.Has("providers." + resolved)) return std::nullopt;  // reported already
        Report(pp, "provider " + Quote(cred.provider) + " resolves to unknown provider " +
                       Quote(resolved) + " for environment " + Quote(env));
        return std::nullopt;
      }
      if (type && *type != it->second.type) {
        Report(pp, "provider " + Quote(cred.provider) +
                       " resolves to providers of different "
                       "types (" +
                       std::string(ProviderTypeName(*type)) + " for " + Quote(first_env) + ", " +
                       std::string(ProviderTypeName(it->second.type)) + " for " + Quote(env) + ")");
        return std::nullopt;
      }
      if (!type) first_env = env;
      type = it->second.type;
    }
    return type;
  }

  void CredentialRules(const Task& task, const Credential& cred, const std::string& cp,
                       const std::vector<std::string>& known_envs) {
    if (cred.ttl.count() > 0 && task.max_duration && cred.ttl > *task.max_duration) {
      Report(cp + ".ttl", "ttl " + FormatDuration(cred.ttl) +
                              " is longer than the task's max_duration " +
                              FormatDuration(*task.max_duration));
    }
    std::string pp = cp + ".provider";
    if (cred.provider.empty() || doc_.Bad(pp)) return;
    std::optional<ProviderType> type = ResolveType(task, cred, pp, known_envs);
    if (!type) return;
    std::string sp = cp + ".secret";
    std::string gp = cp + ".grants";
    if (*type == ProviderType::kPostgres) {
      if (doc_.Has(sp)) {
        Report(sp,
               "\"secret\" is not allowed with a postgres provider (it uses the provider's "
               "admin_secret)");
      }
    } else {
      if (!doc_.Has(sp)) {
        diags_.Add(cred.pos, cp,
                   "missing required key \"secret\" (provider " + Quote(cred.provider) +
                       " is of type " + std::string(ProviderTypeName(*type)) + ")",
                   DiagnosticKind::kInvalid, /*mark_bad=*/false);
      } else if (!doc_.Bad(sp)) {
        if (*type == ProviderType::kStore && !IsStoreName(cred.secret)) {
          Report(sp, "invalid secret name " + Quote(cred.secret) + " (" + kStoreNameRule + ")");
        } else if (*type == ProviderType::kEnv && !IsEnvVarName(cred.secret)) {
          Report(sp, "secret " + Quote(cred.secret) +
                         " is not a variable name (an env provider reads jitsec's own "
                         "environment; " +
                         kEnvVarRule + ")");
        }
      }
      if (doc_.Has(gp)) {
        Report(gp, "\"grants\" is only allowed with a postgres provider (this one is of type " +
                       std::string(ProviderTypeName(*type)) + ")");
      }
    }
    for (size_t i = 0; i < cred.deliver.size(); ++i) {
      std::string dp = cp + ".deliver[" + std::to_string(i) + "]";
      if (doc_.Bad(dp)) continue;
      DeliveryRules(cred.deliver[i], *type, dp);
    }
  }

  void DeliveryRules(const Delivery& d, ProviderType type, const std::string& dp) {
    std::string kp = dp + (d.kind == DeliveryKind::kFile    ? ".file"
                           : d.kind == DeliveryKind::kStdin ? ".stdin"
                                                            : ".env");
    if (doc_.Bad(kp)) return;
    std::string field = d.field.empty() ? std::string(DefaultField(type)) : d.field;
    const FieldInfo* info = FindField(type, field);
    if (info == nullptr) {
      Report(kp + ".field", "unknown field " + Quote(field) + " for " + Article(type) +
                                " credential (fields: " + FieldList(type) + ")");
    }
    if (d.format == FileFormat::kPgpass && type != ProviderType::kPostgres) {
      Report(kp + ".format", "format pgpass needs a postgres provider (this one is of type " +
                                 std::string(ProviderTypeName(type)) + ")");
    }
    if (d.format == FileFormat::kTemplate && !d.template_text.empty()) {
      std::vector<std::string> names;
      std::string tp = kp + ".template";
      if (auto problem = TemplateFields(d.template_text, names)) {
        Report(tp, *problem);
      } else {
        for (const std::string& n : names) {
          if (FindField(type, n) == nullptr) {
            Report(tp, "template uses unknown field " + Quote(n) + " for " + Article(type) +
                           " credential (fields: " + FieldList(type) + ")");
          }
        }
      }
    }
    if (d.kind == DeliveryKind::kEnv && info != nullptr && info->secret && !d.unsafe) {
      diags_.Add(doc_.At(kp), kp,
                 "env delivery of secret field " + Quote(field) +
                     " needs \"unsafe: true\" on this entry (prefer a file delivery)",
                 DiagnosticKind::kInvalid, false);
    }
  }

  // Variables, paths and stdin are each given to at most one delivery of the task.
  void TargetRules(const Task& task, const std::string& tp) {
    std::map<std::string, std::string> vars;  // variable -> who sets it
    for (const auto& [name, value] : task.env_set) vars[name] = tp + ".env.set";
    std::map<std::string, std::string> paths;
    std::string first_stdin;
    for (const Credential& cred : task.credentials) {
      std::string cp = tp + ".credentials." + cred.name;
      for (size_t i = 0; i < cred.deliver.size(); ++i) {
        const Delivery& d = cred.deliver[i];
        std::string dp = cp + ".deliver[" + std::to_string(i) + "]";
        if (doc_.Bad(dp)) continue;
        std::string where = dp + " at line " + std::to_string(doc_.At(dp).line);
        if (d.kind == DeliveryKind::kStdin) {
          if (first_stdin.empty()) {
            first_stdin = where;
          } else {
            Report(dp, "only one stdin delivery per task (the first is " + first_stdin + ")");
          }
          continue;
        }
        std::string vp = dp + (d.kind == DeliveryKind::kFile ? ".file.env" : ".env.name");
        if (!d.env.empty() && !doc_.Bad(vp)) {
          auto [it, inserted] = vars.emplace(d.env, where);
          if (!inserted) {
            Report(vp, "variable " + Quote(d.env) + " is already set by " + it->second);
          }
        }
        std::string pp = dp + ".file.path";
        if (!d.path.empty() && !task.sandbox.enabled) {
          // The file is mounted by the sandbox's mount namespace; without one there is no
          // private place to put it.
          Report(pp, "path " + Quote(d.path) +
                         " needs the sandbox, and this task sets sandbox.enabled: false (use "
                         "file: {env: VAR} instead)");
        }
        if (!d.path.empty() && !doc_.Bad(pp)) {
          std::string norm = std::filesystem::path(d.path).lexically_normal().string();
          auto [it, inserted] = paths.emplace(norm, where);
          if (!inserted) {
            Report(pp, "path " + Quote(d.path) + " is already delivered by " + it->second);
          }
        }
      }
    }
  }

  PolicyDocument& doc_;
  Diags& diags_;
};

}  // namespace

void Validate(PolicyDocument& doc, Diags& diags) { Validator(doc, diags).Run(); }

}  // namespace jitsec::policy::internal
