// BuildPlan and BuildMountPlan: pure, no kernel. The mount planner sees a fake file system.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "sandbox/mount_plan.h"
#include "sandbox/sandbox.h"
#include "support/support.h"

namespace jitsec::sandbox {
namespace {
namespace fs = std::filesystem;

KernelFeatures FullKernel() {
  KernelFeatures k;
  k.release = "6.18.0-test";
  k.user_namespaces = true;
  k.landlock_abi = 6;
  k.seccomp_filter = true;
  k.memfd_seal = true;
  k.pidfd = true;
  k.clone3 = true;
  return k;
}

PlanInputs Inputs() {
  PlanInputs in;
  in.workspace = "/home/ann/proj";
  in.home = "/home/ann";
  return in;
}

std::vector<std::string> Strings(const std::vector<fs::path>& v) {
  std::vector<std::string> out;
  for (const auto& p : v) out.push_back(p.string());
  return out;
}

// The default protect entries are inside .git: a workspace without one gets none of them (its
// top level would be frozen for nothing), with a warning; an explicit list always applies.
TEST(SandboxBuildPlanTest, DefaultProtectEntriesApplyOnlyToAWorkspaceWithDotGit) {
  PlanInputs in = Inputs();
  in.workspace_has_dot_git = false;
  policy::SandboxConfig defaults;
  auto plan = BuildPlan(defaults, in, FullKernel());
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_TRUE(plan->protect.empty());
  EXPECT_EQ(plan->warnings, (std::vector<std::string>{
                                "the workspace is not a git repository: the default protect "
                                "entries (.git/hooks, .git/config) do not apply"}));

  in.workspace_has_dot_git = true;
  plan = BuildPlan(defaults, in, FullKernel());
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(Strings(plan->protect),
            (std::vector<std::string>{"/home/ann/proj/.git/hooks", "/home/ann/proj/.git/config"}));
  EXPECT_TRUE(plan->warnings.empty());

  in.workspace_has_dot_git = false;
  policy::SandboxConfig stated;
  stated.protect = {".git/hooks", ".git/config"};
  stated.protect_explicit = true;
  plan = BuildPlan(stated, in, FullKernel());
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(Strings(plan->protect),
            (std::vector<std::string>{"/home/ann/proj/.git/hooks", "/home/ann/proj/.git/config"}));
  EXPECT_TRUE(plan->warnings.empty());
}

TEST(SandboxBuildPlanTest, ResolvesDotHomeAndRelativePaths) {
  policy::SandboxConfig c;
  c.read = {"/", "~/notes", "docs/../docs/"};
  c.write = {".", "/tmp", "build/out/"};
  c.deny = {"~/.ssh", "~", "~/.aws/"};
  c.protect = {".git/hooks", "./.git/config"};
  auto plan = BuildPlan(c, Inputs(), FullKernel());
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(Strings(plan->read),
            (std::vector<std::string>{"/", "/home/ann/notes", "/home/ann/proj/docs"}));
  EXPECT_EQ(Strings(plan->write),
            (std::vector<std::string>{"/home/ann/proj", "/tmp", "/home/ann/proj/build/out"}));
  EXPECT_EQ(Strings(plan->deny),
            (std::vector<std::string>{"/home/ann/.ssh", "/home/ann", "/home/ann/.aws"}));
  EXPECT_EQ(Strings(plan->protect),
            (std::vector<std::string>{"/home/ann/proj/.git/hooks", "/home/ann/proj/.git/config"}));
  EXPECT_TRUE(plan->enabled);
  EXPECT_EQ(plan->landlock_abi, 6);
  EXPECT_TRUE(plan->seccomp);
  EXPECT_TRUE(plan->warnings.empty());
}

TEST(SandboxBuildPlanTest, DropsDuplicatesAndLetsWritesWinOverReads) {
  policy::SandboxConfig c;
  c.read = {"/", ".", "/home/ann/proj/", "/usr", "/usr/"};
  c.write = {".", "/home/ann/proj"};
  auto plan = BuildPlan(c, Inputs(), FullKernel());
  ASSERT_TRUE(plan);
  EXPECT_EQ(Strings(plan->read), (std::vector<std::string>{"/", "/usr"}));
  EXPECT_EQ(Strings(plan->write), (std::vector<std::string>{"/home/ann/proj"}));
}

TEST(SandboxBuildPlanTest, CarriesJitsecPathsAndSecretMounts) {
  PlanInputs in = Inputs();
  in.jitsec_readonly = {"/home/ann/.config/jitsec/", "/home/ann/.config/jitsec"};
  in.jitsec_hidden = {"/home/ann/.local/share/jitsec/store"};
  in.secret_mounts = {{"/run/secrets//db", 5}};
  auto plan = BuildPlan(policy::SandboxConfig{}, in, FullKernel());
  ASSERT_TRUE(plan);
  EXPECT_EQ(Strings(plan->jitsec_readonly), (std::vector<std::string>{"/home/ann/.config/jitsec"}));
  EXPECT_EQ(Strings(plan->jitsec_hidden),
            (std::vector<std::string>{"/home/ann/.local/share/jitsec/store"}));
  ASSERT_EQ(plan->secret_mounts.size(), 1U);
  EXPECT_EQ(plan->secret_mounts[0].target, "/run/secrets/db");
  EXPECT_EQ(plan->secret_mounts[0].fd_target, 5);
}

TEST(SandboxBuildPlanTest, RefusesWithoutUserNamespacesInOneLine) {
  KernelFeatures k = FullKernel();
  k.user_namespaces = false;
  auto plan = BuildPlan(policy::SandboxConfig{}, Inputs(), k);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(plan.error().message(),
            "sandbox requires unprivileged user namespaces, which this kernel does not allow "
            "(see jitsec doctor); set sandbox.enabled: false in the task to run without");
}

TEST(SandboxBuildPlanTest, RefusesWithoutLandlockOrSeccomp) {
  KernelFeatures k = FullKernel();
  k.landlock_abi = 0;
  auto plan = BuildPlan(policy::SandboxConfig{}, Inputs(), k);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(plan.error().message(),
            "sandbox requires Landlock, which this kernel does not offer (see jitsec doctor); "
            "set sandbox.enabled: false in the task to run without");
  k = FullKernel();
  k.seccomp_filter = false;
  plan = BuildPlan(policy::SandboxConfig{}, Inputs(), k);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message(),
            "sandbox requires seccomp filters, which this kernel does not offer (see jitsec "
            "doctor); set sandbox.enabled: false in the task to run without");
}

TEST(SandboxBuildPlanTest, DisabledSandboxNeedsNoKernelFeature) {
  policy::SandboxConfig c;
  c.enabled = false;
  auto plan = BuildPlan(c, Inputs(), KernelFeatures{});
  ASSERT_TRUE(plan);
  EXPECT_FALSE(plan->enabled);
  EXPECT_FALSE(plan->seccomp);
}

TEST(SandboxBuildPlanTest, WarnsWhenLandlockCannotScopeSignals) {
  KernelFeatures k = FullKernel();
  k.landlock_abi = 4;
  auto plan = BuildPlan(policy::SandboxConfig{}, Inputs(), k);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->warnings,
            (std::vector<std::string>{
                "Landlock ABI 4 < 6: signals and abstract unix sockets are not scoped"}));
}

TEST(SandboxBuildPlanTest, RejectsTildeUserAndRelativeSecretTargets) {
  policy::SandboxConfig c;
  c.deny = {"~bob/.ssh"};
  auto plan = BuildPlan(c, Inputs(), FullKernel());
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message(),
            "sandbox.filesystem.deny \"~bob/.ssh\": only \"~\" and \"~/...\" are supported");
  PlanInputs in = Inputs();
  in.secret_mounts = {{"run/db", 3}};
  plan = BuildPlan(policy::SandboxConfig{}, in, FullKernel());
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().message(), "file delivery path \"run/db\" must be absolute");
}

TEST(SandboxBuildPlanTest, ToJsonShowsTheEffectivePlan) {
  auto plan = BuildPlan(policy::SandboxConfig{}, Inputs(), FullKernel());
  ASSERT_TRUE(plan);
  nlohmann::json j = plan->ToJson();
  EXPECT_EQ(j["network"], "none");
  EXPECT_EQ(j["write"], (nlohmann::json{"/home/ann/proj", "/tmp"}));
  EXPECT_EQ(j["protect"],
            (nlohmann::json{"/home/ann/proj/.git/hooks", "/home/ann/proj/.git/config"}));
  EXPECT_EQ(j["landlock_abi"], 6);
}

// --- mount plan ---

class FakePaths final : public PathLookup {
 public:
  std::map<std::string, PathInfo> entries;
  std::map<std::string, std::string> links;  // canonicalisation of link paths

  void Dir(const std::string& p) { entries[p] = {true, true, false}; }
  void File(const std::string& p) { entries[p] = {true, false, false}; }
  void Link(const std::string& p, const std::string& to) {
    entries[p] = {true, false, true};
    links[p] = to;
  }
  PathInfo Stat(const fs::path& p) const override {
    auto it = entries.find(p.string());
    return it == entries.end() ? PathInfo{} : it->second;
  }
  std::vector<std::string> List(const fs::path& dir) const override {
    std::vector<std::string> out;
    std::string prefix = dir.string() == "/" ? "/" : dir.string() + "/";
    for (const auto& [p, info] : entries) {
      if (p.size() > prefix.size() && p.starts_with(prefix) &&
          p.find('/', prefix.size()) == std::string::npos) {
        out.push_back(p.substr(prefix.size()));
      }
    }
    return out;
  }
  std::string ReadLink(const fs::path& p) const override {
    auto it = links.find(p.string());
    return it == links.end() ? std::string() : it->second;
  }
  fs::path Canonical(const fs::path& p) const override {
    for (const auto& [from, to] : links) {
      std::string s = p.string();
      if (s == from || s.starts_with(from + "/")) return fs::path(to + s.substr(from.size()));
    }
    return p;
  }
};

FakePaths Workspace() {
  FakePaths f;
  for (const char* d : {"/", "/tmp", "/home", "/home/ann", "/home/ann/proj",
                        "/home/ann/proj/.git", "/home/ann/proj/.git/hooks", "/home/ann/proj/src"}) {
    f.Dir(d);
  }
  f.File("/home/ann/proj/.git/config");
  f.File("/home/ann/proj/.git/HEAD");
  f.File("/home/ann/proj/.env");
  return f;
}

std::vector<std::string> Ops(const MountPlan& m) {
  std::vector<std::string> out;
  for (const auto& op : m.ops) out.push_back(std::string(MountKindName(op.kind)) + " " + op.path);
  return out;
}

TEST(SandboxMountPlanTest, OrdersByDepthWithOverlaysAfterTrees) {
  FakePaths f = Workspace();
  f.Dir("/home/ann/.ssh");
  policy::SandboxConfig c;
  c.deny = {"~/.ssh", ".env"};
  auto plan = BuildPlan(c, Inputs(), FullKernel());
  ASSERT_TRUE(plan);
  auto m = BuildMountPlan(*plan, f);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(Ops(*m), (std::vector<std::string>{
                         "read-only /",
                         "private tmpfs /tmp",
                         "writable /home/ann/proj",
                         // ~/.ssh is not writable but still readable: hidden.
                         "denied directory /home/ann/.ssh",
                         // .git holds protected paths: it cannot be renamed away.
                         "pinned /home/ann/proj/.git",
                         "denied file /home/ann/proj/.env",
                         "protected /home/ann/proj/.git/hooks",
                         "protected /home/ann/proj/.git/config",
                     }));
  EXPECT_TRUE(m->warnings.empty());
}

TEST(SandboxMountPlanTest, SkipsProtectsOutsideWritableTreesAndMissingTrees) {
  FakePaths f = Workspace();
  PlanInputs in = Inputs();
  in.jitsec_readonly = {"/home/ann/.config/jitsec"};  // not writable anyway: no mount needed
  in.jitsec_hidden = {"/tmp/jitsec-store"};            // behind the private /tmp: invisible
  policy::SandboxConfig c;
  c.read = {"/", "/opt/missing"};
  auto plan = BuildPlan(c, in, FullKernel());
  ASSERT_TRUE(plan);
  f.Dir("/tmp/jitsec-store");
  auto m = BuildMountPlan(*plan, f);
  ASSERT_TRUE(m);
  EXPECT_EQ(Ops(*m), (std::vector<std::string>{
                         "read-only /",
                         "private tmpfs /tmp",
                         "writable /home/ann/proj",
                         "pinned /home/ann/proj/.git",
                         "protected /home/ann/proj/.git/hooks",
                         "protected /home/ann/proj/.git/config",
                     }));
}

TEST(SandboxMountPlanTest, FreezesTheNearestParentOfAMissingProtectedPath) {
  FakePaths f = Workspace();
  f.entries.erase("/home/ann/proj/.git/hooks");
  auto plan = BuildPlan(policy::SandboxConfig{}, Inputs(), FullKernel());
  ASSERT_TRUE(plan);
  auto m = BuildMountPlan(*plan, f);
  ASSERT_TRUE(m);
  EXPECT_EQ(Ops(*m), (std::vector<std::string>{
                         "read-only /",
                         "private tmpfs /tmp",
                         "writable /home/ann/proj",
                         "frozen /home/ann/proj/.git",
                         "protected /home/ann/proj/.git/config",
                     }));
  EXPECT_EQ(m->ops[3].writable_entries, (std::vector<std::string>{"HEAD", "config"}));
  EXPECT_EQ(m->warnings, (std::vector<std::string>{
                             "protected path \"/home/ann/proj/.git/hooks\" does not exist: "
                             "nothing can be created directly in \"/home/ann/proj/.git\" during "
                             "the run"}));
}

TEST(SandboxMountPlanTest, RefusesALinkInsideAWritableTree) {
  FakePaths f = Workspace();
  f.Link("/home/ann/proj/.git", "/etc");
  auto plan = BuildPlan(policy::SandboxConfig{}, Inputs(), FullKernel());
  ASSERT_TRUE(plan);
  auto m = BuildMountPlan(*plan, f);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), ErrorCode::kPolicyRefused);
  EXPECT_EQ(m.error().message(),
            "sandbox path \"/home/ann/proj/.git/hooks\" goes through the symbolic link "
            "\"/home/ann/proj/.git\" in a writable tree; refusing to mount through it");
}

TEST(SandboxMountPlanTest, CanonicalisesLinksAboveTheWorkspace) {
  FakePaths f = Workspace();
  f.Link("/ws", "/home/ann/proj");
  PlanInputs in = Inputs();
  in.workspace = "/ws";
  auto plan = BuildPlan(policy::SandboxConfig{}, in, FullKernel());
  ASSERT_TRUE(plan);
  auto m = BuildMountPlan(*plan, f);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(Ops(*m), (std::vector<std::string>{
                         "read-only /",
                         "private tmpfs /tmp",
                         "writable /home/ann/proj",
                         "pinned /home/ann/proj/.git",
                         "protected /home/ann/proj/.git/hooks",
                         "protected /home/ann/proj/.git/config",
                     }));
}

TEST(SandboxMountPlanTest, ReadTreeInsideWriteTreeComesAfterIt) {
  FakePaths f = Workspace();
  policy::SandboxConfig c;
  c.read = {"/", "src"};
  c.protect = {};
  auto plan = BuildPlan(c, Inputs(), FullKernel());
  ASSERT_TRUE(plan);
  auto m = BuildMountPlan(*plan, f);
  ASSERT_TRUE(m);
  EXPECT_EQ(Ops(*m), (std::vector<std::string>{"read-only /", "private tmpfs /tmp",
                                               "writable /home/ann/proj",
                                               "read-only /home/ann/proj/src"}));
}

TEST(SandboxMountPlanTest, SecretMountBelowAMissingDirectoryMirrorsItsNearestAncestor) {
  FakePaths f = Workspace();
  f.Dir("/run");
  f.Dir("/run/postgresql");
  f.Link("/run/lock", "/run/lock.d");
  f.File("/etc/hosts");
  PlanInputs in = Inputs();
  in.secret_mounts = {{"/run/secrets/db", 4}, {"/etc/hosts", 5}, {"/tmp/x/tok", 6}};
  auto plan = BuildPlan(policy::SandboxConfig{}, in, FullKernel());
  ASSERT_TRUE(plan);
  auto m = BuildMountPlan(*plan, f);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(Ops(*m), (std::vector<std::string>{
                         "read-only /",
                         "private tmpfs /tmp",
                         "mirrored /run",
                         "secret file /etc/hosts",
                         "writable /home/ann/proj",
                         "secret file /run/secrets/db",
                         "secret file /tmp/x/tok",
                         "pinned /home/ann/proj/.git",
                         "protected /home/ann/proj/.git/hooks",
                         "protected /home/ann/proj/.git/config",
                     }));
  const MountOp& mirror = m->ops[2];
  ASSERT_EQ(mirror.mirror.size(), 2U);
  EXPECT_EQ(mirror.mirror[0].name, "lock");
  EXPECT_EQ(mirror.mirror[0].type, MirrorEntry::Type::kLink);
  EXPECT_EQ(mirror.mirror[0].link_target, "/run/lock.d");
  EXPECT_EQ(mirror.mirror[1].name, "postgresql");
  EXPECT_EQ(mirror.mirror[1].type, MirrorEntry::Type::kDir);
  EXPECT_FALSE(mirror.mirror_writable);
  EXPECT_EQ(mirror.create_files, (std::vector<std::string>{"secrets/db"}));
  EXPECT_EQ(m->ops[5].secret_fd_target, 4);
}

TEST(SandboxMountPlanTest, SecretMountOnADirectoryIsRefused) {
  FakePaths f = Workspace();
  PlanInputs in = Inputs();
  in.secret_mounts = {{"/home/ann/proj/src", 4}};
  auto plan = BuildPlan(policy::SandboxConfig{}, in, FullKernel());
  ASSERT_TRUE(plan);
  auto m = BuildMountPlan(*plan, f);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message(),
            "file delivery path \"/home/ann/proj/src\" is a directory or a symbolic link");
}

// The kernel refuses to rename a mount point but not its parent: every directory between a
// writable tree and a mount inside it is pinned, so that `mv .config x && mkdir -p
// .config/jitsec` cannot put a new policy where the read-only one was.
TEST(SandboxMountPlanTest, PinsEveryWritableDirectoryAboveAMountInAWritableTree) {
  FakePaths f = Workspace();
  for (const char* d : {"/home/ann/.config", "/home/ann/.config/jitsec", "/home/ann/.local",
                        "/home/ann/.local/share", "/home/ann/.local/share/jitsec",
                        "/home/ann/.local/share/jitsec/store", "/home/ann/proj/build",
                        "/home/ann/proj/build/gen"}) {
    f.Dir(d);
  }
  PlanInputs in = Inputs();
  in.workspace = "/home/ann";  // the home directory is the writable tree
  in.jitsec_readonly = {"/home/ann/.config/jitsec"};
  in.jitsec_hidden = {"/home/ann/.local/share/jitsec/store"};
  policy::SandboxConfig c;
  c.write = {".", "/tmp", "~/proj/build/gen"};
  c.read = {"/", "~/proj/src"};
  c.protect = {"proj/.git/hooks"};
  c.protect_explicit = true;
  auto plan = BuildPlan(c, in, FullKernel());
  ASSERT_TRUE(plan);
  auto m = BuildMountPlan(*plan, f);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(Ops(*m), (std::vector<std::string>{
                         "read-only /",
                         "private tmpfs /tmp",
                         "writable /home/ann",
                         "pinned /home/ann/proj",
                         "pinned /home/ann/.config",
                         "pinned /home/ann/.local",
                         "read-only /home/ann/proj/src",
                         "pinned /home/ann/proj/build",
                         "pinned /home/ann/proj/.git",
                         "pinned /home/ann/.local/share",
                         "protected /home/ann/.config/jitsec",
                         "writable /home/ann/proj/build/gen",
                         "pinned /home/ann/.local/share/jitsec",
                         "protected /home/ann/proj/.git/hooks",
                         "denied directory /home/ann/.local/share/jitsec/store",
                     }));
}

// Nothing above a mount in a read-only tree can be renamed anyway: no pins there.
TEST(SandboxMountPlanTest, PinsNothingOutsideWritableTrees) {
  FakePaths f = Workspace();
  f.Dir("/home/ann/.config");
  f.Dir("/home/ann/.config/jitsec");
  PlanInputs in = Inputs();
  in.jitsec_hidden = {"/home/ann/.config/jitsec"};
  policy::SandboxConfig c;
  c.protect = {};
  c.protect_explicit = true;
  auto plan = BuildPlan(c, in, FullKernel());
  ASSERT_TRUE(plan);
  auto m = BuildMountPlan(*plan, f);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(Ops(*m), (std::vector<std::string>{
                         "read-only /",
                         "private tmpfs /tmp",
                         "writable /home/ann/proj",
                         "denied directory /home/ann/.config/jitsec",
                     }));
}

// A delivery inside a denied tree would expose the tree (its mirror lists the host entries).
TEST(SandboxMountPlanTest, RefusesADeliveryInsideADeniedTree) {
  for (const char* target : {"/home/ann/.ssh/deploy_key", "/home/ann/.ssh"}) {
    FakePaths f = Workspace();
    f.Dir("/home/ann/.ssh");
    f.File("/home/ann/.ssh/id_ed25519");
    PlanInputs in = Inputs();
    in.secret_mounts = {{target, 4}};
    policy::SandboxConfig c;
    c.deny = {"~/.ssh"};
    auto plan = BuildPlan(c, in, FullKernel());
    ASSERT_TRUE(plan);
    auto m = BuildMountPlan(*plan, f);
    ASSERT_FALSE(m) << target;
    EXPECT_EQ(m.error().code(), ErrorCode::kPolicyInvalid);
    EXPECT_EQ(m.error().message(), "file delivery path \"" + std::string(target) +
                                       "\" is inside the denied path \"/home/ann/.ssh\"");
  }
  FakePaths f = Workspace();
  PlanInputs in = Inputs();
  in.jitsec_hidden = {"/home/ann/proj/.store"};
  in.secret_mounts = {{"/home/ann/proj/.store/k", 4}};
  auto plan = BuildPlan(policy::SandboxConfig{}, in, FullKernel());
  ASSERT_TRUE(plan);
  auto m = BuildMountPlan(*plan, f);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message(), "file delivery path \"/home/ann/proj/.store/k\" is inside the "
                                 "denied path \"/home/ann/proj/.store\"");
}

// security.md: shell rc files are protected paths. Those that exist are read-only wherever the
// home directory is writable, whatever the task's protect list; a missing one is not frozen
// (that would freeze the home directory itself).
TEST(SandboxMountPlanTest, ProtectsExistingShellStartupFilesInAWritableHome) {
  FakePaths f = Workspace();
  f.File("/home/ann/.bashrc");
  f.File("/home/ann/.profile");
  f.Dir("/home/ann/.config");
  f.Dir("/home/ann/.config/fish");
  PlanInputs in = Inputs();
  in.workspace = "/home/ann";
  policy::SandboxConfig c;
  c.protect = {};
  c.protect_explicit = true;
  auto plan = BuildPlan(c, in, FullKernel());
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->shell_startup.size(), std::size(kShellStartupFiles));
  auto m = BuildMountPlan(*plan, f);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(Ops(*m), (std::vector<std::string>{
                         "read-only /",
                         "private tmpfs /tmp",
                         "writable /home/ann",
                         "pinned /home/ann/.config",
                         "protected /home/ann/.bashrc",
                         "protected /home/ann/.profile",
                         "protected /home/ann/.config/fish",
                     }));
  EXPECT_TRUE(m->warnings.empty());
  // With the home directory read-only (the default workspace below it), nothing to mount.
  auto plan2 = BuildPlan(c, Inputs(), FullKernel());
  ASSERT_TRUE(plan2);
  auto m2 = BuildMountPlan(*plan2, f);
  ASSERT_TRUE(m2);
  EXPECT_EQ(Ops(*m2), (std::vector<std::string>{"read-only /", "private tmpfs /tmp",
                                                 "writable /home/ann/proj"}));
}

// Without `deny:` the usual credential stores and host service sockets are hidden where they
// exist; a missing one freezes nothing (not even in a writable home), one that holds a file
// delivery of the task is left out with a warning, and a written list replaces them all.
TEST(SandboxMountPlanTest, DefaultDenyHidesCredentialStoresAndHostSocketsThatExist) {
  FakePaths f = Workspace();
  f.Dir("/home/ann/.ssh");
  f.Dir("/home/ann/.aws");
  f.File("/home/ann/.netrc");
  f.Dir("/run");
  f.Dir("/run/user");
  f.File("/run/docker.sock");
  f.Dir("/var");
  f.Link("/var/run", "/run");
  PlanInputs in = Inputs();
  in.workspace = "/home/ann";
  in.workspace_has_dot_git = false;
  in.secret_mounts = {{"/home/ann/.aws/credentials", 4}};
  auto plan = BuildPlan(policy::SandboxConfig{}, in, FullKernel());
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->deny.empty());
  EXPECT_EQ(plan->deny_default.size(), std::size(policy::kDefaultDeny) - 1);
  EXPECT_NE(std::find(plan->warnings.begin(), plan->warnings.end(),
                      "the default deny entry \"/home/ann/.aws\" is not applied: a credential "
                      "is delivered inside it"),
            plan->warnings.end());
  auto m = BuildMountPlan(*plan, f);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(Ops(*m), (std::vector<std::string>{
                         "read-only /",
                         "private tmpfs /tmp",
                         "writable /home/ann",
                         "denied directory /run/user",
                         "denied file /run/docker.sock",
                         "denied directory /home/ann/.ssh",
                         "denied file /home/ann/.netrc",
                         "mirrored /home/ann/.aws",
                         "secret file /home/ann/.aws/credentials",
                     }));
  EXPECT_TRUE(m->warnings.empty());  // ~/.kube and the rest do not exist: nothing frozen
  // A written list replaces the defaults; an empty one turns them off.
  policy::SandboxConfig c;
  c.deny_explicit = true;
  in.secret_mounts.clear();
  auto plan2 = BuildPlan(c, in, FullKernel());
  ASSERT_TRUE(plan2);
  EXPECT_TRUE(plan2->deny_default.empty());
  auto m2 = BuildMountPlan(*plan2, f);
  ASSERT_TRUE(m2);
  for (const auto& op : Ops(*m2)) EXPECT_EQ(op.find("denied"), std::string::npos) << op;
}

}  // namespace
}  // namespace jitsec::sandbox
