// The typed, immutable Policy (format version 1, see man/jitsec-policy.5) and the loader's
// public entry points. yaml-cpp is seen only inside this module's .cc files.
// Parent side. Paths are kept as written; "~" and relative paths are resolved against the
// run context by the consumers (sandbox, run), never here.
#pragma once

#include "base/environment.h"
#include "base/error.h"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace jitsec::policy {

// Where a value came from in the policy file (1-based; 0 when not from the file).
struct SourcePos {
  int line = 0;
  int column = 0;
};

enum class ProviderType : uint8_t { kStore, kEnv, kPostgres };
std::string_view ProviderTypeName(ProviderType t);

// The fields a credential of a provider type yields, in order (store/env: value;
// postgres: user, host, port, dbname, password, uri). Secret fields are masked in output and
// need `unsafe: true` for env delivery.
struct FieldInfo {
  std::string_view name;
  bool secret = false;
};
std::span<const FieldInfo> ProviderFields(ProviderType t);
// The field used when a delivery names none: the first secret field ("value" / "password").
std::string_view DefaultField(ProviderType t);
// nullptr when the provider type has no such field.
const FieldInfo* FindField(ProviderType t, std::string_view name);

struct ProviderConfig {
  std::string name;
  ProviderType type = ProviderType::kStore;
  // postgres
  std::string conninfo;
  std::string admin_secret;
  std::string role_prefix = "jitsec_";
  SourcePos pos;
};

enum class Approval : uint8_t { kNone, kTty };

struct WhenClause {
  std::optional<bool> ci;
  std::vector<std::string> branch;  // globs; empty = no condition
  std::vector<std::string> repo;    // globs on host/owner/name
  std::vector<std::string> user;    // user names
};

struct EnvironmentConfig {
  std::string name;
  WhenClause when;
  Approval approval = Approval::kNone;
  SourcePos pos;
};

enum class DeliveryKind : uint8_t { kFile, kStdin, kEnv };
enum class FileFormat : uint8_t { kRaw, kPgpass, kNetrc, kDotenv, kJson, kTemplate };
std::string_view FileFormatName(FileFormat f);

struct Delivery {
  DeliveryKind kind = DeliveryKind::kFile;
  std::string env;   // file: variable that receives /dev/fd/N; env: variable name
  std::string path;  // file: mount path inside the sandbox (instead of / besides env)
  FileFormat format = FileFormat::kRaw;  // file and stdin
  std::string field;                     // raw file / env: which field (empty: first secret field)
  std::string template_text;             // format: template
  bool unsafe = false;  // env: a secret field in the environment was explicitly allowed
  SourcePos pos;
};

struct Credential {
  std::string name;                 // [A-Z][A-Z0-9_]*
  std::string provider;             // may contain "{env}"
  std::string secret;               // store/env providers
  std::vector<std::string> grants;  // postgres
  std::chrono::seconds ttl{0};      // 0: not given (defaults to the task's max_duration or 1h)
  std::vector<Delivery> deliver;
  SourcePos pos;
};

enum class Network : uint8_t { kNone, kHost };

// `filesystem.deny` when a task does not write one: where they exist, the usual stores of
// long-lived credentials in the home directory and the host's service sockets (a socket
// reached through the file system is not cut off by a network namespace: the session bus or
// docker's socket would let a command start a process outside the sandbox).
inline constexpr const char* kDefaultDeny[] = {
    "~/.ssh",          "~/.gnupg",          "~/.aws",           "~/.azure",
    "~/.config/gcloud", "~/.config/gh",     "~/.docker",        "~/.kube",
    "~/.netrc",        "~/.npmrc",          "~/.pypirc",        "~/.pgpass",
    "~/.git-credentials", "~/.password-store", "~/.vault-token", "~/.local/share/keyrings",
    "/run/user",       "/run/dbus",         "/run/docker.sock", "/var/run/docker.sock",
    "/run/containerd", "/run/podman",       "/run/snapd.socket", "/run/snapd-snap.socket",
};

struct SandboxConfig {
  bool enabled = true;
  bool enabled_explicit = false;  // the task said `enabled:` itself
  Network network = Network::kNone;
  std::vector<std::string> read{"/"};
  std::vector<std::string> write{".", "/tmp"};
  std::vector<std::string> deny;  // as written; without `deny:` kDefaultDeny applies instead
  bool deny_explicit = false;      // the task said `filesystem.deny:` itself
  std::vector<std::string> protect{".git/hooks", ".git/config"};
  bool protect_explicit = false;  // the task said `protect:` itself (else the default above)
};

struct Task {
  std::string name;
  std::string description;
  std::vector<std::string> environments;             // empty: the task runs with no environment
  std::string default_environment;                   // empty: none
  std::optional<std::vector<std::string>> commands;  // nullopt: any command
  std::optional<std::chrono::seconds> max_duration;
  std::vector<std::string> env_pass{"PATH", "HOME", "TERM", "LANG", "LC_*"};
  std::vector<std::pair<std::string, std::string>> env_set;  // in file order
  std::vector<Credential> credentials;                       // in file order
  SandboxConfig sandbox;
  SourcePos pos;
};

// When a run's audit records reach the disk: kBackground, synced by a helper after jitsec has
// exited (the caller does not wait for the disk); kWait, before jitsec exits.
enum class AuditSync : uint8_t { kBackground, kWait };

struct Settings {
  std::string store;       // empty: default ($XDG_DATA_HOME/jitsec/store)
  std::string state;       // empty: default ($XDG_STATE_HOME/jitsec)
  std::string audit_path;  // empty: <state>/audit.jsonl
  bool audit_syslog = false;
  AuditSync audit_sync = AuditSync::kBackground;
};

struct Policy {
  int version = 1;
  std::filesystem::path file;  // as given (empty for a policy parsed from a string)
  Settings settings;
  std::map<std::string, ProviderConfig> providers;  // always contains "store"
  std::map<std::string, EnvironmentConfig> environments;
  std::vector<Task> tasks;  // in file order
  // The policy text byte for byte as parsed (its canonical form, see Hash).
  std::string text;

  const Task* FindTask(std::string_view name) const;
  // Hex SHA-256 of the canonical form: two policies hash alike exactly when their files are
  // identical (for audit records). Computed on demand: only `run` needs it, and it is the only
  // thing `check`, `tasks` and `explain` would load the crypto provider for.
  std::string Hash() const;
};

// What kind of problem a Diagnostic reports (LoadPolicy maps it to an ErrorCode).
enum class DiagnosticKind : uint8_t {
  kInvalid,     // valid YAML, but not a valid policy (kPolicyInvalid)
  kSyntax,      // not valid YAML (kPolicySyntax)
  kUntrusted,   // trust check failed (kPolicyUntrusted)
  kUnreadable,  // missing or unreadable file (kNotFound / kIo)
};

// One problem found in a policy, printed as "FILE:LINE:COL: key.path: message"
// ("FILE: message" when line is 0, i.e. the problem is about the file itself).
struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key_path;  // e.g. tasks.deploy.credentials.DB.ttl; empty for file-level problems
  std::string message;
  std::string ToString() const;
  DiagnosticKind kind = DiagnosticKind::kInvalid;
};

// Parses and validates YAML text. `display_name` is what diagnostics call the file.
// On failure returns every problem found, in file order (never an empty vector).
tl::expected<Policy, std::vector<Diagnostic>> ParsePolicy(std::string_view yaml_text,
                                                          std::string_view display_name);

// Trust check (not group/world-writable, owned by root or the caller; the same for the
// directory, where a sticky directory like /tmp may be world-writable), then ParsePolicy.
// Untrusted or unreadable files give one Diagnostic ("FILE: message", line 0).
// Names: tasks, environments and providers [a-z0-9][a-z0-9_.-]* (at most 64); credentials
// [A-Z][A-Z0-9_]*; store secrets [A-Za-z0-9][A-Za-z0-9._-]*; an env provider's `secret` is a
// variable name. YAML aliases and multi-document files are refused.
tl::expected<Policy, std::vector<Diagnostic>> LoadPolicyFile(const std::filesystem::path& path);

// LoadPolicyFile for callers that want one Error: kPolicyUntrusted/kPolicySyntax/kPolicyInvalid
// (kNotFound / kIo for a missing or unreadable file) with the first diagnostic as the message,
// plus " (and N more errors; run jitsec check)" when there are more.
Result<Policy> LoadPolicy(const std::filesystem::path& path);

// The policy file to use (cli.md): `flag_value` when non-empty, else $JITSEC_POLICY when
// non-empty, else $XDG_CONFIG_HOME/jitsec/policy.yaml (XDG rules of base/environment.h) when
// it exists, else /etc/jitsec/policy.yaml (returned even when absent: the loader reports it).
std::filesystem::path DiscoverPolicyPath(const Environment& env, std::string_view flag_value);

// The credential's provider name with every "{env}" replaced by `environment`.
std::string ResolveProviderName(const Credential& credential, std::string_view environment);

// "45s", "10m", "1h30m", "2h", "1h0m30s". nullopt when not a duration.
std::optional<std::chrono::seconds> ParseDuration(std::string_view text);
std::string FormatDuration(std::chrono::seconds d);

}  // namespace jitsec::policy
