#include "run/lease_set.h"

#include "base/log.h"
#include "base/random.h"

namespace jitsec::run {

LeaseSet::LeaseSet(journal::Journal* journal, ProviderFactory factory, LeaseObserver* observer,
                   std::string run_id, std::string task)
    : journal_(journal),
      factory_(std::move(factory)),
      observer_(observer),
      run_id_(std::move(run_id)),
      task_(std::move(task)) {}

LeaseSet::~LeaseSet() {
  if (!revoked_all_) {
    bool any = false;
    for (const auto& l : issued_) any = any || !l.revoked;
    if (any) {
      log::Warn("revoking credentials that were not revoked explicitly");
      (void)RevokeAll(std::chrono::steady_clock::now() + std::chrono::seconds(30));
    }
  }
}

// Only what a provider creates needs revoking, so only that is journaled.
journal::Journal* LeaseSet::JournalFor(const providers::Provider& provider) const {
  return provider.CreatesCredentials() ? journal_ : nullptr;
}

Status LeaseSet::IssueAll(const policy::Policy& policy, const policy::Task& task,
                          const std::string& environment, providers::Deadline deadline) {
  for (const auto& cred : task.credentials) {
    std::string provider_name = policy::ResolveProviderName(cred, environment);
    auto pit = policy.providers.find(provider_name);
    if (pit == policy.providers.end()) {
      return Fail(ErrorCode::kPolicyInvalid,
                  "credential " + cred.name + ": provider \"" + provider_name + "\" is not defined");
    }
    const policy::ProviderConfig& config = pit->second;
    auto provider = factory_(config);
    if (!provider) return Fail(std::move(provider).error().WithContext("credential " + cred.name));

    providers::LeaseRequest req;
    req.lease_id = NewId("l-");
    req.run_id = run_id_;
    req.credential = cred.name;
    req.secret = cred.secret;
    req.grants = cred.grants;
    req.ttl = cred.ttl.count() > 0 ? cred.ttl
                                   : task.max_duration.value_or(std::chrono::seconds(3600));
    req.environment = environment;

    providers::LeaseRef ref = (*provider)->RefFor(req);
    ref.provider = provider_name;
    journal::Journal* const journal = JournalFor(**provider);
    if (journal != nullptr) {
      journal::Entry e;
      e.lease_id = req.lease_id;
      e.run_id = run_id_;
      e.owner = journal::RunOwner::Self();
      e.task = task_;
      e.credential = cred.name;
      e.provider = provider_name;
      e.provider_type = std::string(policy::ProviderTypeName(config.type));
      e.handle = ref.handle;
      e.revoke_params = ref.revoke_params;
      e.issued_at = std::chrono::system_clock::now();
      e.expires_at = e.issued_at + req.ttl;
      e.state = journal::LeaseState::kIssuing;
      JITSEC_TRY(journal->RecordIssuing(e));
    }
    auto lease = (*provider)->Issue(req, deadline);
    if (!lease) {
      // Nothing may be left at the provider, but the journal says "issuing": revoke now so the
      // record is closed (a provider's revoke of what does not exist is success).
      // kProviderUnavailable promises that nothing was created (provider.h).
      Status cleanup = (*provider)->Revoke(ref, deadline);
      bool nothing_left = cleanup || lease.error().code() == ErrorCode::kProviderUnavailable;
      if (nothing_left && journal != nullptr) (void)journal->RecordRevoked(req.lease_id);
      return Fail(std::move(lease).error().WithContext("credential " + cred.name));
    }
    lease->ref.lease_id = req.lease_id;
    lease->ref.provider = provider_name;
    lease->ref.type = config.type;
    if (journal != nullptr) {
      JITSEC_TRY(journal->RecordIssued(req.lease_id, lease->ref.handle, lease->expires));
    }
    IssuedLease issued;
    issued.credential = &cred;
    issued.provider = std::move(*provider);
    issued.lease = std::move(*lease);
    issued_.push_back(std::move(issued));
    if (observer_ != nullptr) observer_->OnIssued(issued_.back());
  }
  return Ok();
}

std::vector<RevokeResult> LeaseSet::RevokeAll(providers::Deadline deadline) {
  revoked_all_ = true;
  std::vector<RevokeResult> results;
  // Reverse order: the last issued may depend on the first (like destructors).
  for (auto it = issued_.rbegin(); it != issued_.rend(); ++it) {
    if (it->revoked) continue;
    RevokeResult r;
    r.credential = it->credential->name;
    r.ref = it->lease.ref;
    Status st = it->provider->Revoke(it->lease.ref, deadline);
    if (st) {
      r.ok = true;
      it->revoked = true;
      if (journal::Journal* journal = JournalFor(*it->provider)) {
        if (auto j = journal->RecordRevoked(r.ref.lease_id); !j) {
          log::Warn("journal: {}", j.error().message());
        }
      }
    } else {
      r.error = st.error().message();
      if (journal::Journal* journal = JournalFor(*it->provider)) (void)journal->RecordRevokeFailed(r.ref.lease_id, r.error);
    }
    // Wipe the values now: nothing needs them after revocation.
    it->lease.fields.clear();
    if (observer_ != nullptr) observer_->OnRevoked(r);
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace jitsec::run
