// The policy decision for one request: task, environment, `when`, approval, command. Pure
// except for the approval prompt, which goes through the Approver seam. Parent side.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "context/context.h"
#include "policy/policy.h"

namespace jitsec::run {

struct Decision {
  bool allowed = false;
  std::string reason;           // why refused (one line), or "" when allowed
  std::string rule;             // which rule decided: "environments", "when.branch", "commands", ...
  const policy::Task* task = nullptr;
  std::string environment;      // chosen environment ("" for none)
  std::string environment_source;  // "--env", "JITSEC_ENV", "default_environment", ""
  const policy::EnvironmentConfig* environment_config = nullptr;
  std::filesystem::path command_path;  // resolved
  std::string matched_command;         // the `commands` entry that matched ("" if any allowed)
  bool needs_approval = false;
};

// Asks the person at the terminal; returns true when approved. Absent terminal → false + reason.
using Approver = std::function<bool(const std::string& prompt, std::string* why_not)>;

// Evaluates everything but approval. `requested_env`/`env_source` are the --env/JITSEC_ENV
// choice (may be empty); a task without environments ignores one from "JITSEC_ENV" and refuses
// one from "--env". Command resolution failures are returned as errors (126/127).
[[nodiscard]] Result<Decision> Decide(const policy::Policy& policy, const std::string& task_name,
                                      const std::string& requested_env, const std::string& env_source,
                                      const std::vector<std::string>& command,
                                      const context::RunContext& ctx);

// Checks `when` of an environment; returns "" when satisfied, else the reason.
std::string CheckWhen(const std::string& env_name, const policy::WhenClause& when,
                      const context::RunContext& ctx);

// Asks on /dev/tty.
bool TtyApprover(const std::string& prompt, std::string* why_not);

}  // namespace jitsec::run
