// Delivery: turns issued leases into what the child receives — sealed read-only memfds (named by
// /dev/fd/N in a variable or mounted at a path by the sandbox), standard-input content, and
// environment entries (secret fields only where the policy said `unsafe: true`).
// Never writes a secret anywhere but into a sealed memfd or (unsafe) the child's environment.
// Parent side.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/secret.h"
#include "base/unique_fd.h"
#include "policy/policy.h"
#include "providers/provider.h"

namespace jitsec::delivery {

// Returns a sealed (shrink, grow, write, seal), 0400 memfd holding `data`, positioned at 0; the
// caller owns it. `name` is the memfd's label (visible in /proc, not secret). kUnsupported when
// the kernel cannot seal.
[[nodiscard]] Result<UniqueFd> CreateSealedMemFd(std::string_view name, const SecretBytes& data);

// Renders a file/stdin delivery's content from a lease. Pure (unit-tested).
[[nodiscard]] Result<SecretBytes> Render(const policy::Delivery& delivery,
                                         const policy::Credential& credential,
                                         const providers::Lease& lease);

struct DeliveredFile {
  UniqueFd fd;             // sealed memfd (CLOEXEC in jitsec)
  int target = -1;         // descriptor number in the child
  std::string env_var;     // variable that names /dev/fd/<target> ("" if none)
  std::string mount_path;  // sandbox mount target ("" if none)
  std::string label;       // "DB/pgpass" for messages and audit
};

struct DeliveryPlan {
  std::vector<DeliveredFile> files;
  // Variables to add to the child's environment, in policy order. Values of secret fields appear
  // here only for `unsafe: true` entries.
  std::vector<std::pair<std::string, std::string>> env;
  UniqueFd stdin_memfd;  // set when a credential is delivered on standard input
  std::vector<std::string> unsafe_env_vars;  // names carrying secret values (for wiping/audit)
};

struct IssuedCredential {
  const policy::Credential* credential = nullptr;
  const providers::Lease* lease = nullptr;
};

// The descriptor numbers Prepare gives the `file:` deliveries of `credentials` when every one of
// them is issued, in order, with their mount paths ("" for none). Pure: lets the sandbox be
// built before anything is issued.
struct PlannedFile {
  int target = -1;
  std::string mount_path;
};
std::vector<PlannedFile> PlanFiles(std::span<const policy::Credential> credentials, int first_fd = 3);

// Builds every delivery. Child descriptor numbers start at `first_fd`.
[[nodiscard]] Result<DeliveryPlan> Prepare(std::span<const IssuedCredential> issued, int first_fd = 3);

}  // namespace jitsec::delivery
