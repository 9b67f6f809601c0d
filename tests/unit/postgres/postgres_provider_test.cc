// Against a real server started per suite (tests/support/postgres_server.h); skipped without
// the PostgreSQL binaries (and failing instead under JITSEC_SANDBOX_MUST_WORK=1).
#include "providers/postgres/postgres_provider.h"

#include "base/encoding.h"
#include "base/random.h"
#include "support/postgres_server.h"
#include "support/support.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace jitsec::providers::postgres {
namespace {

using jitsec::testing::Feature;
using jitsec::testing::PostgresServer;

class FakeSecrets final : public SecretSource {
 public:
  Result<SecretBytes> Get(std::string_view name) const override {
    auto it = values_.find(std::string(name));
    if (it == values_.end()) {
      return Fail(ErrorCode::kNotFound, "secret \"" + std::string(name) + "\" not found");
    }
    return SecretBytes(it->second);
  }
  void Set(std::string name, std::string value) { values_[std::move(name)] = std::move(value); }

 private:
  std::map<std::string, std::string> values_;
};

Deadline Soon() { return std::chrono::steady_clock::now() + std::chrono::seconds(20); }

struct PgConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConn = std::unique_ptr<PGconn, PgConnCloser>;

std::string Field(const Lease& lease, std::string_view name) {
  const auto* f = lease.FindField(name);
  return f == nullptr ? "<missing>" : std::string(f->value.Reveal());
}

// Connects as the lease's role with the delivered fields.
PgConn ConnectAs(const Lease& lease) {
  std::string user = Field(lease, "user"), host = Field(lease, "host"), port = Field(lease, "port"),
              db = Field(lease, "dbname"), pw = Field(lease, "password");
  const char* keys[] = {"host", "port", "dbname", "user", "password", nullptr};
  const char* vals[] = {host.c_str(), port.c_str(), db.c_str(), user.c_str(), pw.c_str(), nullptr};
  return PgConn(PQconnectdbParams(keys, vals, 0));
}

class PostgresProviderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!jitsec::testing::HasFeature(Feature::kPostgres)) {
      return;
    }
    server_ = PostgresServer::Start().release();
    if (server_ == nullptr) {
      return;
    }
    auto r = server_->Psql(
        "CREATE ROLE app_readonly NOLOGIN; CREATE ROLE app_owner NOLOGIN; "
        "CREATE ROLE app_extra NOLOGIN; GRANT CREATE ON SCHEMA public TO app_owner;");
    if (r.status != 0) {
      ADD_FAILURE() << "setup: " << r.err;
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    JITSEC_SKIP_UNLESS(Feature::kPostgres);
    ASSERT_NE(server_, nullptr) << "could not start the test server";
    if (!server_->Restart()) {
      FAIL() << "server down";
    }
    prefix_ = "jt" + RandomHex(4) + "_";
    secrets_.Set("pg-admin", PostgresServer::kAdminPassword);
    config_.name = "pg-test";
    config_.type = policy::ProviderType::kPostgres;
    config_.conninfo = server_->Conninfo() + " user=" + PostgresServer::kAdminUser;
    config_.admin_secret = "pg-admin";
    config_.role_prefix = prefix_;
    ctx_.store = &secrets_;
  }

  std::unique_ptr<Provider> MakeProvider() {
    auto p = CreatePostgresProvider(config_, ctx_);
    EXPECT_TRUE(p.has_value()) << (p ? "" : p.error().message());
    return p ? std::move(*p) : nullptr;
  }

  LeaseRequest Request(std::vector<std::string> grants = {"app_readonly"}) {
    LeaseRequest r;
    r.lease_id = NewId("l-");
    r.run_id = NewId("r-");
    r.credential = "DB";
    r.grants = std::move(grants);
    r.ttl = std::chrono::seconds(600);
    return r;
  }

  // Roles of this test (by prefix), comma-separated and sorted.
  std::string OurRoles() {
    return server_->Query(
        "SELECT coalesce(string_agg(rolname, ',' ORDER BY rolname), '') FROM "
        "pg_roles WHERE starts_with(rolname, '" +
        prefix_ + "')");
  }

  // Sessions of the admin role opened by the provider (application_name "jitsec").
  std::string AdminSessions() {
    return server_->Query("SELECT count(*) FROM pg_stat_activity WHERE usename = '" +
                          std::string(PostgresServer::kAdminUser) +
                          "' AND application_name = 'jitsec'");
  }

  // Turns a server setting on for the rest of the suite's server (ALTER SYSTEM + reload).
  void SetServer(const std::string& setting) {
    ASSERT_EQ(server_->Psql("ALTER SYSTEM SET " + setting, "postgres").status, 0);
    ASSERT_EQ(server_->Psql("SELECT pg_reload_conf()", "postgres").status, 0);
  }
  void ResetServer(const std::string& name) {
    server_->Psql("ALTER SYSTEM RESET " + name, "postgres");
    server_->Psql("SELECT pg_reload_conf()", "postgres");
  }

  // Occurrences of `needle` in the server log after byte `from`.
  size_t CountInLog(const std::string& needle, size_t from) {
    std::string log = jitsec::testing::ReadTextFile(server_->log_path());
    size_t n = 0;
    for (size_t at = log.find(needle, from); at != std::string::npos;
         at = log.find(needle, at + 1)) {
      ++n;
    }
    return n;
  }
  size_t LogSize() { return jitsec::testing::ReadTextFile(server_->log_path()).size(); }

  static PostgresServer* server_;
  std::string prefix_;
  FakeSecrets secrets_;
  policy::ProviderConfig config_;
  ProviderContext ctx_;
};

PostgresServer* PostgresProviderTest::server_ = nullptr;

TEST(PostgresRoleNameTest, LowercasesAndMapsLeaseIdCharacters) {
  auto r = RoleNameFor("jitsec_", "l-3F9a.b");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, "jitsec_l_3f9a_b");
}

TEST(PostgresRoleNameTest, KeepsTheEndOfALongIdWithin63Bytes) {
  std::string id(80, 'a');
  id += "tail";
  auto r = RoleNameFor("p_", id);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->size(), 63U);
  EXPECT_TRUE(r->starts_with("p_"));
  EXPECT_TRUE(r->ends_with("tail"));
}

TEST(PostgresRoleNameTest, RefusesHostilePrefix) {
  auto r = RoleNameFor("x\"; DROP ROLE postgres; --", "l-1");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(),
            "role_prefix \"x\"; DROP ROLE postgres; --\" is not a valid role name prefix");
}

TEST(PostgresRoleNameTest, PlainIdentifierRules) {
  EXPECT_TRUE(IsPlainIdentifier("app_owner"));
  EXPECT_TRUE(IsPlainIdentifier("_x9"));
  EXPECT_FALSE(IsPlainIdentifier(""));
  EXPECT_FALSE(IsPlainIdentifier("9x"));
  EXPECT_FALSE(IsPlainIdentifier("App"));
  EXPECT_FALSE(IsPlainIdentifier("a-b"));
  EXPECT_FALSE(IsPlainIdentifier("a\"b"));
  EXPECT_FALSE(IsPlainIdentifier(std::string(64, 'a')));
  EXPECT_TRUE(IsPlainIdentifier(std::string(63, 'a')));
}

TEST(PostgresScramTest, VerifierMatchesTheRfc7677Example) {
  // RFC 7677's user "user" / password "pencil" with its salt; the same verifier is in
  // PostgreSQL's own regression tests (password.sql) and Python's hashlib agrees.
  std::string salt = *Base64Decode("W22ZaJ0SNY7soEsUEjb6gQ==");
  auto v = ScramSha256Verifier("pencil", salt, 4096);
  ASSERT_TRUE(v.has_value()) << v.error().message();
  EXPECT_EQ(
      *v,
      "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
      ":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
}

TEST(PostgresScramTest, RefusesPasswordsSaslprepWouldChangeAndEmptySalt) {
  auto v = ScramSha256Verifier("caf\xc3\xa9", "salt", 4096);
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(v.error().message(), "password is not printable ASCII");
  auto tab = ScramSha256Verifier("a\tb", "salt", 4096);
  ASSERT_FALSE(tab.has_value());
  auto nosalt = ScramSha256Verifier("pencil", "", 4096);
  ASSERT_FALSE(nosalt.has_value());
  EXPECT_EQ(nosalt.error().message(), "empty SCRAM salt");
}

TEST(PostgresProviderCreateTest, RefusesHostileRolePrefix) {
  policy::ProviderConfig c;
  c.name = "pg-x";
  c.type = policy::ProviderType::kPostgres;
  c.conninfo = "host=/tmp";
  c.admin_secret = "a";
  c.role_prefix = "Evil\"";
  auto p = CreatePostgresProvider(c, {});
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(p.error().message(),
            "postgres provider \"pg-x\": role_prefix \"Evil\"\" is not a valid role name prefix "
            "(lowercase letters, digits and \"_\", starting with a letter or \"_\", at most 20 "
            "characters)");
}

TEST(PostgresProviderCreateTest, RefusesConninfoWithPassword) {
  policy::ProviderConfig c;
  c.name = "pg-x";
  c.type = policy::ProviderType::kPostgres;
  c.conninfo = "host=/tmp password=hunter2";
  c.admin_secret = "a";
  auto p = CreatePostgresProvider(c, {});
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().message(),
            "postgres provider \"pg-x\": conninfo must not contain a password (keep it in "
            "admin_secret)");
}

TEST(PostgresProviderCreateTest, RevokeProviderNeedsAllRevokeParams) {
  LeaseRef ref;
  ref.lease_id = "l-1";
  ref.provider = "pg-x";
  ref.type = policy::ProviderType::kPostgres;
  ref.revoke_params = {{"conninfo", "host=/tmp"}, {"role_prefix", "jitsec_"}};
  auto p = CreatePostgresProviderForRevoke(ref, {});
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code(), ErrorCode::kCorrupt);
  EXPECT_EQ(p.error().message(),
            "postgres provider \"pg-x\": lease \"l-1\" has no revoke parameter \"admin_secret\"");
}

TEST_F(PostgresProviderTest, IssueCreatesLoginRoleWithValidUntilAndExactlyTheGrants) {
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto req = Request({"app_readonly", "app_extra"});
  auto lease = p->Issue(req, Soon());
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  const std::string role = Field(*lease, "user");
  EXPECT_EQ(role, *RoleNameFor(prefix_, req.lease_id));
  EXPECT_EQ(lease->ref.handle, role);
  EXPECT_EQ(p->RefFor(req).handle, role);  // journal-before-act names the same role
  EXPECT_EQ(server_->Query("SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                           "WHERE rolname = '" +
                           role + "'"),
            "t|f|f|f");
  // VALID UNTIL is now + ttl (600 s), within a few seconds.
  EXPECT_EQ(server_->Query("SELECT abs(extract(epoch FROM rolvaliduntil - now()) - 600) < 30 "
                           "FROM pg_roles WHERE rolname = '" +
                           role + "'"),
            "t");
  EXPECT_EQ(server_->Query("SELECT string_agg(r.rolname, ',' ORDER BY r.rolname) FROM "
                           "pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u "
                           "ON u.oid = m.member WHERE u.rolname = '" +
                           role + "'"),
            "app_extra,app_readonly");
  EXPECT_EQ(Field(*lease, "host"), server_->socket_dir());
  EXPECT_EQ(Field(*lease, "port"), std::to_string(server_->port()));
  EXPECT_EQ(Field(*lease, "dbname"), "app");
  EXPECT_EQ(Field(*lease, "password").size(), 43U);  // 32 bytes, base64url without padding
  // Stored as PostgreSQL's default SCRAM verifier: 4096 iterations, 16-byte salt.
  EXPECT_EQ(server_->Query("SELECT rolpassword ~ '^SCRAM-SHA-256\\$4096:[A-Za-z0-9+/]{22}==\\$' "
                           "FROM pg_authid WHERE rolname = '" +
                           role + "'"),
            "t");
  ASSERT_TRUE(p->Revoke(lease->ref, Soon()));
}

TEST_F(PostgresProviderTest, IssuedPasswordAndUriLogIn) {
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto lease = p->Issue(Request(), Soon());
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  PgConn conn = ConnectAs(*lease);
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
  PGresult* res = PQexec(conn.get(), "SELECT current_user");
  ASSERT_EQ(PQresultStatus(res), PGRES_TUPLES_OK);
  EXPECT_EQ(std::string(PQgetvalue(res, 0, 0)), Field(*lease, "user"));
  PQclear(res);
  std::string uri = Field(*lease, "uri");
  EXPECT_TRUE(uri.starts_with("postgresql://" + Field(*lease, "user") + ":")) << "uri shape";
  EXPECT_TRUE(uri.ends_with("/app?host=" + PercentEncode(server_->socket_dir()))) << "uri shape";
  PgConn by_uri(PQconnectdb(uri.c_str()));
  EXPECT_EQ(PQstatus(by_uri.get()), CONNECTION_OK) << PQerrorMessage(by_uri.get());
  by_uri.reset();
  conn.reset();
  ASSERT_TRUE(p->Revoke(lease->ref, Soon()));
}

TEST_F(PostgresProviderTest, RevokeTerminatesOpenSessionAndDropsTheRole) {
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto lease = p->Issue(Request(), Soon());
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  PgConn conn = ConnectAs(*lease);
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
  auto st = p->Revoke(lease->ref, Soon());
  ASSERT_TRUE(st.has_value()) << st.error().message();
  EXPECT_EQ(OurRoles(), "");
  PGresult* res = PQexec(conn.get(), "SELECT 1");
  EXPECT_NE(PQresultStatus(res), PGRES_TUPLES_OK) << "the session survived revocation";
  PQclear(res);
  EXPECT_EQ(server_->Query("SELECT count(*) FROM pg_stat_activity WHERE usename = '" +
                           Field(*lease, "user") + "'"),
            "0");
}

TEST_F(PostgresProviderTest, RevokingTwiceOrANeverIssuedLeaseIsSuccess) {
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto lease = p->Issue(Request(), Soon());
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  EXPECT_TRUE(p->Revoke(lease->ref, Soon()));
  auto again = p->Revoke(lease->ref, Soon());
  EXPECT_TRUE(again.has_value()) << again.error().message();
  auto never = p->Revoke(p->RefFor(Request()), Soon());
  EXPECT_TRUE(never.has_value()) << never.error().message();
}

TEST_F(PostgresProviderTest, ObjectsTheRoleCreatedSurviveRevocationOwnedByTheAdmin) {
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto lease = p->Issue(Request({"app_owner"}), Soon());
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  const std::string table = prefix_ + "migrated";
  {
    PgConn conn = ConnectAs(*lease);
    ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
    PGresult* res = PQexec(conn.get(), ("CREATE TABLE " + table + " (id int)").c_str());
    ASSERT_EQ(PQresultStatus(res), PGRES_COMMAND_OK) << PQresultErrorMessage(res);
    PQclear(res);
  }
  auto st = p->Revoke(lease->ref, Soon());
  ASSERT_TRUE(st.has_value()) << st.error().message();
  EXPECT_EQ(OurRoles(), "");
  EXPECT_EQ(server_->Query("SELECT tableowner FROM pg_tables WHERE tablename = '" + table + "'"),
            PostgresServer::kAdminUser);
}

TEST_F(PostgresProviderTest, MissingGrantRoleFailsIssuanceAndLeavesNoRole) {
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto lease = p->Issue(Request({"app_readonly", "no_such_role"}), Soon());
  ASSERT_FALSE(lease.has_value());
  EXPECT_EQ(lease.error().code(), ErrorCode::kProviderRejected);
  EXPECT_EQ(lease.error().message(),
            "postgres provider \"pg-test\": grant \"no_such_role\" failed: role \"no_such_role\" "
            "does not exist");
  EXPECT_EQ(OurRoles(), "");
}

TEST_F(PostgresProviderTest, HostileGrantIsRefusedBeforeAnythingIsCreated) {
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  for (std::string g : {"app\" TO PUBLIC; --", "App_Owner", "x y", ""}) {
    auto lease = p->Issue(Request({"app_readonly", g}), Soon());
    ASSERT_FALSE(lease.has_value()) << g;
    EXPECT_EQ(lease.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(lease.error().message(),
              "postgres provider \"pg-test\": invalid grant \"" + g +
                  "\" (lowercase letters, digits and \"_\", starting with a letter or \"_\", at "
                  "most 63 characters)");
  }
  EXPECT_EQ(OurRoles(), "");
}

TEST_F(PostgresProviderTest, RevokeRefusesARoleThatIsNotTheLeasesOwn) {
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  LeaseRef ref = p->RefFor(Request());
  ref.handle = PostgresServer::kAdminUser;
  auto st = p->Revoke(ref, Soon());
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().message(),
            "postgres provider \"pg-test\": refusing to revoke role "
            "\"jitsec_admin\": not the role jitsec creates for lease \"" +
                ref.lease_id + "\"");
  EXPECT_EQ(server_->Query("SELECT count(*) FROM pg_roles WHERE rolname = 'jitsec_admin'"), "1");
}

TEST_F(PostgresProviderTest, WrongAdminPasswordIsOneLineWithoutThePassword) {
  const std::string wrong = "wrong-" + RandomHex(8);
  secrets_.Set("pg-admin", wrong);
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto lease = p->Issue(Request(), Soon());
  ASSERT_FALSE(lease.has_value());
  EXPECT_EQ(lease.error().code(), ErrorCode::kProviderUnavailable);
  EXPECT_EQ(lease.error().message(),
            "postgres provider \"pg-test\": cannot connect: connection to server on socket \"" +
                server_->socket_dir() + "/.s.PGSQL." + std::to_string(server_->port()) +
                "\" failed: FATAL:  password authentication failed for user \"jitsec_admin\"");
  EXPECT_EQ(lease.error().message().find(wrong), std::string::npos);
}

TEST_F(PostgresProviderTest, AdminSecretMayBeAFullConnectionUri) {
  secrets_.Set("pg-admin", std::string("postgresql://jitsec_admin:") +
                               PostgresServer::kAdminPassword +
                               "@/app?host=" + PercentEncode(server_->socket_dir()) +
                               "&port=" + std::to_string(server_->port()));
  config_.conninfo = "";
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto lease = p->Issue(Request(), Soon());
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  EXPECT_EQ(Field(*lease, "dbname"), "app");
  // The revoke parameters name the secret, never its value.
  for (const auto& [k, v] : lease->ref.revoke_params) {
    EXPECT_EQ(v.find(PostgresServer::kAdminPassword), std::string::npos) << k;
  }
  ASSERT_TRUE(p->Revoke(lease->ref, Soon()));
}

TEST_F(PostgresProviderTest, MissingAdminSecretNamesIt) {
  config_.admin_secret = "nope";
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto lease = p->Issue(Request(), Soon());
  ASSERT_FALSE(lease.has_value());
  EXPECT_EQ(lease.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(lease.error().message(),
            "postgres provider \"pg-test\": admin secret \"nope\": secret \"nope\" not found");
}

TEST_F(PostgresProviderTest, ServerDownBeforeIssueIsUnavailableAndLeavesNothing) {
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(server_->Stop());
  auto lease = p->Issue(Request(), Soon());
  ASSERT_TRUE(server_->Restart());
  ASSERT_FALSE(lease.has_value());
  EXPECT_EQ(lease.error().code(), ErrorCode::kProviderUnavailable);
  EXPECT_EQ(lease.error().message(),
            "postgres provider \"pg-test\": cannot connect: connection to server on socket \"" +
                server_->socket_dir() + "/.s.PGSQL." + std::to_string(server_->port()) +
                "\" failed: No such file or directory");
  EXPECT_EQ(OurRoles(), "");
}

TEST_F(PostgresProviderTest, ServerDownBeforeRevokeFailsAndALaterRevokeFromTheRefWorks) {
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto lease = p->Issue(Request(), Soon());
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  ASSERT_TRUE(server_->Stop());
  auto st = p->Revoke(lease->ref, Soon());
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code(), ErrorCode::kProviderUnavailable);
  EXPECT_TRUE(st.error().message().starts_with("postgres provider \"pg-test\": cannot connect: "))
      << st.error().message();
  ASSERT_TRUE(server_->Restart());
  EXPECT_EQ(OurRoles(), Field(*lease, "user"));
  // As `jitsec leases sweep` does: a provider rebuilt from the journal's LeaseRef alone.
  auto again = CreatePostgresProviderForRevoke(lease->ref, ctx_);
  ASSERT_TRUE(again.has_value()) << again.error().message();
  auto st2 = (*again)->Revoke(lease->ref, Soon());
  ASSERT_TRUE(st2.has_value()) << st2.error().message();
  EXPECT_EQ(OurRoles(), "");
}

TEST_F(PostgresProviderTest, PasswordReachesNeitherServerLogNorCatalogInClear) {
  ASSERT_EQ(server_->Psql("ALTER SYSTEM SET log_statement = 'all'", "postgres").status, 0);
  ASSERT_EQ(server_->Psql("SELECT pg_reload_conf()", "postgres").status, 0);
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto lease = p->Issue(Request(), Soon());
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  std::string pw = Field(*lease, "password");
  ASSERT_TRUE(p->Revoke(lease->ref, Soon()));
  server_->Psql("ALTER SYSTEM RESET log_statement", "postgres");
  server_->Psql("SELECT pg_reload_conf()", "postgres");
  std::string log = jitsec::testing::ReadTextFile(server_->log_path());
  EXPECT_NE(log.find("CREATE ROLE"), std::string::npos) << "statement logging did not work";
  EXPECT_NE(log.find("SCRAM-SHA-256$"), std::string::npos);
  EXPECT_EQ(log.find(pw), std::string::npos) << "the password is in the server log";
}

// Needs no server: a unix socket that accepts connections into its backlog and never answers.
TEST(PostgresProviderConnectTest, GivesUpAtTheDeadlineWhenTheServerNeverAnswers) {
  jitsec::testing::ScopedTempDir dir;
  const std::string path = (dir / ".s.PGSQL.5999").string();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 8), 0);

  FakeSecrets secrets;
  secrets.Set("pg-admin", "not-used-4c1e9d");
  ProviderContext ctx;
  ctx.store = &secrets;
  policy::ProviderConfig config;
  config.name = "pg-test";
  config.type = policy::ProviderType::kPostgres;
  config.conninfo = "host=" + dir.path().string() + " port=5999 user=jitsec_admin dbname=app";
  config.admin_secret = "pg-admin";
  config.role_prefix = "jt_";
  auto p = CreatePostgresProvider(config, ctx);
  ASSERT_TRUE(p.has_value()) << p.error().message();
  LeaseRequest req;
  req.lease_id = NewId("l-");
  req.grants = {"app_readonly"};
  const auto start = std::chrono::steady_clock::now();
  auto lease = (*p)->Issue(req, start + std::chrono::milliseconds(100));
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  ASSERT_FALSE(lease.has_value());
  EXPECT_EQ(lease.error().code(), ErrorCode::kProviderUnavailable);
  EXPECT_EQ(lease.error().message(),
            "postgres provider \"pg-test\": cannot connect: connection to server on socket \"" +
                path + "\" failed: timeout expired");
  // At least libpq's 2-second minimum of connect_timeout, and not much more.
  EXPECT_GE(took, std::chrono::seconds(2));
  EXPECT_LT(took, std::chrono::seconds(5));
}

TEST_F(PostgresProviderTest, IssueAndRevokeShareOneAdminLoginWithoutServerWarnings) {
  SetServer("log_connections = on");
  // The reload is asynchronous: wait until a new connection is logged.
  const size_t before = LogSize();
  for (int i = 0; i < 50 && CountInLog("connection authorized", before) == 0; ++i) {
    server_->Psql("SELECT 1");
  }
  ASSERT_GT(CountInLog("connection authorized", before), 0U) << "log_connections did not apply";
  const size_t from = LogSize();
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto lease = p->Issue(Request({"app_readonly", "app_extra"}), Soon());
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  auto st = p->Revoke(lease->ref, Soon());
  ASSERT_TRUE(st.has_value()) << st.error().message();
  ResetServer("log_connections");
  EXPECT_EQ(OurRoles(), "");
  EXPECT_EQ(CountInLog("connection authorized: user=jitsec_admin", from), 1U);
  // Neither script provokes "there is no transaction in progress" and the like.
  EXPECT_EQ(CountInLog("WARNING", from), 0U);
  EXPECT_EQ(CountInLog("ERROR", from), 0U);
}

TEST_F(PostgresProviderTest, AdminSessionLastsFromIssueToRevokeOnly) {
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(AdminSessions(), "0");
  auto lease = p->Issue(Request(), Soon());
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  EXPECT_EQ(AdminSessions(), "1");
  ASSERT_TRUE(p->Revoke(lease->ref, Soon()));
  EXPECT_EQ(AdminSessions(), "0");

  // Destroying a provider that still holds the session (no revoke yet) closes it too.
  auto lease2 = p->Issue(Request(), Soon());
  ASSERT_TRUE(lease2.has_value()) << lease2.error().message();
  auto ref2 = lease2->ref;
  EXPECT_EQ(AdminSessions(), "1");
  p.reset();
  for (int i = 0; i < 100 && AdminSessions() != "0"; ++i) {
    ::usleep(10000);  // async exit
  }
  EXPECT_EQ(AdminSessions(), "0");
  auto again = MakeProvider();
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(again->Revoke(ref2, Soon()));
  EXPECT_EQ(OurRoles(), "");
}

TEST_F(PostgresProviderTest, HeldAdminSessionIsNotInheritedAcrossExec) {
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto lease = p->Issue(Request(), Soon());
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  // The held session is a unix socket of this process: every socket must be close-on-exec.
  size_t sockets = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = std::stoi(e.path().filename().string());
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
      continue;
    }
    ++sockets;
    EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0) << "socket fd " << fd << " leaks into exec";
  }
  EXPECT_GE(sockets, 1U) << "no admin session socket found";
  ASSERT_TRUE(p->Revoke(lease->ref, Soon()));
}

TEST_F(PostgresProviderTest, RevokeReconnectsWhenTheServerDroppedTheHeldSession) {
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto lease = p->Issue(Request(), Soon());
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  ASSERT_EQ(server_->Query("SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                           "WHERE usename = 'jitsec_admin' AND application_name = 'jitsec'"),
            "1");
  auto st = p->Revoke(lease->ref, Soon());
  ASSERT_TRUE(st.has_value()) << st.error().message();
  EXPECT_EQ(OurRoles(), "");

  // The same after a server restart while the command "ran".
  auto lease2 = p->Issue(Request(), Soon());
  ASSERT_TRUE(lease2.has_value()) << lease2.error().message();
  ASSERT_TRUE(server_->Stop());
  ASSERT_TRUE(server_->Restart());
  auto st2 = p->Revoke(lease2->ref, Soon());
  ASSERT_TRUE(st2.has_value()) << st2.error().message();
  EXPECT_EQ(OurRoles(), "");
}

TEST_F(PostgresProviderTest, IssueAfterAFailedIssueOnTheSameSessionWorks) {
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto bad = p->Issue(Request({"no_such_role"}), Soon());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(AdminSessions(), "1");  // the failed transaction rolled back; the session stays
  auto lease = p->Issue(Request(), Soon());
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  EXPECT_EQ(OurRoles(), Field(*lease, "user"));
  ASSERT_TRUE(p->Revoke(lease->ref, Soon()));
  EXPECT_EQ(OurRoles(), "");
}

TEST_F(PostgresProviderTest, RevokeFailureNamesTheStepAndLeavesTheRole) {
  auto p = MakeProvider();
  ASSERT_NE(p, nullptr);
  auto lease = p->Issue(Request({"app_owner"}), Soon());
  ASSERT_TRUE(lease.has_value()) << lease.error().message();
  const std::string role = Field(*lease, "user");
  // An object in another database: DROP ROLE (statement 8) must fail, after NOLOGIN committed.
  const std::string db = prefix_ + "otherdb";
  ASSERT_EQ(server_->Psql("CREATE DATABASE " + db, "postgres").status, 0);
  ASSERT_EQ(server_
                ->Psql("CREATE TABLE t_" + prefix_ + " (id int); ALTER TABLE t_" + prefix_ +
                           " OWNER TO " + role,
                       db)
                .status,
            0);
  auto st = p->Revoke(lease->ref, Soon());
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code(), ErrorCode::kRevokeFailed);
  EXPECT_EQ(st.error().message(), "postgres provider \"pg-test\": revoke role \"" + role +
                                      "\": drop role failed: role \"" + role +
                                      "\" cannot be dropped because some objects depend on it");
  EXPECT_EQ(OurRoles(), role);
  EXPECT_EQ(server_->Query("SELECT rolcanlogin FROM pg_roles WHERE rolname = '" + role + "'"), "f");
  EXPECT_EQ(AdminSessions(), "0");
  ASSERT_EQ(server_->Psql("DROP DATABASE " + db, "postgres").status, 0);
  auto st2 = p->Revoke(lease->ref, Soon());
  ASSERT_TRUE(st2.has_value()) << st2.error().message();
  EXPECT_EQ(OurRoles(), "");
}

}  // namespace
}  // namespace jitsec::providers::postgres
