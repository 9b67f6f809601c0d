#include "cli/main.h"

#include <unistd.h>

#include <openssl/crypto.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "base/environment.h"
#include "base/log.h"
#include "policy/policy.h"
#include "run/run.h"

#ifndef JITSEC_VERSION
#define JITSEC_VERSION "0.1.0"
#endif

namespace jitsec::cli {
namespace {

constexpr int kExitFailure = 125;

// The exit status for an error of `run` (cli.md): 126/127 for the command, 125 for jitsec.
int ExitCodeFor(const Error& e) {
  if (e.code() == ErrorCode::kCommandNotFound) return 127;
  if (e.code() == ErrorCode::kCommandNotExecutable) return 126;
  return kExitFailure;
}

int Report(const Error& e) {
  std::string line = e.code() == ErrorCode::kPolicyRefused ? "jitsec: " : "jitsec: error: ";
  line += e.message();
  // One line: a multi-line message is cut at the first newline.
  if (auto nl = line.find('\n'); nl != std::string::npos) line.resize(nl);
  std::fprintf(stderr, "%s\n", line.c_str());
  return ExitCodeFor(e);
}

void PrintJson(const nlohmann::json& j) { std::printf("%s\n", j.dump(2).c_str()); }

struct Globals {
  std::string policy;
  int verbose = 0;
  bool quiet = false;
};

// `--policy`, `-v`, `-q` are accepted before and after the command name.
void AddGlobals(CLI::App* app, Globals& g) {
  app->add_option("--policy", g.policy, "Policy file (else $JITSEC_POLICY, ~/.config/jitsec/policy.yaml, /etc/jitsec/policy.yaml)")
      ->type_name("FILE");
  app->add_flag("-v,--verbose", g.verbose, "More messages (never secret values); repeat for debug");
  app->add_flag("-q,--quiet", g.quiet, "Only errors");
}

constexpr const char* kCommands[] = {"run", "explain", "check", "tasks", "secret",
                                     "leases", "audit", "doctor", "version"};

// The command named on the command line, when it is one of kCommands and only global options
// come before it; "" otherwise (no command, --help, --version, an unknown word or option).
// Main then builds only that command's parser: CLI11 builds every option of every command it
// is given, about 0.1 ms of each start, and a command line names one command. With "" it
// builds them all, so that help, version and every error message read as before.
std::string_view NamedCommand(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--policy") {
      ++i;  // its value
      continue;
    }
    if (a.starts_with("--policy=") || a == "--verbose" || a == "--quiet") continue;
    if (a.size() >= 2 && a[0] == '-' && a.find_first_not_of("vq", 1) == std::string_view::npos) {
      continue;  // -v, -q, -vv, -vq ...
    }
    if (a.starts_with("-")) return {};
    for (const char* c : kCommands) {
      if (a == c) return a;
    }
    return {};
  }
  return {};
}

int CmdCheck(const Globals& g, const Environment& env) {
  auto path = policy::DiscoverPolicyPath(env, g.policy);
  auto loaded = policy::LoadPolicyFile(path);
  if (!loaded) {
    for (const auto& d : loaded.error()) std::fprintf(stdout, "%s\n", d.ToString().c_str());
    return 1;
  }
  if (!g.quiet) {
    std::printf("%s: ok (%zu task%s)\n", path.c_str(), loaded->tasks.size(), loaded->tasks.size() == 1 ? "" : "s");
  }
  return 0;
}

int CmdTasks(const Globals& g, const Environment& env, bool json, bool names, bool envs) {
  auto loaded = policy::LoadPolicy(policy::DiscoverPolicyPath(env, g.policy));
  if (!loaded) return names || envs ? kExitFailure : Report(loaded.error());
  const auto& p = *loaded;
  if (names) {
    for (const auto& t : p.tasks) std::printf("%s\n", t.name.c_str());
    return 0;
  }
  if (envs) {
    for (const auto& [name, e] : p.environments) std::printf("%s\n", name.c_str());
    return 0;
  }
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : p.tasks) {
      nlohmann::json creds = nlohmann::json::array();
      for (const auto& c : t.credentials) creds.push_back(c.name);
      out.push_back({{"name", t.name},
                     {"description", t.description},
                     {"environments", t.environments},
                     {"default_environment", t.default_environment},
                     {"credentials", creds},
                     {"sandbox", t.sandbox.enabled}});
    }
    PrintJson(out);
    return 0;
  }
  for (const auto& t : p.tasks) {
    std::string envs_text;
    for (const auto& e : t.environments) envs_text += (envs_text.empty() ? "" : ",") + e;
    std::printf("%-20s %-20s %s\n", t.name.c_str(), envs_text.empty() ? "-" : envs_text.c_str(),
                t.description.c_str());
  }
  return 0;
}

// "2026-11-22T17:43:00.123Z" → seconds since the epoch (0 when unparsable).
long long ParseTime(const std::string& s) {
  struct tm tm {};
  if (strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return 0;
  return static_cast<long long>(timegm(&tm));
}

int CmdAuditShow(const run::Paths& paths, const std::string& since, const std::string& run_id, bool json) {
  long long cutoff = 0;
  if (!since.empty()) {
    auto d = policy::ParseDuration(since);
    if (!d) {
      std::fprintf(stderr, "jitsec: error: --since: \"%s\" is not a duration (use 10m, 1h30m, 45s)\n", since.c_str());
      return kExitFailure;
    }
    cutoff = static_cast<long long>(std::time(nullptr)) - d->count();
  }
  auto records = audit::ReadAll(paths.audit_log);
  if (!records) {
    if (records.error().code() == ErrorCode::kNotFound) return 0;
    return Report(records.error());
  }
  for (const auto& r : *records) {
    if (cutoff != 0 && ParseTime(r.value("time", "")) < cutoff) continue;
    if (!run_id.empty() && r.value("run_id", "") != run_id) continue;
    if (json) {
      std::printf("%s\n", r.dump().c_str());
    } else {
      std::printf("%s\n", audit::FormatRecord(r).c_str());
    }
  }
  return 0;
}

int CmdDoctor(const Globals& g, const Environment& env, bool json) {
  auto d = run::Doctor(env, g.policy);
  if (!d) return Report(d.error());
  if (json) {
    PrintJson(*d);
    return 0;
  }
  const auto& k = (*d)["kernel"];
  std::printf("kernel %s\n", k.value("release", "?").c_str());
  for (auto& [key, v] : k.items()) {
    if (key == "release") continue;
    std::printf("  %-18s %s\n", key.c_str(), v.dump().c_str());
  }
  std::printf("jitsec will enforce\n");
  for (auto& [key, v] : (*d)["enforced"].items()) {
    std::printf("  %-18s %s\n", key.c_str(), v.get<std::string>().c_str());
  }
  std::printf("files\n");
  for (auto& [key, v] : (*d)["paths"].items()) {
    std::printf("  %-18s %s\n", key.c_str(), v.get<std::string>().c_str());
  }
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  // jitsec's own cryptography (base/crypto.h) calls OpenSSL's default provider directly: no
  // openssl.cnf to read and parse on every start, no teardown of OpenSSL's tables at exit (the
  // kernel frees the process), and no legacy name tables copied into the name map (EVP's
  // first fetch would do that). All three were visible in the start-up profile.
  (void)OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT |
                                OPENSSL_INIT_NO_ADD_ALL_CIPHERS | OPENSSL_INIT_NO_ADD_ALL_DIGESTS,
                            nullptr);
  ProcessEnvironment env;
  Globals g;
  CLI::App app{"jitsec — just-in-time secrets for one command, in a sandbox, masked, audited, revoked"};
  app.name("jitsec");
  app.set_version_flag("--version", std::string("jitsec ") + JITSEC_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  AddGlobals(&app, g);

  // One command's parser when the command line names it (NamedCommand), else all of them.
  const std::string_view only = NamedCommand(argc, argv);
  auto wanted = [only](std::string_view name) { return only.empty() || only == name; };
  auto parsed = [](const CLI::App* sub) { return sub != nullptr && sub->parsed(); };

  run::RunOptions ro;
  CLI::App* run_cmd = nullptr;
  if (wanted("run")) {
    run_cmd = app.add_subcommand("run", "Run a command with the task's credentials, in its sandbox");
    run_cmd->add_option("--task", ro.task, "Task name from the policy")->required()->type_name("NAME");
    run_cmd->add_option("--env", ro.environment, "Environment (else $JITSEC_ENV, else the task's default)")->type_name("ENV");
    run_cmd->add_flag("--dry-run", ro.dry_run, "Check the request and show the plan; issue and run nothing");
    run_cmd->add_flag("--no-mask", ro.no_mask, "Do not mask secrets in the command's output (recorded in the audit log)");
    run_cmd->add_option("command", ro.command, "The command and its arguments, after --")->required();
    run_cmd->positionals_at_end();
  }

  run::RunOptions eo;
  bool explain_json = false;
  CLI::App* explain_cmd = nullptr;
  if (wanted("explain")) {
    explain_cmd = app.add_subcommand("explain", "Show what run would do and why; issues nothing");
    explain_cmd->add_option("--task", eo.task, "Task name from the policy")->required()->type_name("NAME");
    explain_cmd->add_option("--env", eo.environment, "Environment")->type_name("ENV");
    explain_cmd->add_flag("--json", explain_json, "Machine-readable output");
    explain_cmd->add_option("command", eo.command, "The command that would run, after --");
    explain_cmd->positionals_at_end();
  }

  CLI::App* check_cmd = nullptr;
  if (wanted("check")) {
    check_cmd = app.add_subcommand("check", "Validate a policy; print every error as FILE:LINE:COL");
  }

  bool tasks_json = false, tasks_names = false, tasks_envs = false;
  CLI::App* tasks_cmd = nullptr;
  if (wanted("tasks")) {
    tasks_cmd = app.add_subcommand("tasks", "List the policy's tasks");
    tasks_cmd->add_flag("--json", tasks_json, "Machine-readable output");
    tasks_cmd->add_flag("--names", tasks_names, "Task names only, one per line (for completion)");
    tasks_cmd->add_flag("--environments", tasks_envs, "Environment names only, one per line (for completion)");
  }

  std::string secret_name;
  CLI::App *secret_cmd = nullptr, *secret_set = nullptr, *secret_list = nullptr, *secret_rm = nullptr;
  if (wanted("secret")) {
    secret_cmd = app.add_subcommand("secret", "Manage the embedded encrypted store");
    secret_cmd->require_subcommand(1);
    secret_set = secret_cmd->add_subcommand("set", "Store a secret read from standard input (or asked on the terminal)");
    secret_set->add_option("name", secret_name, "Secret name")->required();
    secret_list = secret_cmd->add_subcommand("list", "List secret names, one per line");
    secret_rm = secret_cmd->add_subcommand("rm", "Remove a secret");
    secret_rm->add_option("name", secret_name, "Secret name")->required();
  }

  bool leases_json = false;
  CLI::App *leases_cmd = nullptr, *leases_list = nullptr, *leases_sweep = nullptr;
  if (wanted("leases")) {
    leases_cmd = app.add_subcommand("leases", "Credentials issued and not yet revoked (from the journal)");
    leases_list = leases_cmd->add_subcommand("list", "List outstanding leases (the default)");
    leases_list->add_flag("--json", leases_json, "Machine-readable output");
    leases_sweep = leases_cmd->add_subcommand("sweep", "Revoke the leases whose run is gone");
  }

  std::string since, audit_run;
  bool audit_json = false;
  CLI::App *audit_cmd = nullptr, *audit_show = nullptr, *audit_verify = nullptr;
  if (wanted("audit")) {
    audit_cmd = app.add_subcommand("audit", "Read and verify the audit log");
    audit_cmd->require_subcommand(1);
    audit_show = audit_cmd->add_subcommand("show", "Print audit records");
    audit_show->add_option("--since", since, "Only records newer than this (10m, 1h30m)")->type_name("DUR");
    audit_show->add_option("--run", audit_run, "Only records of this run id")->type_name("ID");
    audit_show->add_flag("--json", audit_json, "One JSON object per line, as stored");
    audit_verify = audit_cmd->add_subcommand("verify", "Check the audit log's integrity chain");
  }

  bool doctor_json = false;
  CLI::App* doctor_cmd = nullptr;
  if (wanted("doctor")) {
    doctor_cmd = app.add_subcommand("doctor", "What this kernel supports and what jitsec will enforce");
    doctor_cmd->add_flag("--json", doctor_json, "Machine-readable output");
  }

  CLI::App* version_cmd = nullptr;
  if (wanted("version")) version_cmd = app.add_subcommand("version", "Version and build options");

  for (auto* sub : {run_cmd, explain_cmd, check_cmd, tasks_cmd, secret_cmd, leases_cmd, audit_cmd,
                    doctor_cmd, version_cmd, secret_set, secret_list, secret_rm, leases_list,
                    leases_sweep, audit_show, audit_verify}) {
    if (sub == nullptr) continue;
    sub->fallthrough();
    // A command's help lists only its own options; the global ones are accepted after it too.
    sub->footer("Global options: --policy FILE, -v/--verbose, -q/--quiet (see jitsec --help)");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own exit codes collide with 126/127: help and version exit 0, errors 125.
    if (e.get_exit_code() == 0) {
      app.exit(e);
      return 0;
    }
    std::fprintf(stderr, "jitsec: error: %s\n", e.what());
    std::fprintf(stderr, "Run with --help for more information.\n");
    return kExitFailure;
  }
  log::Init(g.quiet ? log::Verbosity::kQuiet
                    : g.verbose >= 2 ? log::Verbosity::kDebug
                    : g.verbose == 1 ? log::Verbosity::kVerbose
                                     : log::Verbosity::kNormal);

  if (parsed(run_cmd)) {
    ro.policy_flag = g.policy;
    if (ro.dry_run) {
      auto ex = run::Explain(ro, env);
      if (!ex) return Report(ex.error());
      std::printf("%s", ex->text.c_str());
      if (ex->allowed) return 0;
      // The plan goes to stdout; the refusal is also the one `jitsec:` line on stderr that run
      // prints (cli.md), so that a script sees the same reason either way.
      std::fflush(stdout);
      return Report(Error(ErrorCode::kPolicyRefused, ex->doc["decision"].value("reason", std::string())));
    }
    ro.caller_exits_next = true;  // jitsec exits right after (RunOptions says what that spares)
    auto status = run::Run(ro, env);
    if (!status) return Report(status.error());
    return *status;
  }
  if (parsed(explain_cmd)) {
    eo.policy_flag = g.policy;
    if (eo.command.empty()) eo.command = {"true"};
    auto ex = run::Explain(eo, env);
    if (!ex) return Report(ex.error());
    if (explain_json) {
      PrintJson(ex->doc);
    } else {
      std::printf("%s", ex->text.c_str());
    }
    return ex->allowed ? 0 : 1;
  }
  if (parsed(check_cmd)) return CmdCheck(g, env);
  if (parsed(tasks_cmd)) return CmdTasks(g, env, tasks_json, tasks_names, tasks_envs);
  if (parsed(doctor_cmd)) return CmdDoctor(g, env, doctor_json);
  if (parsed(version_cmd)) {
    std::printf("jitsec %s\n", JITSEC_VERSION);
#ifdef JITSEC_SANITIZERS
    std::printf("build: sanitizers on\n");
#else
    std::printf("build: release hardening (PIE, RELRO, stack protector, FORTIFY)\n");
#endif
    return 0;
  }

  auto paths = run::ResolvePaths(g.policy, env);
  if (!paths) return Report(paths.error());
  if (parsed(secret_cmd)) {
    if (parsed(secret_set)) {
      auto st = run::SecretSet(*paths, secret_name, ::isatty(0) != 0);
      if (!st) return Report(st.error());
      if (!g.quiet) std::fprintf(stderr, "jitsec: stored secret %s\n", secret_name.c_str());
      return 0;
    }
    if (parsed(secret_list)) {
      auto names = run::SecretList(*paths);
      if (!names) return Report(names.error());
      for (const auto& n : *names) std::printf("%s\n", n.c_str());
      return 0;
    }
    auto st = run::SecretRemove(*paths, secret_name);
    if (!st) return Report(st.error());
    return 0;
  }
  if (parsed(leases_cmd)) {
    if (parsed(leases_sweep)) {
      auto rep = run::LeasesSweep(*paths, env);
      if (!rep) return Report(rep.error());
      for (const auto& e : rep->errors) std::fprintf(stderr, "jitsec: error: %s\n", e.c_str());
      std::printf("revoked %d, failed %d, skipped %d of live runs\n", rep->revoked, rep->failed, rep->skipped_live);
      return rep->failed > 0 ? 1 : 0;
    }
    auto list = run::LeasesList(*paths);
    if (!list) return Report(list.error());
    if (leases_json) {
      PrintJson(*list);
    } else {
      for (const auto& l : *list) {
        std::printf("%s  %-8s %-10s %-12s %-16s run %s%s\n", l["lease"].get<std::string>().c_str(),
                    l["state"].get<std::string>().c_str(), l["task"].get<std::string>().c_str(),
                    l["credential"].get<std::string>().c_str(), l["provider"].get<std::string>().c_str(),
                    l["run_id"].get<std::string>().c_str(), l["run_alive"].get<bool>() ? " (running)" : " (gone)");
      }
    }
    return 0;
  }
  if (parsed(audit_cmd)) {
    if (parsed(audit_show)) return CmdAuditShow(*paths, since, audit_run, audit_json);
    auto rep = audit::Verify(paths->audit_log, paths->audit_key);
    if (!rep) return Report(rep.error());
    if (rep->ok) {
      std::printf("audit log ok: %zu records, chain intact (%s)\n", rep->records, paths->audit_log.c_str());
      return 0;
    }
    std::printf("audit log FAILED verification: %s (%s)\n", rep->problem.c_str(), paths->audit_log.c_str());
    return 1;
  }
  return kExitFailure;
}

}  // namespace jitsec::cli
