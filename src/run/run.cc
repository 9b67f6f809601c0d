#include "run/run.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

#include "audit/audit.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/random.h"
#include "context/context.h"
#include "delivery/delivery.h"
#include "journal/journal.h"
#include "mask/redactor.h"
#include "providers/local_store/store.h"
#include "providers/registry.h"
#include "run/decide.h"
#include "run/lease_set.h"
#include "sandbox/mount_plan.h"
#include "sandbox/sandbox.h"
#include "supervise/supervise.h"

namespace jitsec::run {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kProviderTimeout = std::chrono::seconds(30);

// A settings path as policy.md says: "~" and "~/..." are the caller's home, relative paths are
// relative to the workspace (the git root of the current directory, else the current directory).
fs::path SettingsPath(const std::string& p, const std::string& home, const fs::path& workspace) {
  if (p == "~") return home;
  if (p.rfind("~/", 0) == 0) return fs::path(home) / p.substr(2);
  fs::path path(p);
  if (path.is_relative()) return (workspace / path).lexically_normal();
  return path;
}

bool HasRelativePath(const policy::Settings& s) {
  for (const std::string* p : {&s.store, &s.state, &s.audit_path}) {
    if (!p->empty() && *p != "~" && p->rfind("~/", 0) != 0 && fs::path(*p).is_relative()) return true;
  }
  return false;
}

// `workspace` is RunContext::workspace(); it is read only for relative settings paths.
Paths PathsFor(const fs::path& policy_path, const policy::Settings* settings, const Environment& env,
               const fs::path& workspace) {
  std::string home = HomeDir(env);
  auto setting = [&](const std::string& p) { return SettingsPath(p, home, workspace); };
  Paths p;
  p.policy = policy_path;
  p.config_dir = ConfigDir(env);
  p.store_dir = settings && !settings->store.empty() ? setting(settings->store)
                                                     : fs::path(DataDir(env)) / "store";
  p.store_key = providers::local_store::DefaultKeyFile(env);
  p.state_dir = settings && !settings->state.empty() ? setting(settings->state)
                                                     : fs::path(StateDir(env));
  p.audit_log = settings && !settings->audit_path.empty() ? setting(settings->audit_path)
                                                          : p.state_dir / "audit.jsonl";
  p.audit_key = p.config_dir / "audit.key";
  p.audit_syslog = settings && settings->audit_syslog;
  return p;
}

std::string EnvironmentChoice(const RunOptions& o, const Environment& env, std::string* source) {
  if (!o.environment.empty()) {
    *source = "--env";
    return o.environment;
  }
  if (auto e = env.Get("JITSEC_ENV"); e && !e->empty()) {
    *source = "JITSEC_ENV";
    return *e;
  }
  return "";
}

// The loaded policy and the decision: everything run, --dry-run and explain share.
struct Request {
  policy::Policy policy;
  context::RunContext ctx;
  Paths paths;
  Decision decision;
  std::string run_id;
};

Result<Request> Evaluate(const RunOptions& o, const Environment& env) {
  Request r;
  r.run_id = NewId("r-");
  JITSEC_ASSIGN_OR_RETURN(r.ctx, context::Capture(env));
  fs::path policy_path = policy::DiscoverPolicyPath(env, o.policy_flag);
  JITSEC_ASSIGN_OR_RETURN(r.policy, policy::LoadPolicy(policy_path));
  r.paths = PathsFor(policy_path, &r.policy.settings, env, r.ctx.workspace());
  std::string source;
  std::string requested = EnvironmentChoice(o, env, &source);
  JITSEC_ASSIGN_OR_RETURN(r.decision, Decide(r.policy, o.task, requested, source, o.command, r.ctx));
  return r;
}

nlohmann::json ContextFields(const Request& r, const RunOptions& o) {
  nlohmann::json j;
  j["run_id"] = r.run_id;
  j["task"] = o.task;
  j["env"] = r.decision.environment;
  j["user"] = r.ctx.user;
  j["uid"] = r.ctx.uid;
  j["cwd"] = r.ctx.cwd.string();
  j["repo"] = r.ctx.git ? r.ctx.git->origin : "";
  j["branch"] = r.ctx.git ? r.ctx.git->branch : "";
  j["commit"] = r.ctx.git ? r.ctx.git->commit : "";
  j["ci"] = r.ctx.ci ? r.ctx.ci_system : "";
  j["policy"] = r.paths.policy.string();
  j["policy_hash"] = r.policy.Hash();
  return j;
}

// Writes audit records for one run; failures to write are reported, never fatal after issuance.
class AuditRecorder final : public LeaseObserver {
 public:
  AuditRecorder(audit::AuditLog* log, nlohmann::json base) : log_(log), base_(std::move(base)) {}
  void SetArgv(nlohmann::json argv) { base_["argv"] = std::move(argv); }
  Status Write(const std::string& event, nlohmann::json extra = nlohmann::json::object()) {
    Queue(event, std::move(extra));
    return Flush();
  }
  // Records that happen at the same moment are queued and appended together by Flush (one lock
  // and one write for the lot).
  void Queue(const std::string& event, nlohmann::json extra = nlohmann::json::object()) {
    nlohmann::json rec = base_;
    rec["event"] = event;
    for (auto& [k, v] : extra.items()) rec[k] = v;
    queued_.push_back(std::move(rec));
  }
  Status Flush() {
    auto st = log_->AppendAll(std::move(queued_));
    queued_.clear();
    if (!st) log::Error("audit: {}", st.error().message());
    return st;
  }
  void OnIssued(const IssuedLease& l) override {
    nlohmann::json c;
    c["name"] = l.credential->name;
    c["provider"] = l.lease.ref.provider;
    c["provider_type"] = std::string(policy::ProviderTypeName(l.lease.ref.type));
    c["lease"] = l.lease.ref.lease_id;
    c["handle"] = l.lease.ref.handle;
    c["ttl"] = l.credential->ttl.count();
    const auto* f = l.lease.FirstSecretField();
    if (f != nullptr) c["fingerprint"] = log_->Fingerprint(f->value);
    pending_issue_.push_back(std::move(c));
  }
  void OnRevoked(const RevokeResult& r) override {
    nlohmann::json c;
    c["name"] = r.credential;
    c["provider"] = r.ref.provider;
    c["lease"] = r.ref.lease_id;
    c["result"] = r.ok ? "revoked" : "failed";
    if (!r.ok) c["error"] = r.error;
    (void)Write("revoke", {{"credential", c}});
  }
  // Issue records are queued once argv can be masked with the issued values.
  void QueueIssued() {
    for (auto& c : pending_issue_) Queue("issue", {{"credential", c}});
    pending_issue_.clear();
  }

 private:
  audit::AuditLog* log_;
  nlohmann::json base_;
  std::vector<nlohmann::json> pending_issue_;
  std::vector<nlohmann::json> queued_;
};

nlohmann::json MaskedArgv(const std::vector<std::string>& argv,
                          const std::shared_ptr<const mask::PatternSet>& patterns) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : argv) {
    if (!patterns) {
      out.push_back(a);
      continue;
    }
    mask::Redactor r(patterns);
    std::string s;
    r.Feed(a, s);
    r.Finish(s);
    out.push_back(s);
  }
  return out;
}

bool MatchesPass(const std::vector<std::string>& pass, const std::string& name) {
  return std::any_of(pass.begin(), pass.end(),
                     [&](const std::string& g) { return context::GlobMatch(g, name); });
}

// The child's environment: env.pass ∩ caller, env.set, deliveries, JITSEC_*; never the
// variables an env provider read its secret from.
std::vector<std::string> ChildEnvironment(const Request& r, const delivery::DeliveryPlan& dp,
                                          const std::vector<std::string>& consumed) {
  std::map<std::string, std::string> env;
  const policy::Task& task = *r.decision.task;
  for (const auto& [k, v] : r.ctx.env) {
    if (k.rfind("JITSEC_", 0) == 0) continue;
    if (std::find(consumed.begin(), consumed.end(), k) != consumed.end()) continue;
    if (MatchesPass(task.env_pass, k)) env[k] = v;
  }
  for (const auto& [k, v] : task.env_set) env[k] = v;
  for (const auto& [k, v] : dp.env) env[k] = v;
  env["JITSEC_TASK"] = task.name;
  env["JITSEC_ENV"] = r.decision.environment;
  env["JITSEC_RUN_ID"] = r.run_id;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

void WipeStrings(std::vector<std::string>& v) {
  for (auto& s : v) explicit_bzero(s.data(), s.size());
  v.clear();
}

// valgrind runs its client with its preload libraries (vgpreload_*.so) in LD_PRELOAD.
bool UnderValgrind(const Environment& env) {
  std::optional<std::string> preload = env.Get("LD_PRELOAD");
  return preload && preload->find("vgpreload") != std::string::npos;
}

void HardenProcess() {
  // Secrets will live in this process: no core dumps, no ptrace by same-uid processes.
  (void)::prctl(PR_SET_DUMPABLE, 0);
  struct rlimit zero {0, 0};
  (void)::setrlimit(RLIMIT_CORE, &zero);
}

// The sandbox is built from the policy before anything is issued: the secret files it mounts are
// the task's `file: {path}` deliveries, at the descriptors delivery::Prepare will give them.
sandbox::PlanInputs SandboxInputs(const Request& r, const policy::Task& task) {
  sandbox::PlanInputs in;
  in.workspace = r.ctx.workspace();
  in.home = r.ctx.home;
  struct stat st {};
  in.workspace_has_dot_git = ::lstat((in.workspace / ".git").c_str(), &st) == 0 || errno != ENOENT;
  in.jitsec_readonly = {r.paths.policy, r.paths.config_dir, r.paths.state_dir, r.paths.audit_log};
  in.jitsec_hidden = {r.paths.store_dir, r.paths.store_key, r.paths.audit_key};
  for (const auto& f : delivery::PlanFiles(task.credentials)) {
    if (!f.mount_path.empty()) in.secret_mounts.push_back({f.mount_path, f.target});
  }
  return in;
}

// What was delivered must be what the sandbox was built for (delivery::PlanFiles; fail closed
// if not).
bool DeliveredAsPlanned(const policy::Task& task, const delivery::DeliveryPlan& dp) {
  const auto planned = delivery::PlanFiles(task.credentials);
  if (planned.size() != dp.files.size()) return false;
  for (size_t i = 0; i < planned.size(); ++i) {
    if (planned[i].target != dp.files[i].target || planned[i].mount_path != dp.files[i].mount_path) {
      return false;
    }
  }
  return true;
}

bool NeedsStore(const policy::Policy& policy, const policy::Task& task, const std::string& env) {
  for (const auto& c : task.credentials) {
    auto it = policy.providers.find(policy::ResolveProviderName(c, env));
    if (it == policy.providers.end()) continue;
    if (it->second.type != policy::ProviderType::kEnv) return true;
  }
  return false;
}

// Revokes leases left by runs that are provably gone. Never touches a live run's lease.
SweepReport SweepOrphans(journal::Journal& journal, const providers::ProviderContext& pctx,
                         audit::AuditLog* audit_log) {
  SweepReport report;
  auto outstanding = journal.Outstanding();
  if (!outstanding) {
    report.errors.push_back(outstanding.error().message());
    ++report.failed;
    return report;
  }
  for (const auto& e : *outstanding) {
    if (e.owner.IsAlive()) {
      ++report.skipped_live;
      continue;
    }
    providers::LeaseRef ref;
    ref.lease_id = e.lease_id;
    ref.provider = e.provider;
    ref.handle = e.handle;
    ref.revoke_params = e.revoke_params;
    ref.type = e.provider_type == "postgres" ? policy::ProviderType::kPostgres
               : e.provider_type == "env"    ? policy::ProviderType::kEnv
                                             : policy::ProviderType::kStore;
    Status st = [&]() -> Status {
      JITSEC_ASSIGN_OR_RETURN(auto provider, providers::CreateProviderForRevoke(ref, pctx));
      return provider->Revoke(ref, Clock::now() + kProviderTimeout);
    }();
    nlohmann::json rec{{"event", "revoke"}, {"run_id", e.run_id}, {"task", e.task},
                       {"sweep", true},
                       {"credential", {{"name", e.credential}, {"provider", e.provider},
                                       {"lease", e.lease_id}, {"result", st ? "revoked" : "failed"}}}};
    if (st) {
      (void)journal.RecordRevoked(e.lease_id);
      ++report.revoked;
    } else {
      (void)journal.RecordRevokeFailed(e.lease_id, st.error().message());
      rec["credential"]["error"] = st.error().message();
      report.errors.push_back("lease " + e.lease_id + " (" + e.provider + "): " + st.error().message());
      ++report.failed;
    }
    if (audit_log != nullptr) (void)audit_log->Append(std::move(rec));
  }
  if (report.revoked > 0) (void)journal.Compact();
  return report;
}

// Lazily opened store: only runs that need it pay for the key read.
class LazyStore final : public providers::SecretSource {
 public:
  explicit LazyStore(const Paths& p) : paths_(p) {}
  Result<SecretBytes> Get(std::string_view name) const override {
    JITSEC_TRY(Open());
    return store_->Get(name);
  }
  // Opens the store now (once): a run whose credentials need it fails early, before any
  // issuance, with the store's own message.
  Status Open() const {
    if (store_) return Ok();
    auto s = providers::local_store::LocalStore::Open(paths_.store_dir, paths_.store_key, false);
    if (!s) return Fail(std::move(s).error());
    store_.emplace(std::move(*s));
    return Ok();
  }

 private:
  const Paths& paths_;
  mutable std::optional<providers::local_store::LocalStore> store_;
};

}  // namespace

Result<Paths> ResolvePaths(const std::string& policy_flag, const Environment& env) {
  fs::path policy_path = policy::DiscoverPolicyPath(env, policy_flag);
  std::error_code ec;
  if (!fs::exists(policy_path, ec)) {
    if (!policy_flag.empty()) return Fail(ErrorCode::kNotFound, "policy file not found: " + policy_path.string());
    return PathsFor(policy_path, nullptr, env, fs::path());
  }
  JITSEC_ASSIGN_OR_RETURN(auto policy, policy::LoadPolicy(policy_path));
  // The workspace as a run finds it (context::Capture), read only when a path needs it.
  fs::path workspace;
  if (HasRelativePath(policy.settings)) {
    JITSEC_ASSIGN_OR_RETURN(fs::path cwd, context::CurrentDirectory(env));
    auto git = context::ReadGit(cwd);
    workspace = git ? git->root : cwd;
  }
  return PathsFor(policy_path, &policy.settings, env, workspace);
}

Result<int> Run(const RunOptions& o, const Environment& env) {
  // Signals are blocked from here on: one that arrives while credentials are issued is acted
  // on after issuance (revoke, then exit 128+N), never lost and never killing us mid-issue.
  JITSEC_ASSIGN_OR_RETURN(UniqueFd signal_fd, supervise::BlockSignals());
  HardenProcess();
  // The sandbox's namespaces are started before the policy is read, on the guess that the task
  // runs sandboxed without network (the default): the network namespace is the kernel's costly
  // part (~0.7 ms), and the helper makes it on another CPU while this process reads the policy
  // and plans the sandbox (sandbox.h, Prestart). A task that turns out otherwise leaves it
  // unused (Abort; reaped when Run returns); sandbox::Start then starts its own, and reports
  // any failure to start one. Not under valgrind, which exits at a clone that shares memory
  // without being a thread: there only a sandboxed run starts the helper (and fails with it).
  sandbox::Prestarted guessed;
  if (!UnderValgrind(env)) {
    if (auto started = sandbox::Prestart(policy::Network::kNone)) guessed = std::move(*started);
  }

  JITSEC_ASSIGN_OR_RETURN(Request r, Evaluate(o, env));
  JITSEC_TRY(EnsureDirectory(r.paths.state_dir));
  JITSEC_TRY(EnsureDirectory(r.paths.config_dir));
  // The audit log is opened once the sandbox init is on its way, so that the open (key, log and
  // head files, the crypto provider) overlaps the init's setup; a refusal before that opens it
  // to record itself. Failing to open it fails the run before anything is issued.
  std::optional<audit::AuditLog> audit_slot;
  std::optional<AuditRecorder> recorder_slot;
  auto open_audit = [&]() -> Status {
    if (recorder_slot) return Ok();
    JITSEC_ASSIGN_OR_RETURN(audit::AuditLog log, audit::AuditLog::Open(r.paths.audit_log, r.paths.audit_key));
    if (r.paths.audit_syslog) log.AlsoSyslog();
    audit_slot.emplace(std::move(log));
    recorder_slot.emplace(&*audit_slot, ContextFields(r, o));
    recorder_slot->SetArgv(o.command);
    return Ok();
  };
  auto record_and_fail = [&](const char* event, nlohmann::json fields, Error e) -> Result<int> {
    JITSEC_TRY(open_audit());
    (void)recorder_slot->Write(event, std::move(fields));
    return Fail(std::move(e));
  };

  if (!r.decision.allowed) {
    return record_and_fail("refuse", {{"rule", r.decision.rule}, {"reason", r.decision.reason}},
                           Error(ErrorCode::kPolicyRefused, r.decision.reason));
  }
  if (r.decision.needs_approval) {
    std::string why;
    std::string prompt = "run task \"" + o.task + "\" in environment \"" + r.decision.environment + "\"?";
    if (!TtyApprover(prompt, &why)) {
      return record_and_fail("refuse", {{"rule", "approval"}, {"reason", why}},
                             Error(ErrorCode::kPolicyRefused, why));
    }
  }
  const policy::Task& task = *r.decision.task;
  const bool guessed_right = task.sandbox.enabled && task.sandbox.network == policy::Network::kNone;
  if (!guessed_right) guessed.Abort();

  // The sandbox first: a kernel that cannot enforce it refuses before anything is issued. Its
  // init is started now, so that the kernel's namespace and mount work runs on another CPU
  // while the credentials are issued; it holds no secret and exits if the run ends early.
  std::optional<sandbox::SandboxPlan> plan;
  sandbox::Starting init;
  if (task.sandbox.enabled) {
    JITSEC_ASSIGN_OR_RETURN(sandbox::KernelFeatures kernel, sandbox::ProbeKernel(r.paths.state_dir));
    auto refuse = [&](Error e) -> Result<int> {
      nlohmann::json fields = {{"rule", "sandbox"}, {"reason", e.message()}};
      return record_and_fail("refuse", std::move(fields), std::move(e));
    };
    auto built = sandbox::BuildPlan(task.sandbox, SandboxInputs(r, task), kernel);
    if (!built) return refuse(std::move(built).error());
    auto prepared = sandbox::Prepare(*built, kernel, r.paths.state_dir);
    if (!prepared) return refuse(std::move(prepared).error());
    auto started = sandbox::Start(*prepared, supervise::CommandGetsTerminal(),
                                  guessed_right ? std::move(guessed) : sandbox::Prestarted());
    if (!started) {
      nlohmann::json fields = {{"reason", started.error().message()}};
      return record_and_fail("error", std::move(fields), std::move(started).error());
    }
    init = std::move(*started);
    plan = std::move(*built);
  } else {
    for (const auto& c : task.credentials) {
      for (const auto& d : c.deliver) {
        if (!d.path.empty()) {
          return Fail(ErrorCode::kPolicyInvalid, "credential " + c.name + ": file: {path: " + d.path +
                                                     "} needs the sandbox (sandbox.enabled is false)");
        }
      }
    }
  }
  JITSEC_TRY(open_audit());
  audit::AuditLog& audit_log = *audit_slot;
  AuditRecorder& recorder = *recorder_slot;

  LazyStore store(r.paths);
  providers::ProviderContext pctx{&store, &env};
  JITSEC_ASSIGN_OR_RETURN(journal::Journal journal, journal::Journal::Open(r.paths.state_dir));
  {
    SweepReport swept = SweepOrphans(journal, pctx, &audit_log);
    for (const auto& e : swept.errors) log::Warn("sweep: {}", e);
    if (swept.revoked > 0) log::Info("revoked {} lease(s) left by earlier runs", swept.revoked);
  }
  if (NeedsStore(r.policy, task, r.decision.environment)) JITSEC_TRY(store.Open());

  LeaseSet leases(&journal, [&](const policy::ProviderConfig& c) { return providers::CreateProvider(c, pctx); },
                  &recorder, r.run_id, task.name);
  auto deadline = Clock::now() + kProviderTimeout;
  Status issued = leases.IssueAll(r.policy, task, r.decision.environment, deadline);

  // Masking patterns from every secret field value issued.
  std::vector<const SecretBytes*> secrets;
  std::vector<std::string> consumed_env;
  for (const auto& l : leases.issued()) {
    for (const auto& f : l.lease.fields) {
      if (f.secret) secrets.push_back(&f.value);
    }
    if (l.lease.ref.type == policy::ProviderType::kEnv) consumed_env.push_back(l.credential->secret);
  }
  // The env provider's variables are never passed on, even when issuance failed.
  for (const auto& c : task.credentials) {
    auto it = r.policy.providers.find(policy::ResolveProviderName(c, r.decision.environment));
    if (it != r.policy.providers.end() && it->second.type == policy::ProviderType::kEnv) {
      consumed_env.push_back(c.secret);
    }
  }
  std::shared_ptr<const mask::PatternSet> patterns;
  if (!secrets.empty()) patterns = mask::Compile(secrets);
  recorder.SetArgv(MaskedArgv(o.command, patterns));
  recorder.Queue("decision", {{"result", "allowed"}, {"command", r.decision.command_path.string()}});
  recorder.QueueIssued();
  (void)recorder.Flush();

  auto revoke_and = [&](Error e) -> Result<int> {
    (void)recorder.Write("error", {{"reason", e.message()}});
    leases.RevokeAll(Clock::now() + kProviderTimeout);
    return Fail(std::move(e));
  };
  if (!issued) return revoke_and(std::move(issued).error());
  if (int sig = supervise::PendingTermination(signal_fd.get()); sig != 0) {
    (void)recorder.Write("error", {{"reason", "interrupted by signal " + std::to_string(sig) + " before start"}});
    leases.RevokeAll(Clock::now() + kProviderTimeout);
    return 128 + sig;
  }

  std::vector<delivery::IssuedCredential> ic;
  for (const auto& l : leases.issued()) ic.push_back({l.credential, &l.lease});
  auto dp = delivery::Prepare(ic);
  if (!dp) return revoke_and(std::move(dp).error());

  // The child's descriptor table and environment.
  ExecSpec spec;
  spec.path = r.decision.command_path.string();
  spec.argv = o.command;
  spec.envp = ChildEnvironment(r, *dp, consumed_env);
  spec.cwd = r.ctx.cwd.string();
  spec.new_session = true;
  bool masking = patterns != nullptr && !o.no_mask;
  // When the caller's stdout is a terminal the command gets a pty of its own (terminal.h);
  // otherwise plain pipes (masking) or the caller's descriptors, stdout and stderr separate.
  const supervise::TerminalPlan term = supervise::PlanTerminal(static_cast<bool>(dp->stdin_memfd));
  supervise::Pty pty;
  if (term.use_pty) {
    // Sandboxed, the pty comes from the sandbox's own devpts, where ttyname() finds it.
    UniqueFd sandbox_master;
    if (task.sandbox.enabled) {
      auto received = sandbox::ReceivePtyMaster(init);
      if (!received) return revoke_and(std::move(received).error());
      sandbox_master = std::move(*received);
    }
    auto opened = supervise::OpenPty(term.raw_mode, std::move(sandbox_master));
    if (!opened) return revoke_and(std::move(opened).error());
    pty = std::move(*opened);
    spec.controlling_tty_target = 1;
  }
  UniqueFd out_r, out_w, err_r, err_w;
  if (masking && !term.use_pty) {
    int p1[2];
    if (::pipe2(p1, O_CLOEXEC) != 0) return revoke_and(Error::FromErrno(ErrorCode::kInternal, "pipe2"));
    out_r.reset(p1[0]);
    out_w.reset(p1[1]);
  }
  if ((masking || term.stderr_via_pipe) && !term.stderr_on_pty) {
    int p2[2];
    if (::pipe2(p2, O_CLOEXEC) != 0) return revoke_and(Error::FromErrno(ErrorCode::kInternal, "pipe2"));
    err_r.reset(p2[0]);
    err_w.reset(p2[1]);
  }
  UniqueFd in_r, in_w;
  if (term.stdin_via_pipe) {
    int p3[2];
    if (::pipe2(p3, O_CLOEXEC) != 0) return revoke_and(Error::FromErrno(ErrorCode::kInternal, "pipe2"));
    in_r.reset(p3[0]);
    in_w.reset(p3[1]);
    ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);  // Supervise never blocks on a full pipe
  }
  const int child_in = dp->stdin_memfd ? dp->stdin_memfd.get()
                       : term.stdin_on_pty ? pty.slave.get()
                       : in_r           ? in_r.get()
                                        : 0;
  const int child_out = term.use_pty ? pty.slave.get() : masking ? out_w.get() : 1;
  const int child_err = term.stderr_on_pty ? pty.slave.get() : err_w ? err_w.get() : 2;
  spec.fds.push_back({child_in, 0});
  spec.fds.push_back({child_out, 1});
  spec.fds.push_back({child_err, 2});
  for (const auto& f : dp->files) spec.fds.push_back({f.fd.get(), f.target});

  Result<sandbox::Launched> launched = Fail(ErrorCode::kInternal, "not launched");
  if (task.sandbox.enabled) {
    if (!DeliveredAsPlanned(task, *dp)) {
      return revoke_and(Error(ErrorCode::kInternal, "the delivered files differ from the sandbox's plan"));
    }
    spec.Finalize();
    launched = sandbox::Launch(std::move(init), spec);
    if (launched) recorder.Queue("sandbox", {{"sandbox", plan->ToJson()}});  // with "start"
  } else {
    spec.parent_pid = ::getpid();
    spec.Finalize();
    launched = sandbox::LaunchPlain(spec);
  }
  WipeStrings(spec.envp);
  out_w.reset();
  err_w.reset();
  in_r.reset();
  if (!term.relay_stdin) in_w.reset();  // a background jitsec: the command reads end of file
  pty.slave.reset();  // the master reads EOF (EIO) once the command's side is closed
  dp->files.clear();  // the child holds its own copies now
  dp->stdin_memfd.reset();
  if (!launched) return revoke_and(std::move(launched).error());
  (void)recorder.Write("start", {{"pid", launched->pid}, {"sandboxed", task.sandbox.enabled},
                                 {"masked", masking}, {"no_mask", o.no_mask}, {"pty", term.use_pty}});

  // Raw mode only now, so that a refusal or setup error above leaves the terminal untouched;
  // the guard restores it on every way out of this function.
  supervise::RawModeGuard raw;
  if (term.raw_mode) {
    if (auto entered = raw.Enter(); !entered) log::Warn("{}; keystrokes are not relayed", entered.error().message());
  }

  supervise::Options sopt;
  if (task.max_duration) sopt.max_duration = std::chrono::duration_cast<std::chrono::milliseconds>(*task.max_duration);
  sopt.child_stdout = std::move(out_r);
  sopt.child_stderr = std::move(err_r);
  sopt.pty_master = std::move(pty.master);
  sopt.stdin_relay_fd = raw.active() || (in_w && term.relay_stdin) ? 0 : -1;
  sopt.stdin_pipe = std::move(in_w);
  sopt.patterns = masking ? patterns : nullptr;
  sopt.sandboxed = task.sandbox.enabled;
  auto status = supervise::Supervise(*launched, signal_fd.get(), sopt);

  nlohmann::json end;
  if (status) {
    end["exit"] = status->ExitCode();
    end["duration_ms"] = status->duration.count();
    end["outcome"] = status->kind == supervise::ExitStatus::Kind::kTimedOut ? "timeout"
                     : status->kind == supervise::ExitStatus::Kind::kSignaled ? "signal"
                                                                              : "exit";
    if (status->kind == supervise::ExitStatus::Kind::kSignaled) end["signal"] = status->signal;
  } else {
    end["error"] = status.error().message();
  }
  raw.Restore();  // before anything more is printed on the caller's terminal
  (void)recorder.Write("end", end);

  auto results = leases.RevokeAll(Clock::now() + kProviderTimeout);
  for (const auto& res : results) {
    if (!res.ok) {
      log::Error("revoking {} ({}) failed: {}; the lease stays in the journal for `jitsec leases sweep`",
                 res.credential, res.ref.provider, res.error);
    }
  }
  (void)journal.MaybeCompact();  // a rewrite (and its syncs) only once the file has grown
  // The records are written; a CLI that exits next leaves the wait for the disk to a helper
  // (RunOptions::caller_exits_next), unless the policy wants them on disk before it exits.
  const bool sync_detached =
      o.caller_exits_next && r.policy.settings.audit_sync == policy::AuditSync::kBackground;
  if (auto synced = sync_detached ? audit_log.SyncDetached() : audit_log.Sync(); !synced) {
    log::Warn("{}", synced.error().message());
  }
  // A sandbox init reports the command's exit before its own teardown, which overlaps the
  // revocation and audit above; it is reaped only now (nothing of the namespace is alive), or
  // not at all by a CLI that exits next.
  if (!o.caller_exits_next || !task.sandbox.enabled) supervise::ReapLaunched(*launched);
  if (!status) return Fail(std::move(status).error());
  return status->ExitCode();
}

// Warnings for the plan's write trees that do not exist: the sandbox skips them (no mount, no
// Landlock rule, nothing made on the host). One inside another, existing write tree stays
// writable through it; one below the private /tmp only inside the run.
static std::vector<std::string> MissingWriteWarnings(const sandbox::SandboxPlan& plan) {
  auto below = [](const fs::path& p, const fs::path& tree) {
    return tree == "/" || p.string().rfind(tree.string() + "/", 0) == 0;
  };
  std::vector<std::string> out;
  for (const auto& w : plan.write) {
    std::error_code ec;
    if (w == "/tmp" || fs::exists(w, ec)) continue;
    bool covered = false;
    for (const auto& o : plan.write) {
      covered = covered || (o != "/tmp" && below(w, o) && fs::exists(o, ec));
    }
    if (covered) continue;
    std::string head = "sandbox: filesystem.write \"" + w.string() + "\" does not exist: it is skipped";
    out.push_back(below(w, "/tmp") ? head + ", and what the command creates there stays in its private /tmp"
                                   : head + ", and the command cannot create it");
  }
  return out;
}

// The effective sandbox for people: one line of layers, then one line per kind of path.
static std::string SandboxText(const nlohmann::json& sb) {
  if (sb.contains("error")) return "sandbox:     unavailable: " + sb["error"].get<std::string>() + "\n";
  if (!sb.value("enabled", false)) return "sandbox:     disabled\n";
  std::string t = "sandbox:     namespaces (user, mount, pid, ipc, uts" +
                  std::string(sb.value("network", "") == "none" ? ", net" : "") + "), network " +
                  sb.value("network", "") + ", Landlock " +
                  (sb.value("landlock_abi", 0) > 0 ? "ABI " + std::to_string(sb.value("landlock_abi", 0)) : "off") +
                  ", seccomp " + (sb.value("seccomp", false) ? "on" : "off") + "\n";
  auto list = [&](const char* label, const char* key) {
    if (!sb.contains(key) || sb[key].empty()) return;
    std::string line;
    for (const auto& p : sb[key]) {
      std::string item = p.is_string() ? p.get<std::string>() : p.value("target", "");
      if (std::string_view(key) == "write" && item == "/tmp") item += " (private)";
      line += (line.empty() ? "" : ", ") + item;
    }
    t += std::string("  ") + label + line + "\n";
  };
  list("read:            ", "read");
  list("write:           ", "write");
  list("denied:          ", "deny");
  list("denied, default: ", "deny_default");
  list("read-only:       ", "protect");
  list("secret files:    ", "secret_mounts");
  list("jitsec, ro:      ", "jitsec_readonly");
  list("jitsec, hidden:  ", "jitsec_hidden");
  return t;
}

Result<Explanation> Explain(const RunOptions& o, const Environment& env) {
  JITSEC_ASSIGN_OR_RETURN(Request r, Evaluate(o, env));
  Explanation ex;
  ex.allowed = r.decision.allowed;
  nlohmann::json& j = ex.doc;
  const policy::Task* task = r.decision.task;
  j["task"] = o.task;
  j["description"] = task ? task->description : "";
  j["policy"] = r.paths.policy.string();
  j["environment"] = r.decision.environment;
  j["environment_source"] = r.decision.environment_source;
  j["decision"] = {{"allowed", r.decision.allowed}, {"rule", r.decision.rule}, {"reason", r.decision.reason}};
  j["command"] = r.decision.command_path.string();
  j["matched_command"] = r.decision.matched_command;
  j["approval"] = r.decision.needs_approval ? "tty" : "none";
  j["context"] = {{"cwd", r.ctx.cwd.string()},
                  {"workspace", r.ctx.workspace().string()},
                  {"repo", r.ctx.git ? r.ctx.git->origin : ""},
                  {"branch", r.ctx.git ? r.ctx.git->branch : ""},
                  {"commit", r.ctx.git ? r.ctx.git->commit : ""},
                  {"ci", r.ctx.ci ? r.ctx.ci_system : ""},
                  {"user", r.ctx.user}};
  nlohmann::json warnings = nlohmann::json::array();
  nlohmann::json creds = nlohmann::json::array();
  if (task) {
    if (task->max_duration) j["max_duration"] = policy::FormatDuration(*task->max_duration);
    for (const auto& c : task->credentials) {
      nlohmann::json cj;
      cj["name"] = c.name;
      cj["provider"] = policy::ResolveProviderName(c, r.decision.environment);
      auto pit = r.policy.providers.find(cj["provider"].get<std::string>());
      if (pit != r.policy.providers.end()) cj["provider_type"] = std::string(policy::ProviderTypeName(pit->second.type));
      if (!c.secret.empty()) cj["secret"] = c.secret;
      if (!c.grants.empty()) cj["grants"] = c.grants;
      auto ttl = c.ttl.count() > 0 ? c.ttl : task->max_duration.value_or(std::chrono::seconds(3600));
      cj["ttl"] = policy::FormatDuration(ttl);
      nlohmann::json dl = nlohmann::json::array();
      for (const auto& d : c.deliver) {
        nlohmann::json dj;
        switch (d.kind) {
          case policy::DeliveryKind::kFile:
            dj["form"] = "file";
            dj["format"] = std::string(policy::FileFormatName(d.format));
            if (!d.env.empty()) dj["env"] = d.env;
            if (!d.path.empty()) dj["path"] = d.path;
            break;
          case policy::DeliveryKind::kStdin:
            dj["form"] = "stdin";
            dj["format"] = std::string(policy::FileFormatName(d.format));
            break;
          case policy::DeliveryKind::kEnv: {
            // An entry without `field` delivers the provider's first secret field.
            std::string field = d.field;
            if (field.empty() && pit != r.policy.providers.end()) {
              field = std::string(policy::DefaultField(pit->second.type));
            }
            dj["form"] = "env";
            dj["env"] = d.env;
            dj["field"] = field;
            if (d.unsafe) {
              dj["unsafe"] = true;
              warnings.push_back("credential " + c.name + ": secret field \"" + field +
                                 "\" is put in the environment variable " + d.env +
                                 " (unsafe: true); any process that can read the environment sees it");
              if (task->sandbox.network == policy::Network::kHost || !task->sandbox.enabled) {
                warnings.push_back("credential " + c.name +
                                   ": a secret in the environment together with network access");
              }
            }
            break;
          }
        }
        dl.push_back(dj);
      }
      cj["deliver"] = dl;
      creds.push_back(cj);
    }
    if (task->credentials.size() > 0) {
      warnings.push_back("secret values shorter than " + std::to_string(mask::Options{}.min_length) +
                         " bytes are delivered but not masked in output");
    }
    nlohmann::json sb;
    sb["enabled"] = task->sandbox.enabled;
    if (task->sandbox.enabled) {
      auto kernel = sandbox::ProbeKernel(r.paths.state_dir);
      if (kernel) {
        auto plan = sandbox::BuildPlan(task->sandbox, SandboxInputs(r, *task), *kernel);
        if (plan) {
          sb = plan->ToJson();
          for (const auto& w : plan->warnings) warnings.push_back(w);
          // What run's sandbox::Prepare warns about, from the same mount plan: a protected path
          // that does not exist freezes its nearest existing parent.
          auto mounts = sandbox::BuildMountPlan(*plan, sandbox::HostPaths());
          if (mounts) {
            for (const auto& w : mounts->warnings) warnings.push_back("sandbox: " + w);
          } else {
            warnings.push_back("sandbox: " + mounts.error().message());
          }
          for (auto& w : MissingWriteWarnings(*plan)) warnings.push_back(std::move(w));
        } else {
          sb["error"] = plan.error().message();
          warnings.push_back("sandbox: " + plan.error().message());
        }
      } else {
        sb["error"] = kernel.error().message();
      }
    } else {
      warnings.push_back("the sandbox is disabled for this task: the command sees the whole machine");
    }
    j["sandbox"] = sb;
  }
  j["credentials"] = creds;
  j["warnings"] = warnings;

  // Text form.
  std::string t;
  t += "task:        " + o.task + (task && !task->description.empty() ? " — " + task->description : "") + "\n";
  t += "policy:      " + r.paths.policy.string() + "\n";
  t += "environment: " + (r.decision.environment.empty() ? std::string("(none)") : r.decision.environment) +
       (r.decision.environment_source.empty() ? "" : " (from " + r.decision.environment_source + ")") + "\n";
  t += "command:     " + r.decision.command_path.string() + "\n";
  t += "decision:    " + std::string(r.decision.allowed ? "allowed" : "refused");
  if (!r.decision.allowed) t += " by " + r.decision.rule + ": " + r.decision.reason;
  t += "\n";
  if (r.decision.needs_approval) t += "approval:    asked on the terminal\n";
  t += "credentials:";
  if (creds.empty()) t += " none";
  t += "\n";
  for (const auto& c : creds) {
    t += "  " + c["name"].get<std::string>() + ": provider " + c["provider"].get<std::string>() + ", ttl " +
         c["ttl"].get<std::string>() + "\n";
    for (const auto& d : c["deliver"]) {
      t += "    deliver " + d["form"].get<std::string>();
      if (d.contains("format")) t += " (" + d["format"].get<std::string>() + ")";
      if (d.contains("env")) t += " -> $" + d["env"].get<std::string>();
      if (d.contains("path")) t += " -> " + d["path"].get<std::string>();
      t += "\n";
    }
  }
  t += SandboxText(j.contains("sandbox") ? j["sandbox"] : nlohmann::json::object());
  for (const auto& w : warnings) t += "warning:     " + w.get<std::string>() + "\n";
  ex.text = std::move(t);
  return ex;
}

Status SecretSet(const Paths& paths, const std::string& name, bool from_tty) {
  JITSEC_TRY(providers::local_store::ValidateSecretName(name));
  SecretBytes value;
  if (from_tty) {
    UniqueFd tty(::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
    if (!tty) return FailErrno(ErrorCode::kIo, "cannot open /dev/tty");
    std::string prompt = "value for " + name + ": ";
    (void)WriteAll(tty.get(), prompt, "write prompt");
    JITSEC_ASSIGN_OR_RETURN(value, [&]() -> Result<SecretBytes> {
      // No echo while the value is typed.
      struct ::termios old {};
      bool have = ::tcgetattr(tty.get(), &old) == 0;
      if (have) {
        struct ::termios noecho = old;
        noecho.c_lflag &= ~tcflag_t(ECHO);
        (void)::tcsetattr(tty.get(), TCSAFLUSH, &noecho);
      }
      SecretBytes v;
      char c;
      while (::read(tty.get(), &c, 1) == 1 && c != '\n') v.Append(std::string_view(&c, 1));
      c = 0;
      if (have) (void)::tcsetattr(tty.get(), TCSAFLUSH, &old);
      (void)WriteAll(tty.get(), "\n", "write newline");
      return v;
    }());
  } else {
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return FailErrno(ErrorCode::kIo, "cannot read standard input");
      if (n == 0) break;
      value.Append(std::string_view(buf, size_t(n)));
    }
    explicit_bzero(buf, sizeof buf);
    // One trailing newline is what `echo value |` adds; it is not part of the secret.
    if (value.size() > 0 && value.Reveal().back() == '\n') {
      size_t keep = value.size() - 1;
      if (keep > 0 && value.Reveal()[keep - 1] == '\r') --keep;
      value = SecretBytes(value.Reveal().substr(0, keep));
    }
  }
  if (value.empty()) return Fail(ErrorCode::kInvalidArgument, "secret " + name + ": empty value, nothing stored");
  JITSEC_ASSIGN_OR_RETURN(auto store, providers::local_store::LocalStore::Open(paths.store_dir, paths.store_key, true));
  return store.Set(name, value);
}

Result<std::vector<std::string>> SecretList(const Paths& paths) {
  std::error_code ec;
  if (!fs::exists(paths.store_dir, ec)) return std::vector<std::string>{};
  JITSEC_ASSIGN_OR_RETURN(auto store, providers::local_store::LocalStore::Open(paths.store_dir, paths.store_key, false));
  return store.List();
}

Status SecretRemove(const Paths& paths, const std::string& name) {
  JITSEC_TRY(providers::local_store::ValidateSecretName(name));
  JITSEC_ASSIGN_OR_RETURN(auto store, providers::local_store::LocalStore::Open(paths.store_dir, paths.store_key, false));
  return store.Remove(name);
}

Result<nlohmann::json> LeasesList(const Paths& paths) {
  JITSEC_ASSIGN_OR_RETURN(journal::Journal journal, journal::Journal::Open(paths.state_dir));
  JITSEC_ASSIGN_OR_RETURN(auto entries, journal.Outstanding());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : entries) {
    auto secs = [](auto tp) {
      return std::chrono::duration_cast<std::chrono::seconds>(tp.time_since_epoch()).count();
    };
    out.push_back({{"lease", e.lease_id},
                   {"run_id", e.run_id},
                   {"task", e.task},
                   {"credential", e.credential},
                   {"provider", e.provider},
                   {"provider_type", e.provider_type},
                   {"handle", e.handle},
                   {"state", e.state == journal::LeaseState::kIssuing ? "issuing" : "issued"},
                   {"pid", e.owner.pid},
                   {"run_alive", e.owner.IsAlive()},
                   {"issued_at", secs(e.issued_at)},
                   {"expires_at", secs(e.expires_at)},
                   {"last_error", e.last_error}});
  }
  return out;
}

Result<SweepReport> LeasesSweep(const Paths& paths, const Environment& env) {
  JITSEC_TRY(EnsureDirectory(paths.state_dir));
  JITSEC_ASSIGN_OR_RETURN(journal::Journal journal, journal::Journal::Open(paths.state_dir));
  auto audit_log = audit::AuditLog::Open(paths.audit_log, paths.audit_key);
  if (audit_log && paths.audit_syslog) audit_log->AlsoSyslog();
  LazyStore store(paths);
  providers::ProviderContext pctx{&store, &env};
  return SweepOrphans(journal, pctx, audit_log ? &*audit_log : nullptr);
}

}  // namespace jitsec::run

namespace jitsec::run {

Result<nlohmann::json> Doctor(const Environment& env, const std::string& policy_flag) {
  auto paths = ResolvePaths(policy_flag, env);
  std::filesystem::path state = paths ? paths->state_dir : std::filesystem::path();
  if (!state.empty()) (void)EnsureDirectory(state);
  JITSEC_ASSIGN_OR_RETURN(auto k, sandbox::ProbeKernel(state));
  nlohmann::json j;
  j["kernel"] = k.ToJson();
  nlohmann::json enforce;
  enforce["namespaces"] = k.user_namespaces ? "user, mount, pid, net, ipc, uts" : "unavailable: sandboxed tasks are refused";
  enforce["landlock"] = k.landlock_abi > 0 ? "ABI " + std::to_string(k.landlock_abi) : "unavailable: sandboxed tasks are refused";
  enforce["seccomp"] = k.seccomp_filter ? "deny-list filter" : "unavailable: sandboxed tasks are refused";
  enforce["secret_files"] = k.memfd_seal ? "sealed memfd" : "unavailable: file deliveries are refused";
  enforce["signal_scoping"] = k.landlock_abi >= 6 ? "yes (Landlock ABI >= 6)" : "no (needs Landlock ABI 6)";
  j["enforced"] = enforce;
  if (paths) {
    j["paths"] = {{"policy", paths->policy.string()},   {"store", paths->store_dir.string()},
                  {"store_key", paths->store_key.string()}, {"state", paths->state_dir.string()},
                  {"audit_log", paths->audit_log.string()}, {"audit_key", paths->audit_key.string()}};
  } else {
    j["paths"] = {{"error", paths.error().message()}};
  }
  return j;
}

}  // namespace jitsec::run
