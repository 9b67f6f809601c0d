// Internals shared by the policy module's .cc files (not for other modules): the parsed
// document with key positions, the diagnostics collector and the name rules.
// Parent side. yaml-cpp types do not appear here either.
#pragma once

#include "policy/policy.h"

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace jitsec::policy::internal {

// The result of the syntax stage: a Policy plus where each key path's value was written.
// Key paths are concrete ("tasks.deploy.credentials.DB.deliver[0].file.format").
struct PolicyDocument {
  Policy policy;
  std::map<std::string, SourcePos> pos;  // key path -> position of its value (or key)
  std::set<std::string> bad;             // key paths whose value was reported as wrong

  bool Has(const std::string& path) const { return pos.count(path) != 0; }
  SourcePos At(const std::string& path) const;
  // True when `path` or one of its ancestors was reported (later rules then skip it).
  bool Bad(const std::string& path) const;
};

// Collects diagnostics; Take() returns them in file order (line, column; stable).
class Diags {
 public:
  Diags(std::string file, PolicyDocument* doc) : file_(std::move(file)), doc_(doc) {}
  // Reports a problem at `pos` about `key_path`; marks the path bad unless `mark_bad` is false.
  void Add(SourcePos pos, const std::string& key_path, std::string message,
           DiagnosticKind kind = DiagnosticKind::kInvalid, bool mark_bad = true);
  bool empty() const { return list_.empty(); }
  std::vector<Diagnostic> Take();

 private:
  std::string file_;
  PolicyDocument* doc_;
  std::vector<Diagnostic> list_;
};

// Syntax stage: YAML, unknown keys, types and every rule that needs only the value itself.
void ParseYaml(std::string_view text, Diags& diags, PolicyDocument& doc);
// Semantic stage: references between sections and rules that combine keys.
void Validate(PolicyDocument& doc, Diags& diags);

// Name rules (see man/jitsec-policy.5).
bool IsName(std::string_view s);  // task/environment/provider: [a-z0-9][a-z0-9_.-]*, <= 64
bool IsCredentialName(std::string_view s);  // [A-Z][A-Z0-9_]*, <= 64
bool IsEnvVarName(std::string_view s);      // [A-Za-z_][A-Za-z0-9_]*
bool IsEnvGlob(std::string_view s);         // an env var name with * and ? allowed
bool IsStoreName(std::string_view s);       // [A-Za-z0-9][A-Za-z0-9._-]*, <= 128
bool IsRoleName(std::string_view s);        // [a-z_][a-z0-9_$]*, <= 63
bool IsRolePrefix(std::string_view s);      // [a-z_][a-z0-9_]*, <= 20

extern const char kNameRule[];
extern const char kCredentialNameRule[];
extern const char kEnvVarRule[];
extern const char kStoreNameRule[];

std::string Quote(std::string_view s);  // "s" with ", \ and control characters escaped

}  // namespace jitsec::policy::internal
