// The policy module's shared pieces: diagnostics, name rules, hashing and ParsePolicy, which
// chains the syntax stage (loader.cc) and the semantic stage (validate.cc).
#include "policy/internal.h"

#include <algorithm>
#include <cstdio>


namespace jitsec::policy {
namespace internal {

const char kNameRule[] =
    "use lowercase letters, digits, \"_\", \".\" and \"-\", starting with a letter or digit";
const char kCredentialNameRule[] =
    "use upper-case letters, digits and \"_\", starting with a letter, e.g. DB_PASSWORD";
const char kEnvVarRule[] = "use letters, digits and \"_\", not starting with a digit";
const char kStoreNameRule[] =
    "use letters, digits, \".\", \"_\" and \"-\", starting with a letter or digit";

namespace {
bool Lower(char c) { return c >= 'a' && c <= 'z'; }
bool Upper(char c) { return c >= 'A' && c <= 'Z'; }
bool Digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

SourcePos PolicyDocument::At(const std::string& path) const {
  auto it = pos.find(path);
  return it == pos.end() ? SourcePos{} : it->second;
}

bool PolicyDocument::Bad(const std::string& path) const {
  for (size_t end = path.size();;) {
    if (bad.count(path.substr(0, end)) != 0) return true;
    size_t cut = path.find_last_of(".[", end - 1);
    if (cut == std::string::npos || cut == 0) return false;
    end = cut;
  }
}

void Diags::Add(SourcePos pos, const std::string& key_path, std::string message,
                DiagnosticKind kind, bool mark_bad) {
  if (mark_bad && doc_ != nullptr) doc_->bad.insert(key_path);
  Diagnostic d;
  d.file = file_;
  d.line = pos.line;
  d.column = pos.column;
  d.key_path = key_path;
  d.message = std::move(message);
  d.kind = kind;
  list_.push_back(std::move(d));
}

std::vector<Diagnostic> Diags::Take() {
  std::stable_sort(list_.begin(), list_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  return std::move(list_);
}

bool IsName(std::string_view s) {
  if (s.empty() || s.size() > 64 || !(Lower(s[0]) || Digit(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return Lower(c) || Digit(c) || c == '_' || c == '.' || c == '-';
  });
}

bool IsCredentialName(std::string_view s) {
  if (s.empty() || s.size() > 64 || !Upper(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return Upper(c) || Digit(c) || c == '_'; });
}

bool IsEnvVarName(std::string_view s) {
  if (s.empty() || Digit(s[0])) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return Lower(c) || Upper(c) || Digit(c) || c == '_'; });
}

bool IsEnvGlob(std::string_view s) {
  if (s.empty() || Digit(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return Lower(c) || Upper(c) || Digit(c) || c == '_' || c == '*' || c == '?';
  });
}

bool IsStoreName(std::string_view s) {
  if (s.empty() || s.size() > 128 || !(Lower(s[0]) || Upper(s[0]) || Digit(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return Lower(c) || Upper(c) || Digit(c) || c == '.' || c == '_' || c == '-';
  });
}

bool IsRoleName(std::string_view s) {
  if (s.empty() || s.size() > 63 || !(Lower(s[0]) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return Lower(c) || Digit(c) || c == '_' || c == '$'; });
}

bool IsRolePrefix(std::string_view s) {
  if (s.empty() || s.size() > 20 || !(Lower(s[0]) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return Lower(c) || Digit(c) || c == '_'; });
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace internal

tl::expected<Policy, std::vector<Diagnostic>> ParsePolicy(std::string_view yaml_text,
                                                          std::string_view display_name) {
  internal::PolicyDocument doc;
  internal::Diags diags{std::string(display_name), &doc};
  internal::ParseYaml(yaml_text, diags, doc);
  Policy& policy = doc.policy;
  if (policy.providers.count("store") == 0) {
    ProviderConfig store;
    store.name = "store";
    store.type = ProviderType::kStore;
    policy.providers.emplace("store", std::move(store));
  }
  internal::Validate(doc, diags);
  if (!diags.empty()) return tl::unexpected(diags.Take());
  policy.text = std::string(yaml_text);
  return std::move(policy);
}

}  // namespace jitsec::policy
