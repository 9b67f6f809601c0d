#include "policy/policy.h"

#include "base/crypto.h"

#include <array>
#include <charconv>
#include <system_error>

namespace jitsec::policy {
namespace {

constexpr std::array<FieldInfo, 1> kValueFields = {FieldInfo{"value", true}};
constexpr std::array<FieldInfo, 6> kPostgresFields = {
    FieldInfo{"user", false},   FieldInfo{"host", false},    FieldInfo{"port", false},
    FieldInfo{"dbname", false}, FieldInfo{"password", true}, FieldInfo{"uri", true}};

}  // namespace

std::string_view ProviderTypeName(ProviderType t) {
  switch (t) {
    case ProviderType::kStore: return "store";
    case ProviderType::kEnv: return "env";
    case ProviderType::kPostgres: return "postgres";
  }
  return "unknown";
}

std::string_view FileFormatName(FileFormat f) {
  switch (f) {
    case FileFormat::kRaw: return "raw";
    case FileFormat::kPgpass: return "pgpass";
    case FileFormat::kNetrc: return "netrc";
    case FileFormat::kDotenv: return "dotenv";
    case FileFormat::kJson: return "json";
    case FileFormat::kTemplate: return "template";
  }
  return "unknown";
}

std::span<const FieldInfo> ProviderFields(ProviderType t) {
  if (t == ProviderType::kPostgres) return kPostgresFields;
  return kValueFields;
}

std::string_view DefaultField(ProviderType t) {
  for (const FieldInfo& f : ProviderFields(t)) {
    if (f.secret) return f.name;
  }
  return {};
}

const FieldInfo* FindField(ProviderType t, std::string_view name) {
  for (const FieldInfo& f : ProviderFields(t)) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const Task* Policy::FindTask(std::string_view name) const {
  for (const Task& t : tasks) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string Policy::Hash() const {
  auto hash = crypto::Sha256Hex(text);
  return hash ? std::move(*hash) : std::string();
}

std::string Diagnostic::ToString() const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line) + ":" + std::to_string(column);
  }
  out += ": ";
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}

std::optional<std::chrono::seconds> ParseDuration(std::string_view text) {
  // <n>h<n>m<n>s, each part optional but at least one, units in this order, at most once.
  constexpr std::string_view kUnits = "hms";
  constexpr std::array<int64_t, 3> kSeconds = {3600, 60, 1};
  constexpr int64_t kMax = int64_t{100} * 365 * 24 * 3600;  // a century is plenty
  if (text.empty()) return std::nullopt;
  size_t next_unit = 0;
  int64_t total = 0;
  while (!text.empty()) {
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0 || digits > 9 || digits == text.size()) return std::nullopt;
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, n);
    if (ec != std::errc() || ptr != text.data() + digits) return std::nullopt;
    size_t unit = kUnits.find(text[digits], next_unit);
    if (unit == std::string_view::npos) return std::nullopt;
    total += n * kSeconds[unit];
    if (total > kMax) return std::nullopt;
    next_unit = unit + 1;
    text.remove_prefix(digits + 1);
  }
  return std::chrono::seconds(total);
}

std::string FormatDuration(std::chrono::seconds d) {
  int64_t s = d.count();
  if (s <= 0) return "0s";
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s % 3600 >= 60) out += std::to_string(s % 3600 / 60) + "m";
  if (s % 60 != 0) out += std::to_string(s % 60) + "s";
  return out;
}

std::string ResolveProviderName(const Credential& credential, std::string_view environment) {
  constexpr std::string_view kVar = "{env}";
  std::string out;
  std::string_view p = credential.provider;
  for (size_t i = p.find(kVar); i != std::string_view::npos; i = p.find(kVar)) {
    out.append(p.substr(0, i));
    out.append(environment);
    p.remove_prefix(i + kVar.size());
  }
  out.append(p);
  return out;
}

std::filesystem::path DiscoverPolicyPath(const Environment& env, std::string_view flag_value) {
  if (!flag_value.empty()) return std::filesystem::path(flag_value);
  if (auto v = env.Get("JITSEC_POLICY"); v && !v->empty()) return std::filesystem::path(*v);
  std::filesystem::path user = std::filesystem::path(ConfigDir(env)) / "policy.yaml";
  std::error_code ec;
  if (std::filesystem::exists(user, ec)) return user;
  return "/etc/jitsec/policy.yaml";
}

}  // namespace jitsec::policy
