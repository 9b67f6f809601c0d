#include "run/decide.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/unique_fd.h"

namespace jitsec::run {
namespace {

std::string JoinOr(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += (i + 1 == v.size()) ? " or " : ", ";
    out += v[i];
  }
  return out;
}

bool AnyGlob(const std::vector<std::string>& globs, const std::string& value) {
  return std::any_of(globs.begin(), globs.end(),
                     [&](const std::string& g) { return context::GlobMatch(g, value); });
}

Decision Refuse(Decision d, std::string rule, std::string reason) {
  d.allowed = false;
  d.rule = std::move(rule);
  d.reason = std::move(reason);
  return d;
}

}  // namespace

std::string CheckWhen(const std::string& env_name, const policy::WhenClause& when,
                      const context::RunContext& ctx) {
  std::string env = "environment \"" + env_name + "\"";
  if (when.ci && *when.ci != ctx.ci) {
    return *when.ci ? env + " requires a CI run (no CI system detected)"
                    : env + " may not run under CI (detected " + ctx.ci_system + ")";
  }
  if (!when.branch.empty()) {
    std::string branch = ctx.git ? ctx.git->branch : "";
    if (branch.empty() || !AnyGlob(when.branch, branch)) {
      return env + " requires branch " + JoinOr(when.branch) + " (current: " +
             (ctx.git ? (branch.empty() ? "detached HEAD" : branch) : "not a git repository") + ")";
    }
  }
  if (!when.repo.empty()) {
    std::string repo = ctx.git ? ctx.git->origin : "";
    if (repo.empty() || !AnyGlob(when.repo, repo)) {
      return env + " requires repository " + JoinOr(when.repo) + " (current: " +
             (repo.empty() ? "no origin" : repo) + ")";
    }
  }
  if (!when.user.empty() &&
      std::find(when.user.begin(), when.user.end(), ctx.user) == when.user.end()) {
    return env + " requires user " + JoinOr(when.user) + " (current: " + ctx.user + ")";
  }
  return "";
}

Result<Decision> Decide(const policy::Policy& policy, const std::string& task_name,
                        const std::string& requested_env, const std::string& env_source,
                        const std::vector<std::string>& command, const context::RunContext& ctx) {
  Decision d;
  d.task = policy.FindTask(task_name);
  if (d.task == nullptr) {
    std::vector<std::string> names;
    for (const auto& t : policy.tasks) names.push_back(t.name);
    return Fail(ErrorCode::kPolicyRefused, "no task \"" + task_name + "\" in " + policy.file.string() +
                                               " (tasks: " + JoinOr(names) + ")");
  }
  const policy::Task& task = *d.task;

  // Environment. $JITSEC_ENV is often exported job-wide for the tasks that have environments: a
  // task that declares none ignores it (an explicit --env for such a task is still refused).
  const bool ignored = task.environments.empty() && env_source == "JITSEC_ENV";
  if (!requested_env.empty() && !ignored) {
    d.environment = requested_env;
    d.environment_source = env_source;
  } else if (!task.default_environment.empty()) {
    d.environment = task.default_environment;
    d.environment_source = "default_environment";
  }
  if (task.environments.empty()) {
    if (!d.environment.empty()) {
      return Refuse(std::move(d), "environments",
                    "task \"" + task.name + "\" runs without an environment (got \"" +
                        requested_env + "\" from " + env_source + ")");
    }
  } else {
    if (d.environment.empty()) {
      return Refuse(std::move(d), "environments",
                    "task \"" + task.name + "\" needs an environment: --env " + JoinOr(task.environments));
    }
    if (std::find(task.environments.begin(), task.environments.end(), d.environment) ==
        task.environments.end()) {
      std::string env = d.environment;
      return Refuse(std::move(d), "environments",
                    "task \"" + task.name + "\" may not run in environment \"" + env +
                        "\" (allowed: " + JoinOr(task.environments) + ")");
    }
    auto eit = policy.environments.find(d.environment);
    if (eit == policy.environments.end()) {
      return Fail(ErrorCode::kPolicyInvalid, "environment \"" + d.environment + "\" is not defined");
    }
    d.environment_config = &eit->second;
    std::string why = CheckWhen(d.environment, eit->second.when, ctx);
    if (!why.empty()) return Refuse(std::move(d), "when", why);
    d.needs_approval = eit->second.approval == policy::Approval::kTty;
  }

  // Command.
  if (command.empty()) return Fail(ErrorCode::kInvalidArgument, "no command given after --");
  auto path_var = ctx.env.count("PATH") ? ctx.env.at("PATH") : std::string("/usr/bin:/bin");
  JITSEC_ASSIGN_OR_RETURN(d.command_path, context::ResolveCommand(command[0], path_var, ctx.cwd));
  if (task.commands) {
    std::string written = std::filesystem::path(command[0]).filename().string();
    for (const auto& entry : *task.commands) {
      bool match = false;
      if (entry.rfind("./", 0) == 0 || entry.rfind("../", 0) == 0) {
        std::string abs = (ctx.workspace() / entry).lexically_normal().string();
        match = context::GlobMatch(abs, d.command_path.string(), true);
      } else if (entry.find('/') != std::string::npos) {
        match = context::GlobMatch(entry, d.command_path.string(), true);
      } else {
        match = context::GlobMatch(entry, written) ||
                context::GlobMatch(entry, d.command_path.filename().string());
      }
      if (match) {
        d.matched_command = entry;
        break;
      }
    }
    if (d.matched_command.empty()) {
      std::string cmd = d.command_path.string();
      return Refuse(std::move(d), "commands",
                    "denied by policy: command " + cmd + " is not allowed for task \"" + task.name +
                        "\" (commands: " + JoinOr(*task.commands) + ")");
    }
  }
  d.allowed = true;
  return d;
}

bool TtyApprover(const std::string& prompt, std::string* why_not) {
  UniqueFd tty(::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (!tty) {
    *why_not = "approval required but there is no terminal to ask on (/dev/tty)";
    return false;
  }
  std::string q = "jitsec: " + prompt + " [y/N] ";
  if (::write(tty.get(), q.data(), q.size()) < 0) {
    *why_not = "approval required but the terminal cannot be written";
    return false;
  }
  char buf[64];
  ssize_t n;
  do {
    n = ::read(tty.get(), buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  std::string answer = n > 0 ? std::string(buf, size_t(n)) : "";
  while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.pop_back();
  if (answer == "y" || answer == "Y" || answer == "yes" || answer == "YES" || answer == "Yes") return true;
  *why_not = "not approved at the terminal";
  return false;
}

}  // namespace jitsec::run
