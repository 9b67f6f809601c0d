// Shared by the sandbox tests (one binary): the kernel's features, probed once per process, and a
// workspace T/ws below a private temp dir whose protected paths exist (no warnings), writable
// inside the default plan, prepared on demand.
#pragma once

#include <sys/stat.h>

#include <filesystem>

#include "sandbox/sandbox.h"
#include "support/support.h"

namespace jitsec::sandbox::testing {

inline const KernelFeatures& TestKernel() {
  static const KernelFeatures k = *ProbeKernel("");
  return k;
}

struct TestWorkspace {
  ::jitsec::testing::ScopedTempDir tmp;
  std::filesystem::path ws = tmp / "ws";
  policy::SandboxConfig config;
  PlanInputs inputs;

  explicit TestWorkspace(bool sandboxed = true) {
    std::filesystem::create_directories(ws / ".git" / "hooks");
    ::jitsec::testing::WriteTextFile(ws / ".git" / "config", "", 0644);
    config.enabled = sandboxed;
    config.write = {"."};
    inputs.workspace = ws;
    inputs.home = tmp.path();
    ::chmod(tmp.path().c_str(), 0755);  // reachable after a drop to nobody
  }

  Result<PreparedSandbox> Prepared() const {
    JITSEC_ASSIGN_OR_RETURN(SandboxPlan plan, BuildPlan(config, inputs, TestKernel()));
    return Prepare(plan, TestKernel());
  }
};

}  // namespace jitsec::sandbox::testing
