// The `jitsec run` pipeline and the other commands that need more than one module (explain,
// leases, secret). The only module that knows all others; owns the LeaseSet of a run.
// Parent side. Returns Result; never exits (cli::Main turns errors into exit statuses).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/environment.h"
#include "base/error.h"

namespace jitsec::run {

struct RunOptions {
  std::string task;
  std::string environment;  // --env (else $JITSEC_ENV, else the task's default)
  std::string policy_flag;  // --policy (else discovery)
  bool dry_run = false;
  bool no_mask = false;
  std::vector<std::string> command;
  // The caller exits right after Run (the CLI). Two waits at the end of a run are then left to
  // finish after jitsec's exit instead of delaying the command's status: a sandbox init reports
  // the command's exit once every process of its namespace is dead, and its own exit then tears
  // the namespaces down (about a millisecond), which the kernel finishes (the exiting init is
  // reparented and reaped by the system); and the audit log's fdatasync is done by a helper that
  // holds the log's lock until the disk has the records (AuditLog::SyncDetached; not with
  // `settings.audit.sync: wait`). A long-lived caller keeps the default: Run reaps the init
  // and syncs the log itself.
  bool caller_exits_next = false;
};

// Where jitsec keeps its files for this invocation (settings of the policy, else XDG defaults).
struct Paths {
  std::filesystem::path policy;
  std::filesystem::path config_dir;
  std::filesystem::path store_dir;
  std::filesystem::path store_key;
  std::filesystem::path state_dir;
  std::filesystem::path audit_log;
  std::filesystem::path audit_key;
  bool audit_syslog = false;  // settings.audit.syslog
};

// Runs the command; returns the exit status `jitsec run` must exit with (the command's own,
// 128+N, 124; 126/127 arrive as errors with kCommandNotExecutable/kCommandNotFound).
[[nodiscard]] Result<int> Run(const RunOptions& options, const Environment& env);

// What run would do and why; issues nothing. `allowed` false carries the refusal.
struct Explanation {
  bool allowed = false;
  nlohmann::json doc;  // the full explanation (--json prints it)
  std::string text;    // the same for people
};
[[nodiscard]] Result<Explanation> Explain(const RunOptions& options, const Environment& env);

// Paths for commands that do not run a task (secret, leases, audit). A missing policy file is
// fine (defaults); a policy that exists but is invalid or untrusted is an error.
[[nodiscard]] Result<Paths> ResolvePaths(const std::string& policy_flag, const Environment& env);

// jitsec secret set/list/rm.
[[nodiscard]] Status SecretSet(const Paths& paths, const std::string& name, bool from_tty);
[[nodiscard]] Result<std::vector<std::string>> SecretList(const Paths& paths);
[[nodiscard]] Status SecretRemove(const Paths& paths, const std::string& name);

// jitsec leases list / sweep. Sweep revokes the leases whose run is provably gone.
[[nodiscard]] Result<nlohmann::json> LeasesList(const Paths& paths);
struct SweepReport {
  int revoked = 0;
  int failed = 0;
  int skipped_live = 0;
  std::vector<std::string> errors;
};
[[nodiscard]] Result<SweepReport> LeasesSweep(const Paths& paths, const Environment& env);

// jitsec doctor: what the kernel supports and what jitsec will enforce, and where jitsec keeps
// its files under the policy `policy_flag` (--policy; else discovery), as ResolvePaths.
[[nodiscard]] Result<nlohmann::json> Doctor(const Environment& env, const std::string& policy_flag = "");

}  // namespace jitsec::run
