// LeaseSet: the credentials of one run. Issues them in policy order, journal-before-act, all or
// nothing; revokes every one of them on every path out of a run (RevokeAll explicitly, the
// destructor as a safety net). Owned by run; never throws, never exits. Parent side.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "journal/journal.h"
#include "policy/policy.h"
#include "providers/provider.h"

namespace jitsec::run {

struct IssuedLease {
  const policy::Credential* credential = nullptr;
  std::unique_ptr<providers::Provider> provider;
  providers::Lease lease;
  bool revoked = false;
};

struct RevokeResult {
  std::string credential;
  providers::LeaseRef ref;
  bool ok = false;
  std::string error;
};

// Receives lease events (run writes them to the audit log).
class LeaseObserver {
 public:
  virtual ~LeaseObserver() = default;
  virtual void OnIssued(const IssuedLease& lease) = 0;
  virtual void OnRevoked(const RevokeResult& result) = 0;
};

class LeaseSet {
 public:
  using ProviderFactory =
      std::function<Result<std::unique_ptr<providers::Provider>>(const policy::ProviderConfig&)>;

  LeaseSet(journal::Journal* journal, ProviderFactory factory, LeaseObserver* observer,
           std::string run_id, std::string task);
  LeaseSet(const LeaseSet&) = delete;
  LeaseSet& operator=(const LeaseSet&) = delete;
  ~LeaseSet();

  // Issues every credential of `task` for `environment`. On the first failure returns its error;
  // what was issued stays in the set (the caller revokes with RevokeAll).
  [[nodiscard]] Status IssueAll(const policy::Policy& policy, const policy::Task& task,
                                const std::string& environment, providers::Deadline deadline);
  // Revokes every issued lease not yet revoked, even after a failure; one result per lease.
  std::vector<RevokeResult> RevokeAll(providers::Deadline deadline);

  const std::vector<IssuedLease>& issued() const { return issued_; }

 private:
  journal::Journal* JournalFor(const providers::Provider& provider) const;
  journal::Journal* journal_;
  ProviderFactory factory_;
  LeaseObserver* observer_;
  std::string run_id_;
  std::string task_;
  std::vector<IssuedLease> issued_;
  bool revoked_all_ = false;
};

}  // namespace jitsec::run
