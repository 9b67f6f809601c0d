#include "providers/provider.h"

namespace jitsec::providers {

const Field* Lease::FindField(std::string_view name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const Field* Lease::FirstSecretField() const {
  for (const auto& f : fields) {
    if (f.secret) return &f;
  }
  return nullptr;
}

std::vector<FieldSpec> FieldsOf(policy::ProviderType type) {
  switch (type) {
    case policy::ProviderType::kStore:
    case policy::ProviderType::kEnv:
      return {{"value", true}};
    case policy::ProviderType::kPostgres:
      return {{"user", false},     {"host", false}, {"port", false},
              {"dbname", false},   {"password", true}, {"uri", true}};
  }
  return {};
}

}  // namespace jitsec::providers
