#include "providers/registry.h"

#include "providers/local_store/store.h"
#include "providers/postgres/postgres_provider.h"

namespace jitsec::providers {

Result<std::unique_ptr<Provider>> CreateProvider(const policy::ProviderConfig& config,
                                                 const ProviderContext& ctx) {
  switch (config.type) {
    case policy::ProviderType::kStore:
      if (ctx.store == nullptr) return Fail(ErrorCode::kInternal, "store provider without a store");
      return local_store::CreateStoreProvider(*ctx.store);
    case policy::ProviderType::kEnv:
      if (ctx.env == nullptr) return Fail(ErrorCode::kInternal, "env provider without an environment");
      return local_store::CreateEnvProvider(*ctx.env);
    case policy::ProviderType::kPostgres:
      return postgres::CreatePostgresProvider(config, ctx);
  }
  return Fail(ErrorCode::kInternal, "unknown provider type");
}

Result<std::unique_ptr<Provider>> CreateProviderForRevoke(const LeaseRef& ref,
                                                          const ProviderContext& ctx) {
  switch (ref.type) {
    case policy::ProviderType::kStore:
    case policy::ProviderType::kEnv: {
      policy::ProviderConfig config;
      config.name = ref.provider;
      config.type = ref.type;
      return CreateProvider(config, ctx);
    }
    case policy::ProviderType::kPostgres:
      return postgres::CreatePostgresProviderForRevoke(ref, ctx);
  }
  return Fail(ErrorCode::kInternal, "unknown provider type");
}

}  // namespace jitsec::providers
