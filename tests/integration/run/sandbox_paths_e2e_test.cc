// `jitsec run` with the home directory as the writable workspace: jitsec's own policy, config,
// store, keys and state are out of the command's reach (security.md, invariant 3), through the
// run's own wiring of those paths into the sandbox, and renaming their parents does not free
// their names for files of the command's choosing. The default deny list hides credential
// stores, and the shell's start-up files stay read-only.
#include <sys/stat.h>

#include "support/support.h"

namespace jitsec::testing {
namespace {

namespace fs = std::filesystem;

class SandboxPathsE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    JITSEC_SKIP_UNLESS(Feature::kDefaultSandbox);
    env_ = home_.Env();
    homedir_ = env_["HOME"];
    canary_ = MakeCanary("paths");
    fs::create_directories(home_.config());
    policy_ = home_.config() / "policy.yaml";  // found by the default lookup
    WriteTextFile(policy_,
                  "version: 1\n"
                  "tasks:\n"
                  "  t:\n"
                  "    description: home as the workspace\n" +
                      SandboxWithHelpersYaml() +
                      "    credentials:\n"
                      "      TOKEN:\n"
                      "        provider: store\n"
                      "        secret: tok\n"
                      "        deliver:\n"
                      "          - file: {env: TOKEN_FILE}\n",
                  0600);
    auto r = Run({"secret", "set", "tok"}, canary_);
    ASSERT_EQ(r.status, 0) << r.err;
    // A first run creates the state directory, audit log and key.
    auto first = Run({"run", "--task", "t", "--", "/bin/true"});
    ASSERT_EQ(first.status, 0) << first.err;
    WriteTextFile(fs::path(homedir_) / ".bashrc", "# rc\n", 0644);
    fs::create_directories(fs::path(homedir_) / ".ssh");
    WriteTextFile(fs::path(homedir_) / ".ssh" / "id_ed25519", "PRIVATE KEY\n", 0600);
  }

  ProcessResult Run(const std::vector<std::string>& args, const std::string& stdin_data = "") {
    RunOptions o;
    o.env = env_;
    o.cwd = homedir_;  // no git repository: the workspace is the current directory, the home
    o.stdin_data = stdin_data;
    return RunJitsec(args, o);
  }

  // Snapshot of every regular file below the jitsec directories: path -> content.
  std::map<std::string, std::string> JitsecFiles() const {
    std::map<std::string, std::string> out;
    for (const fs::path& root : {home_.config(), home_.data(), home_.state()}) {
      for (const auto& e : fs::recursive_directory_iterator(root)) {
        if (e.is_regular_file()) out[e.path().string()] = ReadTextFile(e.path());
      }
    }
    return out;
  }

  JitsecHome home_;
  std::map<std::string, std::string> env_;
  std::string homedir_;
  fs::path policy_;
  std::string canary_;
};

TEST_F(SandboxPathsE2ETest, JitsecsOwnFilesAreOutOfReachAndTheirParentsCannotBeMoved) {
  const auto before = JitsecFiles();
  // Each attempt prints its name only if it succeeded.
  const std::string script =
      "try() { name=$1; shift; \"$@\" 2>/dev/null && echo \"$name\"; }\n"
      "try write-policy sh -c 'echo version: 1 > .config/jitsec/policy.yaml'\n"
      "try new-config sh -c 'echo x > .config/jitsec/new'\n"
      "try write-audit sh -c 'echo x >> .local/state/jitsec/audit.jsonl'\n"
      "try new-store sh -c 'echo x > .local/share/jitsec/store/new.secret'\n"
      "try read-store-key cat .config/jitsec/store.key\n"
      "try read-audit-key cat .config/jitsec/audit.key\n"
      "try list-store ls .local/share/jitsec/store\n"
      "for d in .config .config/jitsec .local .local/share .local/state .local/share/jitsec "
      ".local/state/jitsec; do try \"move-$d\" mv \"$d\" \"$d.moved\"; try \"rmdir-$d\" rmdir "
      "\"$d\"; done\n"
      "try write-bashrc sh -c 'echo evil >> .bashrc'\n"
      "try move-bashrc mv .bashrc bashrc.moved\n"
      "try read-ssh-key cat .ssh/id_ed25519\n"
      "echo done\n";
  auto r = Run({"run", "--task", "t", "--", "/bin/sh", "-c", script});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "done\n") << r.err;
  EXPECT_EQ(JitsecFiles().size(), before.size());
  for (const auto& [path, content] : before) {
    if (path.ends_with("audit.jsonl") || path.ends_with("audit.jsonl.head")) continue;  // the run's records
    auto now = JitsecFiles();
    EXPECT_EQ(now[path], content) << path;
  }
  EXPECT_EQ(ReadTextFile(fs::path(homedir_) / ".bashrc"), "# rc\n");
  for (const char* d : {".config.moved", ".local.moved", "bashrc.moved"}) {
    EXPECT_FALSE(fs::exists(fs::path(homedir_) / d)) << d;
  }
  ExpectNoCanary(r.out + r.err, canary_, "the run's output");
  // Nowhere on disk either but encrypted in the store: state, config, keys, the home.
  ExpectNoCanaryInTree(home_.dir.path(), canary_);
}

}  // namespace
}  // namespace jitsec::testing
