// Provider interface and lease types. A provider issues a credential for a jitsec-chosen lease
// id and revokes it; revoke is idempotent (revoking what is already gone is success).
// A LeaseRef holds everything a later process needs to revoke (no secret), so `jitsec leases
// sweep` can revoke from the journal alone. Parent side.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/environment.h"
#include "base/error.h"
#include "base/secret.h"
#include "policy/policy.h"

namespace jitsec::providers {

using Deadline = std::chrono::steady_clock::time_point;

struct Field {
  std::string name;
  bool secret = false;
  SecretBytes value;  // non-secret fields too (Reveal() is fine for those)
};

struct LeaseRef {
  std::string lease_id;   // jitsec-chosen, e.g. "l-3f9a..."
  std::string provider;   // the resolved provider name ("pg-staging")
  policy::ProviderType type = policy::ProviderType::kStore;
  std::string handle;     // provider-side identifier, not secret (a role name); may be empty
  // Non-secret parameters a later process needs to revoke (conninfo, admin_secret, ...).
  std::map<std::string, std::string> revoke_params;
};

struct Lease {
  LeaseRef ref;
  std::vector<Field> fields;
  std::chrono::system_clock::time_point expires;

  const Field* FindField(std::string_view name) const;
  const Field* FirstSecretField() const;
};

struct LeaseRequest {
  std::string lease_id;
  std::string run_id;
  std::string credential;  // the credential's name in the task (DB, TOKEN)
  std::string secret;      // store/env: which secret / variable
  std::vector<std::string> grants;  // postgres
  std::chrono::seconds ttl{0};
  std::string environment;
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual policy::ProviderType type() const = 0;
  // Issues a credential. On error nothing may be left at the provider, or what is left must be
  // revocable with the LeaseRef that RefFor(request) returns (the journal holds it beforehand).
  // Fail with kProviderUnavailable only when nothing can have been created (could not connect):
  // the caller then closes the journal record without a revoke round trip.
  [[nodiscard]] virtual Result<Lease> Issue(const LeaseRequest& request, Deadline deadline) = 0;
  // Revokes; success when the credential no longer exists.
  [[nodiscard]] virtual Status Revoke(const LeaseRef& ref, Deadline deadline) = 0;
  // The LeaseRef that identifies request's credential before it is issued (journal-before-act).
  virtual LeaseRef RefFor(const LeaseRequest& request) const = 0;
  // False for providers that hand out existing values and create nothing (store, env): their
  // leases have nothing to revoke, so they are not journaled (no disk syncs for them).
  virtual bool CreatesCredentials() const { return true; }
};

// Long-lived secrets a provider may read (the embedded store): admin passwords and the like.
class SecretSource {
 public:
  virtual ~SecretSource() = default;
  [[nodiscard]] virtual Result<SecretBytes> Get(std::string_view name) const = 0;
};

struct ProviderContext {
  const SecretSource* store = nullptr;  // the embedded store
  const Environment* env = nullptr;     // jitsec's own environment (env provider)
};

// Field names of each provider type, in order, and whether each is secret.
struct FieldSpec {
  std::string_view name;
  bool secret;
};
std::vector<FieldSpec> FieldsOf(policy::ProviderType type);

}  // namespace jitsec::providers
