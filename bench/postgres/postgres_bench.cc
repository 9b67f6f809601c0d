// Issue + revoke round trip of the postgres provider (performance.md target: < 20 ms) on a
// local server started here over its unix socket, with one grant, as `jitsec run` does it:
// a fresh admin connection for each of issue and revoke. Run with --benchmark_repetitions=N
// to get the median.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>

#include "base/random.h"
#include "providers/postgres/postgres_provider.h"
#include "support/postgres_server.h"

namespace {

using jitsec::testing::PostgresServer;

class Secrets final : public jitsec::providers::SecretSource {
 public:
  jitsec::Result<jitsec::SecretBytes> Get(std::string_view) const override {
    return jitsec::SecretBytes(PostgresServer::kAdminPassword);
  }
};

PostgresServer* g_server = nullptr;

void BM_IssueRevoke(benchmark::State& state) {
  Secrets secrets;
  jitsec::providers::ProviderContext ctx;
  ctx.store = &secrets;
  jitsec::policy::ProviderConfig config;
  config.name = "pg-bench";
  config.type = jitsec::policy::ProviderType::kPostgres;
  config.conninfo = g_server->Conninfo() + " user=" + PostgresServer::kAdminUser;
  config.admin_secret = "pg-admin";
  config.role_prefix = "bench_";
  auto provider = jitsec::providers::postgres::CreatePostgresProvider(config, ctx);
  if (!provider) {
    state.SkipWithError(provider.error().message().c_str());
    return;
  }
  for (auto _ : state) {
    jitsec::providers::LeaseRequest req;
    req.lease_id = jitsec::NewId("l-");
    req.grants = {"app_readonly"};
    req.ttl = std::chrono::seconds(600);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    auto lease = (*provider)->Issue(req, deadline);
    if (!lease) {
      state.SkipWithError(lease.error().message().c_str());
      return;
    }
    auto st = (*provider)->Revoke(lease->ref, deadline);
    if (!st) {
      state.SkipWithError(st.error().message().c_str());
      return;
    }
  }
}
BENCHMARK(BM_IssueRevoke)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  auto server = PostgresServer::Start();
  if (!server) {
    std::fprintf(stderr, "cannot start a PostgreSQL server (are the binaries installed?)\n");
    return 1;
  }
  if (server->Psql("CREATE ROLE app_readonly NOLOGIN").status != 0) return 1;
  g_server = server.get();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
