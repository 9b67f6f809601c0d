// PostgreSQL dynamic credentials: a login role per lease (prefix + lease id), with a random
// password, VALID UNTIL now + TTL and the policy's grants, created in one transaction; revoked by
// forbidding login, terminating its sessions, handing what it owns to the admin role and dropping
// it. One admin session per provider instance serves Issue and Revoke (closed by Revoke and the
// destructor). The only place libpq is seen. Never puts the password (nor the admin secret) in an
// error, a log message or a statement the server could log. Parent side.
#pragma once

#include "providers/provider.h"

#include <memory>
#include <string>
#include <string_view>

namespace jitsec::providers::postgres {

// Issue/revoke for a `type: postgres` provider. Fails with kInvalidArgument for a role_prefix
// that is not [a-z_][a-z0-9_]{0,19} or a conninfo that holds a password.
[[nodiscard]] Result<std::unique_ptr<Provider>> CreatePostgresProvider(
    const policy::ProviderConfig& config, const ProviderContext& ctx);
// The same provider rebuilt from a journal's LeaseRef (revoke_params: conninfo, admin_secret,
// role_prefix); only Revoke is meant to be called on it.
[[nodiscard]] Result<std::unique_ptr<Provider>> CreatePostgresProviderForRevoke(
    const LeaseRef& ref, const ProviderContext& ctx);

// The role a lease gets: prefix + the lease id lower-cased with every character outside
// [a-z0-9_] replaced by "_", cut to 63 bytes (keeping the id's random end).
[[nodiscard]] Result<std::string> RoleNameFor(std::string_view role_prefix,
                                              std::string_view lease_id);
// Grants and prefixes must be plain lower-case identifiers ([a-z_][a-z0-9_]*, at most
// `max_len`): refused here too even though the policy validator checks them (defence in depth).
bool IsPlainIdentifier(std::string_view name, size_t max_len = 63);

// The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5803 form
// "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>", base64), what
// PQencryptPasswordConn computes, but without a connection, so that Issue can hash while the
// server is still starting the admin session. `salt` is raw bytes. Fails with kInvalidArgument
// for a password that is not printable ASCII (SASLprep would have to change it; jitsec's
// passwords are base64url) or no salt.
[[nodiscard]] Result<std::string> ScramSha256Verifier(std::string_view password,
                                                      std::string_view salt, int iterations = 4096);

}  // namespace jitsec::providers::postgres
