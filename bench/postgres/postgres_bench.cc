// Issue + revoke round trip of the postgres provider (performance.md target: < 20 ms) on a
// local server started here over its unix socket, with one grant, as `jitsec run` does it: one
// provider instance per credential (LeaseSet's factory), Issue, then Revoke, then the instance
// is destroyed. Run with --benchmark_repetitions=N to get the median.
//
// --breakdown=N (N rounds, default off) additionally times the pieces with raw libpq, median
// over N rounds, for both the statement-by-statement sequence (two admin logins, one statement
// per round trip: what the provider did before) and the folded one the provider does now (one
// login, one round trip for issue and one for revoke, the new role's password hashed while
// the server starts the login). Wall time per step plus the thread CPU
// time spent in this process, which separates client work (SCRAM PBKDF2) from server time.
#include "base/random.h"
#include "providers/postgres/postgres_provider.h"
#include "support/postgres_server.h"

#include <benchmark/benchmark.h>
#include <libpq-fe.h>

#include <poll.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

using jitsec::testing::PostgresServer;

class Secrets final : public jitsec::providers::SecretSource {
 public:
  jitsec::Result<jitsec::SecretBytes> Get(std::string_view) const override {
    return jitsec::SecretBytes(PostgresServer::kAdminPassword);
  }
};

PostgresServer* g_server = nullptr;

jitsec::policy::ProviderConfig BenchConfig() {
  jitsec::policy::ProviderConfig config;
  config.name = "pg-bench";
  config.type = jitsec::policy::ProviderType::kPostgres;
  config.conninfo = g_server->Conninfo() + " user=" + PostgresServer::kAdminUser;
  config.admin_secret = "pg-admin";
  config.role_prefix = "bench_";
  return config;
}

// What `jitsec run` does per credential: create the provider, issue, revoke, destroy it.
void BM_IssueRevoke(benchmark::State& state) {
  Secrets secrets;
  jitsec::providers::ProviderContext ctx;
  ctx.store = &secrets;
  const auto config = BenchConfig();
  for (auto _ : state) {
    auto provider = jitsec::providers::postgres::CreatePostgresProvider(config, ctx);
    if (!provider) {
      state.SkipWithError(provider.error().message().c_str());
      return;
    }
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

// ---- breakdown ----------------------------------------------------------------------------

double NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}
double CpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

struct Sample {
  double wall = 0;
  double cpu = 0;
};

class Steps {
 public:
  void Start() {
    wall_ = NowMs();
    cpu_ = CpuMs();
  }
  void Stop(const std::string& name) {
    if (std::find(order_.begin(), order_.end(), name) == order_.end()) {
      order_.push_back(name);
    }
    samples_[name].push_back({NowMs() - wall_, CpuMs() - cpu_});
  }
  void Print(const char* title) const {
    std::printf("\n%s (median of %zu rounds)\n", title,
                samples_.empty() ? size_t{0} : samples_.begin()->second.size());
    std::printf("  %-44s %10s %10s\n", "step", "wall ms", "cpu ms");
    double total_wall = 0;
    double total_cpu = 0;
    for (const auto& name : order_) {
      auto s = samples_.at(name);
      auto med = [&s](auto field) {
        std::vector<double> v;
        for (const auto& x : s) {
          v.push_back(x.*field);
        }
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
      };
      double w = med(&Sample::wall);
      double c = med(&Sample::cpu);
      total_wall += w;
      total_cpu += c;
      std::printf("  %-44s %10.2f %10.2f\n", name.c_str(), w, c);
    }
    std::printf("  %-44s %10.2f %10.2f\n", "sum of medians", total_wall, total_cpu);
  }

 private:
  double wall_ = 0;
  double cpu_ = 0;
  std::vector<std::string> order_;
  std::map<std::string, std::vector<Sample>> samples_;
};

PGconn* AdminLogin() {
  std::string conninfo = g_server->Conninfo() + " user=" + PostgresServer::kAdminUser +
                         " password=" + PostgresServer::kAdminPassword;
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::fprintf(stderr, "connect: %s", PQerrorMessage(c));
    std::exit(1);
  }
  return c;
}

// Runs `sql` (possibly several statements) and drains every result; exits on an error.
void Run(PGconn* c, const std::string& sql) {
  if (PQsendQuery(c, sql.c_str()) == 0) {
    std::fprintf(stderr, "send: %s", PQerrorMessage(c));
    std::exit(1);
  }
  while (PGresult* r = PQgetResult(c)) {
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      std::fprintf(stderr, "%s: %s", sql.c_str(), PQresultErrorMessage(r));
      std::exit(1);
    }
    PQclear(r);
  }
}

std::string Verifier(PGconn* c, const std::string& role) {
  char* v = PQencryptPasswordConn(c, "0123456789abcdef0123456789abcdef0123456789a", role.c_str(),
                                  "scram-sha-256");
  std::string out = v;
  PQfreemem(v);
  return out;
}

void BreakdownStatementByStatement(Steps& steps) {
  const std::string role = "bench_" + jitsec::RandomHex(8);
  steps.Start();
  PGconn* c = AdminLogin();
  steps.Stop("issue: admin login (fork + SCRAM)");
  steps.Start();
  std::string verifier = Verifier(c, role);
  steps.Stop("issue: PQencryptPasswordConn (new role)");
  steps.Start();
  Run(c, "BEGIN");
  steps.Stop("issue: BEGIN");
  steps.Start();
  Run(c, "CREATE ROLE " + role + " LOGIN PASSWORD '" + verifier +
             "' VALID UNTIL '2099-01-01 00:00:00+00'");
  steps.Stop("issue: CREATE ROLE");
  steps.Start();
  Run(c, "GRANT app_readonly TO " + role);
  steps.Stop("issue: GRANT");
  steps.Start();
  Run(c, "COMMIT");
  steps.Stop("issue: COMMIT");
  steps.Start();
  PQfinish(c);
  steps.Stop("issue: PQfinish");
  steps.Start();
  c = AdminLogin();
  steps.Stop("revoke: admin login (fork + SCRAM)");
  const std::pair<const char*, std::string> revoke[] = {
      {"revoke: lookup", "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '" + role + "'"},
      {"revoke: ALTER ROLE NOLOGIN", "ALTER ROLE " + role + " NOLOGIN"},
      {"revoke: GRANT role TO CURRENT_USER", "GRANT " + role + " TO CURRENT_USER"},
      {"revoke: pg_terminate_backend",
       "SELECT pg_catalog.pg_terminate_backend(pid, 5000) FROM pg_catalog.pg_stat_activity "
       "WHERE usename = '" +
           role + "'"},
      {"revoke: REASSIGN OWNED", "REASSIGN OWNED BY " + role + " TO CURRENT_USER"},
      {"revoke: DROP OWNED", "DROP OWNED BY " + role},
      {"revoke: DROP ROLE", "DROP ROLE IF EXISTS " + role},
  };
  for (const auto& [name, sql] : revoke) {
    steps.Start();
    Run(c, sql);
    steps.Stop(name);
  }
  steps.Start();
  PQfinish(c);
  steps.Stop("revoke: PQfinish");
}

// The provider's revoke script (postgres_provider.cc), with fixed timeouts.
std::string RevokeScript(const std::string& role) {
  return "BEGIN; SELECT pg_catalog.set_config('statement_timeout', '30000', false); ALTER ROLE " +
         role + " NOLOGIN; GRANT " + role +
         " TO CURRENT_USER; COMMIT; SELECT pg_catalog.pg_terminate_backend(pid, 5000) FROM "
         "pg_catalog.pg_stat_activity WHERE usename = '" +
         role + "'; REASSIGN OWNED BY " + role + " TO CURRENT_USER; DROP OWNED BY " + role +
         "; DROP ROLE IF EXISTS " + role;
}

// The folded issue (one round trip), the folded revoke and the disconnect, as steps.
void IssueRevokeFinish(PGconn* c, const std::string& role, const std::string& verifier, Steps& steps) {
  steps.Start();
  Run(c, "SELECT pg_catalog.set_config('statement_timeout', '30000', true); CREATE ROLE " + role +
             " LOGIN PASSWORD '" + verifier + "' VALID UNTIL '2099-01-01 00:00:00+00'; " +
             "GRANT app_readonly TO " + role);
  steps.Stop("issue: one round trip (CREATE ROLE + GRANT)");
  steps.Start();
  Run(c, RevokeScript(role));
  steps.Stop("revoke: one round trip (two transactions)");
  steps.Start();
  PQfinish(c);
  steps.Stop("PQfinish");
}

void BreakdownFolded(Steps& steps) {
  const std::string role = "bench_" + jitsec::RandomHex(8);
  steps.Start();
  PGconn* c = AdminLogin();
  steps.Stop("admin login (fork + SCRAM), once per run");
  steps.Start();
  std::string verifier = Verifier(c, role);
  steps.Stop("issue: PQencryptPasswordConn (new role)");
  IssueRevokeFinish(c, role, verifier, steps);
}

// Opens the admin session without blocking and runs `work` while the server starts it, as the
// provider does with the new role's password hash.
template <typename Work>
PGconn* AdminLoginOverlapped(Work work) {
  std::string conninfo = g_server->Conninfo() + " user=" + PostgresServer::kAdminUser +
                         " password=" + PostgresServer::kAdminPassword;
  PGconn* c = PQconnectStart(conninfo.c_str());
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  bool done = false;
  while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
    if (st == PGRES_POLLING_READING && !done) {
      done = true;
      work();
    }
    pollfd pfd{};
    pfd.fd = PQsocket(c);
    pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    ::poll(&pfd, 1, 10000);
    st = PQconnectPoll(c);
  }
  if (!done) {
    work();
  }
  if (PQstatus(c) != CONNECTION_OK) {
    std::fprintf(stderr, "connect: %s", PQerrorMessage(c));
    std::exit(1);
  }
  return c;
}

void BreakdownOverlapped(Steps& steps) {
  const std::string role = "bench_" + jitsec::RandomHex(8);
  std::string verifier;
  steps.Start();
  PGconn* c = AdminLoginOverlapped([&] {
    verifier = *jitsec::providers::postgres::ScramSha256Verifier(
        "0123456789abcdef0123456789abcdef0123456789a", jitsec::RandomHex(8), 4096);
  });
  steps.Stop("admin login with the role's hash overlapped");
  IssueRevokeFinish(c, role, verifier, steps);
}

void Breakdown(int rounds) {
  Steps a;
  Steps b;
  Steps d;
  Steps c;
  for (int i = 0; i < rounds; ++i) {
    BreakdownStatementByStatement(a);
    BreakdownFolded(b);
    BreakdownOverlapped(d);
    // Raw costs: a trust login (no SCRAM) vs a password login, an empty round trip.
    c.Start();
    std::string trust = g_server->Conninfo() + " user=" + PostgresServer::kBootstrapUser;
    PGconn* t = PQconnectdb(trust.c_str());
    c.Stop("login without SCRAM (trust: fork + startup)");
    c.Start();
    Run(t, "SELECT 1");
    c.Stop("SELECT 1 round trip");
    PQfinish(t);
    c.Start();
    PQfinish(AdminLogin());
    c.Stop("login with SCRAM-SHA-256 (4096 iterations)");
  }
  a.Print("statement by statement, a fresh admin login for issue and for revoke (before)");
  b.Print("folded: one admin login, one round trip each for issue and revoke");
  d.Print("folded, hashing overlapped with the login (what the provider does now)");
  c.Print("reference costs");
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  int breakdown = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--breakdown=", 12) == 0) {
      breakdown = std::atoi(argv[i] + 12);
    }
  }
  auto server = PostgresServer::Start();
  if (!server) {
    std::fprintf(stderr, "cannot start a PostgreSQL server (are the binaries installed?)\n");
    return 1;
  }
  if (server->Psql("CREATE ROLE app_readonly NOLOGIN").status != 0) {
    return 1;
  }
  g_server = server.get();
  benchmark::RunSpecifiedBenchmarks();
  if (breakdown > 0) {
    Breakdown(breakdown);
  }
  benchmark::Shutdown();
  return 0;
}
