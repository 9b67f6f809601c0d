// Chooses the provider implementation for a policy's `type:` (and for a journal's LeaseRef).
#pragma once

#include <memory>

#include "providers/provider.h"

namespace jitsec::providers {

[[nodiscard]] Result<std::unique_ptr<Provider>> CreateProvider(const policy::ProviderConfig& config,
                                                               const ProviderContext& ctx);
// For revoking a journal entry: the provider rebuilt from the LeaseRef's revoke_params.
[[nodiscard]] Result<std::unique_ptr<Provider>> CreateProviderForRevoke(const LeaseRef& ref,
                                                                        const ProviderContext& ctx);

}  // namespace jitsec::providers
