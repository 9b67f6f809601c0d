// Test support shared by unit and integration tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace jitsec::testing {

// A temporary directory (0700) removed with everything below it at scope exit.
class ScopedTempDir {
 public:
  ScopedTempDir();
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

void WriteTextFile(const std::filesystem::path& p, std::string_view text, int mode = 0600);
std::string ReadTextFile(const std::filesystem::path& p);

struct ProcessResult {
  int status = -1;  // exit status, or 128+N for a signal
  std::string out;
  std::string err;
};

// An environment for execve: "NAME=value" strings and the null-terminated array pointing at them.
class EnvBlock {
 public:
  explicit EnvBlock(const std::map<std::string, std::string>& env) {
    for (const auto& [k, v] : env) strings_.push_back(k + "=" + v);
    for (auto& e : strings_) ptrs_.push_back(e.data());
    ptrs_.push_back(nullptr);
  }
  EnvBlock(const EnvBlock&) = delete;
  EnvBlock& operator=(const EnvBlock&) = delete;
  char** data() { return ptrs_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> ptrs_;
};

struct RunOptions {
  std::map<std::string, std::string> env;  // the complete environment of jitsec
  std::string stdin_data;
  std::filesystem::path cwd;
  int timeout_seconds = 60;
  // Descriptors the program inherits besides 0, 1 and 2: target number (3..255) -> a descriptor
  // of the calling process (which may be CLOEXEC there); the target is left without FD_CLOEXEC,
  // as a careless caller of jitsec would leave it.
  std::map<int, int> inherited_fds;
};

// Runs a program (no shell) with the given environment, collecting stdout and stderr.
ProcessResult RunProcess(const std::vector<std::string>& argv, const RunOptions& options);
// Runs the built jitsec binary.
ProcessResult RunJitsec(const std::vector<std::string>& args, const RunOptions& options);
std::string JitsecBinary();
std::string Helper(std::string_view name);  // path of a probe program in tests/helpers
// The directory of the probe programs. A sandboxed test must add it to the sandbox's read trees:
// when the build tree lives below /tmp (a CI clone in a temp dir), the default private /tmp
// hides it.
std::string HelpersDir();
// `sandbox:` YAML for a task (4-space indent) with the default settings plus HelpersDir() readable.
std::string SandboxWithHelpersYaml();

// A self-contained jitsec home: HOME, XDG dirs, store key, state, all below one temp dir.
struct JitsecHome {
  ScopedTempDir dir;
  std::map<std::string, std::string> Env() const;  // HOME, XDG_*, PATH, LANG, JITSEC_STORE_KEY_FILE
  std::filesystem::path state() const;             // XDG_STATE_HOME/jitsec
  std::filesystem::path config() const;            // XDG_CONFIG_HOME/jitsec
  std::filesystem::path data() const;              // XDG_DATA_HOME/jitsec
};

// Syslog, captured for real: runs `body` in a child process that has a user and mount namespace
// of its own, a tmpfs over /dev with the host's /dev/null bound into it (parked meanwhile on a
// file below `scratch`), and a datagram socket of its own bound at /dev/log, then collects what
// syslog(3) sent there. `body` returns 0, or a code of its own (>= 20) for the step that failed.
// Needs unprivileged user namespaces (JITSEC_SKIP_UNLESS(Feature::kUserNamespaces) first).
struct SyslogCapture {
  int status = -1;                    // the child's exit status: 0, a set-up step (1-9) or body's
  std::vector<std::string> messages;  // as received, e.g. "<86>Nov 23 12:00:00 jitsec[42]: text"
};
SyslogCapture CaptureSyslog(const std::filesystem::path& scratch, const std::function<int()>& body);
// The text of a message as syslog(3) formats it ("<PRI>Mmm dd hh:mm:ss ident[pid]: text"), when
// its priority is `priority` and its ident `ident`; nullopt otherwise.
std::optional<std::string> SyslogText(const std::string& message, int priority,
                                      std::string_view ident);

// Canary checks: a recognisable secret value and its encodings.
std::string MakeCanary(std::string_view tag);  // "JITSEC-CANARY-<tag>-<random hex>"
// Raw, hex, and base64 (std/url): the whole encoding, plus for each byte offset of the canary
// within a 3-byte group (0, 1, 2) the characters that do not depend on the neighbouring bytes,
// so that a canary embedded at any offset of a longer base64 text is found.
std::vector<std::string> CanaryForms(std::string_view canary);
// The first form of the canary that occurs in `haystack`, or nullopt.
std::optional<std::string> FindCanary(std::string_view haystack, std::string_view canary);
// Fails the current test if any form of the canary occurs in `haystack`; `where` names it.
void ExpectNoCanary(std::string_view haystack, std::string_view canary, std::string_view where);
// Scans every regular file below `root` (following no links).
void ExpectNoCanaryInTree(const std::filesystem::path& root, std::string_view canary);

// Kernel features for JITSEC_SKIP_UNLESS.
enum class Feature {
  kUserNamespaces,
  kLandlock,
  kSeccomp,
  kMemfdSeal,
  kPostgres,
  kPty,
  kLandlockScopes,  // Landlock ABI 6: signal and abstract unix socket scoping
  kTiocsti,         // TIOCSTI on one's own controlling terminal works (dev.tty.legacy_tiocsti)
  kDefaultSandbox,  // every layer the default sandbox needs: user namespaces, Landlock, seccomp
};
bool HasFeature(Feature f);
std::string FeatureName(Feature f);

// True when JITSEC_SANDBOX_MUST_WORK=1: a missing feature is then a failure, never a skip.
bool SandboxMustWork();

// For a test with several parts of which one needs a feature (a loop over sandboxed and not):
// true when the feature is present. When it is missing, records a failure under
// JITSEC_SANDBOX_MUST_WORK=1 (as JITSEC_SKIP_UNLESS does), or says on stdout that this part is
// skipped, and returns false.
bool HasFeatureForPart(Feature f);

}  // namespace jitsec::testing

// Skips the test with a reason when the feature is missing; fails instead when
// JITSEC_SANDBOX_MUST_WORK=1 (CI on a machine that supports it).
#define JITSEC_SKIP_UNLESS(feature)                                                         \
  do {                                                                                      \
    if (!::jitsec::testing::HasFeature(feature)) {                                          \
      if (::jitsec::testing::SandboxMustWork()) {                                            \
        FAIL() << "required feature missing: " << ::jitsec::testing::FeatureName(feature);  \
      }                                                                                     \
      GTEST_SKIP() << "feature not available here: " << ::jitsec::testing::FeatureName(feature); \
    }                                                                                       \
  } while (0)
