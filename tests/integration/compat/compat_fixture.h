// Shared fixture of the compat tests: a self-contained jitsec home, a workspace below it, a
// policy file named by JITSEC_POLICY, and a helper that runs the built jitsec with the DEFAULT
// sandbox (only the keys a test adds differ from the defaults). Test side only.
#pragma once

#include "support/support.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace jitsec::testing {

// The tool's path in the PATH jitsec passes to the command (JitsecHome's PATH), or "".
inline std::string FindTool(const std::string& name) {
  for (const char* dir : {"/usr/local/bin", "/usr/bin", "/bin"}) {
    std::string p = std::string(dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) {
      return p;
    }
  }
  return "";
}

class SandboxedRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The default sandbox needs all three layers (BuildPlan refuses otherwise).
    JITSEC_SKIP_UNLESS(Feature::kDefaultSandbox);
    workspace_ = home_.dir.path() / "work";
    std::filesystem::create_directories(workspace_);
  }

  std::map<std::string, std::string> Env() const {
    auto env = home_.Env();
    env["JITSEC_POLICY"] = (home_.dir.path() / "policy.yaml").string();
    return env;
  }

  // A task "t" with the default sandbox; `sandbox` holds extra "    sandbox:" lines, if any.
  void WritePolicy(const std::string& sandbox = "") {
    WriteTextFile(home_.dir.path() / "policy.yaml",
                  "version: 1\n"
                  "tasks:\n"
                  "  t:\n"
                  "    description: compat test task\n"
                  "    max_duration: 2m\n" +
                      sandbox,
                  0600);
  }

  // Makes the workspace a git repository (`git init`), as an agent's workspace usually is, so
  // that the default `protect` entries (.git/hooks, .git/config) apply.
  // Returns false (with a failure recorded) when git is missing or fails.
  bool InitGitRepository() {
    RunOptions o;
    o.env = home_.Env();
    o.cwd = workspace_;
    auto init = RunProcess({FindTool("git"), "init", "-q", "-b", "main", "."}, o);
    EXPECT_EQ(init.status, 0) << "git init: " << init.err;
    return init.status == 0;
  }

  // `jitsec run --task t -- argv...` from the workspace.
  ProcessResult Run(const std::vector<std::string>& argv, const std::string& stdin_data = "") {
    std::vector<std::string> args{"run", "--task", "t", "--"};
    args.insert(args.end(), argv.begin(), argv.end());
    RunOptions o;
    o.env = Env();
    o.cwd = workspace_;
    o.stdin_data = stdin_data;
    o.timeout_seconds = 120;
    return RunJitsec(args, o);
  }

  JitsecHome home_;
  std::filesystem::path workspace_;
};

}  // namespace jitsec::testing
