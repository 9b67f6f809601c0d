// The "store" and "env" providers: a long-lived value handed out as a lease. Nothing is created
// at a backend, so revoking is trivial; the lease machinery around them is the real one.
#include <chrono>
#include <cstring>
#include <optional>
#include <string>

#include "providers/local_store/store.h"

namespace jitsec::providers::local_store {
namespace {

std::chrono::system_clock::time_point ExpiryFor(const LeaseRequest& request) {
  if (request.ttl.count() <= 0) return std::chrono::system_clock::time_point::max();
  return std::chrono::system_clock::now() + request.ttl;
}

LeaseRef SimpleRef(const LeaseRequest& request, policy::ProviderType type, std::string provider) {
  LeaseRef ref;
  ref.lease_id = request.lease_id;
  ref.provider = std::move(provider);
  ref.type = type;
  return ref;
}

Lease ValueLease(LeaseRef ref, const LeaseRequest& request, SecretBytes value) {
  Lease lease;
  lease.ref = std::move(ref);
  lease.fields.push_back(Field{"value", true, std::move(value)});
  lease.expires = ExpiryFor(request);
  return lease;
}

class StoreProvider final : public Provider {
 public:
  explicit StoreProvider(const SecretSource& store) : store_(store) {}
  policy::ProviderType type() const override { return policy::ProviderType::kStore; }
  Result<Lease> Issue(const LeaseRequest& request, Deadline /*deadline*/) override {
    JITSEC_ASSIGN_OR_RETURN(SecretBytes value, store_.Get(request.secret));
    return ValueLease(RefFor(request), request, std::move(value));
  }
  Status Revoke(const LeaseRef& /*ref*/, Deadline /*deadline*/) override { return Ok(); }
  bool CreatesCredentials() const override { return false; }
  LeaseRef RefFor(const LeaseRequest& request) const override {
    return SimpleRef(request, policy::ProviderType::kStore, "store");
  }

 private:
  const SecretSource& store_;
};

class EnvProvider final : public Provider {
 public:
  explicit EnvProvider(const Environment& env) : env_(env) {}
  policy::ProviderType type() const override { return policy::ProviderType::kEnv; }
  Result<Lease> Issue(const LeaseRequest& request, Deadline /*deadline*/) override {
    std::optional<std::string> v = env_.Get(request.secret);
    if (!v || v->empty()) {
      return Fail(ErrorCode::kProviderRejected,
                  "environment variable \"" + request.secret + "\" is not set");
    }
    SecretBytes value(*v);
    // Wipe the temporary copy (std::string has no wiping destructor).
    explicit_bzero(v->data(), v->size());
    return ValueLease(RefFor(request), request, std::move(value));
  }
  Status Revoke(const LeaseRef& /*ref*/, Deadline /*deadline*/) override { return Ok(); }
  bool CreatesCredentials() const override { return false; }
  LeaseRef RefFor(const LeaseRequest& request) const override {
    return SimpleRef(request, policy::ProviderType::kEnv, "env");
  }

 private:
  const Environment& env_;
};

}  // namespace

std::unique_ptr<Provider> CreateStoreProvider(const SecretSource& store) {
  return std::make_unique<StoreProvider>(store);
}

std::unique_ptr<Provider> CreateEnvProvider(const Environment& env) {
  return std::make_unique<EnvProvider>(env);
}

}  // namespace jitsec::providers::local_store
