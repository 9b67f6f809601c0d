#include <chrono>
#include <map>
#include <string>

#include "base/environment.h"
#include "providers/local_store/store.h"
#include "support/support.h"

namespace jitsec::providers::local_store {
namespace {

using Vars = std::map<std::string, std::string>;

using ::jitsec::testing::ScopedTempDir;

// A SecretSource fake: a fixed map, and a count of reads.
class MapSource final : public SecretSource {
 public:
  std::map<std::string, std::string> values;
  mutable int gets = 0;
  Result<SecretBytes> Get(std::string_view name) const override {
    ++gets;
    auto it = values.find(std::string(name));
    if (it == values.end()) return Fail(ErrorCode::kNotFound, "no " + std::string(name));
    return SecretBytes(it->second);
  }
};

LeaseRequest Request(std::string secret) {
  LeaseRequest r;
  r.lease_id = "l-0123456789abcdef";
  r.run_id = "r-1";
  r.credential = "DB";
  r.secret = std::move(secret);
  return r;
}

Deadline Soon() { return std::chrono::steady_clock::now() + std::chrono::seconds(5); }

TEST(StoreProviderTest, IssuesTheStoredValueAsSecretField) {
  MapSource source;
  source.values["pg-admin"] = "s3cret";
  auto provider = CreateStoreProvider(source);
  EXPECT_EQ(provider->type(), policy::ProviderType::kStore);
  auto lease = provider->Issue(Request("pg-admin"), Soon());
  ASSERT_TRUE(lease) << lease.error().message();
  ASSERT_EQ(lease->fields.size(), 1u);
  EXPECT_EQ(lease->fields[0].name, "value");
  EXPECT_TRUE(lease->fields[0].secret);
  EXPECT_EQ(lease->fields[0].value.Reveal(), "s3cret");
  EXPECT_EQ(lease->ref.lease_id, "l-0123456789abcdef");
  EXPECT_EQ(lease->ref.type, policy::ProviderType::kStore);
  EXPECT_EQ(lease->ref.handle, "");
  EXPECT_TRUE(lease->ref.revoke_params.empty());
  EXPECT_EQ(lease->expires, std::chrono::system_clock::time_point::max());
  EXPECT_EQ(source.gets, 1);
}

TEST(StoreProviderTest, IssueWithTtlSetsExpiry) {
  MapSource source;
  source.values["k"] = "v";
  auto provider = CreateStoreProvider(source);
  LeaseRequest r = Request("k");
  r.ttl = std::chrono::seconds(600);
  const auto before = std::chrono::system_clock::now();
  auto lease = provider->Issue(r, Soon());
  ASSERT_TRUE(lease);
  EXPECT_GE(lease->expires, before + std::chrono::seconds(600));
  EXPECT_LE(lease->expires, std::chrono::system_clock::now() + std::chrono::seconds(600));
}

TEST(StoreProviderTest, MissingSecretPassesTheStoreErrorThrough) {
  ScopedTempDir tmp;
  auto store = LocalStore::Open(tmp / "store", tmp / "store.key", /*create=*/true);
  ASSERT_TRUE(store);
  auto provider = CreateStoreProvider(*store);
  auto lease = provider->Issue(Request("absent"), Soon());
  ASSERT_FALSE(lease);
  EXPECT_EQ(lease.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(lease.error().message(),
            "secret \"absent\" not found in the store (jitsec secret set absent)");
}

TEST(StoreProviderTest, IssuesFromARealStore) {
  ScopedTempDir tmp;
  auto store = LocalStore::Open(tmp / "store", tmp / "store.key", /*create=*/true);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->Set("token", SecretBytes("tok-123")));
  auto provider = CreateStoreProvider(*store);
  auto lease = provider->Issue(Request("token"), Soon());
  ASSERT_TRUE(lease) << lease.error().message();
  EXPECT_EQ(lease->fields.at(0).value.Reveal(), "tok-123");
}

TEST(StoreProviderTest, RefForMatchesIssueAndRevokeSucceedsRepeatedly) {
  MapSource source;
  source.values["k"] = "v";
  auto provider = CreateStoreProvider(source);
  LeaseRef before = provider->RefFor(Request("k"));
  EXPECT_EQ(source.gets, 0);  // RefFor reads nothing
  auto lease = provider->Issue(Request("k"), Soon());
  ASSERT_TRUE(lease);
  EXPECT_EQ(before.lease_id, lease->ref.lease_id);
  EXPECT_EQ(before.type, lease->ref.type);
  EXPECT_EQ(before.provider, lease->ref.provider);
  EXPECT_TRUE(provider->Revoke(lease->ref, Soon()));
  EXPECT_TRUE(provider->Revoke(lease->ref, Soon()));  // idempotent
}

TEST(EnvProviderTest, IssuesTheVariableValue) {
  MapEnvironment env(Vars{{"API_TOKEN", "tok-abc"}});
  auto provider = CreateEnvProvider(env);
  EXPECT_EQ(provider->type(), policy::ProviderType::kEnv);
  auto lease = provider->Issue(Request("API_TOKEN"), Soon());
  ASSERT_TRUE(lease) << lease.error().message();
  ASSERT_EQ(lease->fields.size(), 1u);
  EXPECT_EQ(lease->fields[0].name, "value");
  EXPECT_TRUE(lease->fields[0].secret);
  EXPECT_EQ(lease->fields[0].value.Reveal(), "tok-abc");
  EXPECT_EQ(lease->ref.type, policy::ProviderType::kEnv);
  EXPECT_EQ(lease->ref.lease_id, "l-0123456789abcdef");
  EXPECT_TRUE(provider->Revoke(lease->ref, Soon()));
}

TEST(EnvProviderTest, UnsetOrEmptyVariableIsRejected) {
  MapEnvironment env(Vars{{"EMPTY", ""}});
  auto provider = CreateEnvProvider(env);
  for (const char* name : {"UNSET", "EMPTY"}) {
    auto lease = provider->Issue(Request(name), Soon());
    ASSERT_FALSE(lease) << name;
    EXPECT_EQ(lease.error().code(), ErrorCode::kProviderRejected);
    EXPECT_EQ(lease.error().message(),
              "environment variable \"" + std::string(name) + "\" is not set");
  }
}

}  // namespace
}  // namespace jitsec::providers::local_store
