// End-to-end tests of `jitsec run` with the postgres provider against a real server started by
// the harness: delivery to psql, revocation, kill -9 recovery by sweep and by the next run, all or
// nothing with two credentials, and 50 concurrent runs.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/postgres_server.h"
#include "support/support.h"

namespace jitsec::testing {
namespace {

namespace fs = std::filesystem;

class PgE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    JITSEC_SKIP_UNLESS(Feature::kPostgres);
    server_ = PostgresServer::Start();
    ASSERT_NE(server_, nullptr);
    workspace_ = home_.dir.path() / "work";
    fs::create_directories(workspace_);
    auto r = Jitsec({"secret", "set", "pg-admin"}, PostgresServer::kAdminPassword);
    ASSERT_EQ(r.status, 0) << r.err;
    server_->Query("CREATE ROLE app_reader NOLOGIN");
  }

  std::map<std::string, std::string> Env() const {
    auto env = home_.Env();
    env["JITSEC_POLICY"] = (home_.dir.path() / "policy.yaml").string();
    return env;
  }
  ProcessResult Jitsec(const std::vector<std::string>& args, const std::string& in = "") {
    RunOptions o;
    o.env = Env();
    o.cwd = workspace_;
    o.stdin_data = in;
    o.timeout_seconds = 120;
    return RunJitsec(args, o);
  }
  void WritePolicy(const std::string& grants2 = "") {
    std::string p =
        "version: 1\n"
        "providers:\n"
        "  pg:\n"
        "    type: postgres\n"
        "    conninfo: \"" + server_->Conninfo() + " user=" + PostgresServer::kAdminUser + "\"\n"
        "    admin_secret: pg-admin\n"
        "tasks:\n"
        "  db:\n"
        "    sandbox: {enabled: false}\n"
        "    credentials:\n"
        "      DB:\n"
        "        provider: pg\n"
        "        grants: [app_reader]\n"
        "        ttl: 5m\n"
        "        deliver:\n"
        "          - file: {env: PGPASSFILE, format: pgpass}\n"
        "          - env: {name: PGUSER, field: user}\n"
        "          - env: {name: PGHOST, field: host}\n"
        "          - env: {name: PGPORT, field: port}\n"
        "          - env: {name: PGDATABASE, field: dbname}\n";
    if (!grants2.empty()) {
      p += "      DB2:\n"
           "        provider: pg\n"
           "        grants: [" + grants2 + "]\n"
           "        deliver:\n"
           "          - file: {env: PG2, format: pgpass}\n";
    }
    WriteTextFile(home_.dir.path() / "policy.yaml", p, 0600);
  }
  std::string JitsecRoles() const {
    // Roles jitsec issued (the harness's own jitsec_boot and jitsec_admin excluded).
    return server_->Query("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'jitsec\\_%' AND rolname NOT IN ('" +
                          std::string(PostgresServer::kBootstrapUser) + "', '" + PostgresServer::kAdminUser + "')");
  }
  size_t OutstandingLeases() {
    auto r = Jitsec({"leases", "list", "--json"});
    EXPECT_EQ(r.status, 0) << r.err;
    return nlohmann::json::parse(r.out).size();
  }
  void ExpectNoAdminLeak(const ProcessResult& r) {
    ExpectNoCanary(r.out, PostgresServer::kAdminPassword, "stdout");
    ExpectNoCanary(r.err, PostgresServer::kAdminPassword, "stderr");
    ExpectNoCanaryInTree(home_.state(), PostgresServer::kAdminPassword);
  }
  // Starts `jitsec run` in the background; returns its pid once the role exists.
  pid_t StartLongRun() {
    pid_t pid = fork();
    if (pid == 0) {
      EnvBlock env(Env());
      if (chdir(workspace_.c_str()) != 0) _exit(98);
      const char* argv[] = {JITSEC_BINARY, "run", "--task", "db", "--", "/bin/sleep", "60", nullptr};
      execve(JITSEC_BINARY, const_cast<char**>(argv), env.data());
      _exit(99);
    }
    for (int i = 0; i < 300 && JitsecRoles() != "1"; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return pid;
  }

  JitsecHome home_;
  fs::path workspace_;
  std::unique_ptr<PostgresServer> server_;
};

TEST_F(PgE2ETest, CommandConnectsWithDeliveredPgpassAndTheRoleIsGoneAfterwards) {
  WritePolicy();
  auto r = Jitsec({"run", "--task", "db", "--", "psql", "-At", "-c",
                   "SELECT current_user, pg_has_role(current_user, 'app_reader', 'MEMBER'), "
                   "(SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user)"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("jitsec_", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("|t|f"), std::string::npos) << r.out;
  EXPECT_EQ(JitsecRoles(), "0");
  EXPECT_EQ(OutstandingLeases(), 0u);
  ExpectNoAdminLeak(r);
}

TEST_F(PgE2ETest, KillNineThenSweepDropsTheOrphanedRole) {
  WritePolicy();
  pid_t pid = StartLongRun();
  ASSERT_EQ(JitsecRoles(), "1");
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_EQ(OutstandingLeases(), 1u);
  auto s = Jitsec({"leases", "sweep"});
  EXPECT_EQ(s.status, 0) << s.out << s.err;
  EXPECT_NE(s.out.find("revoked 1"), std::string::npos) << s.out;
  EXPECT_EQ(JitsecRoles(), "0");
  EXPECT_EQ(OutstandingLeases(), 0u);
  ExpectNoAdminLeak(s);
}

TEST_F(PgE2ETest, KillNineThenTheNextRunDropsTheOrphanedRole) {
  WritePolicy();
  pid_t pid = StartLongRun();
  ASSERT_EQ(JitsecRoles(), "1");
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  auto r = Jitsec({"run", "--task", "db", "--", "/bin/true"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(JitsecRoles(), "0");
  EXPECT_EQ(OutstandingLeases(), 0u);
}

TEST_F(PgE2ETest, ServerDownBeforeIssuanceIsExit125AndLeavesNothing) {
  WritePolicy();
  ASSERT_TRUE(server_->Stop());
  auto r = Jitsec({"run", "--task", "db", "--", "/bin/true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_NE(r.err.find("postgres provider \"pg\""), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(OutstandingLeases(), 0u);
  ASSERT_TRUE(server_->Restart());
  EXPECT_EQ(JitsecRoles(), "0");
}

TEST_F(PgE2ETest, ServerDownBeforeRevocationKeepsTheLeaseForALaterSweep) {
  WritePolicy();
  pid_t pid = StartLongRun();
  ASSERT_EQ(JitsecRoles(), "1");
  ASSERT_TRUE(server_->Stop());
  kill(pid, SIGTERM);  // forwarded: sleep dies, jitsec revokes (fails), exits 143
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_EQ(WEXITSTATUS(st), 128 + SIGTERM);
  EXPECT_EQ(OutstandingLeases(), 1u);
  ASSERT_TRUE(server_->Restart());
  EXPECT_EQ(JitsecRoles(), "1");
  auto s = Jitsec({"leases", "sweep"});
  EXPECT_EQ(s.status, 0) << s.out << s.err;
  EXPECT_EQ(JitsecRoles(), "0");
  EXPECT_EQ(OutstandingLeases(), 0u);
}

TEST_F(PgE2ETest, SecondCredentialFailingLeavesNeither) {
  WritePolicy("no_such_role");
  auto r = Jitsec({"run", "--task", "db", "--", "/bin/true"});
  EXPECT_EQ(r.status, 125);
  EXPECT_NE(r.err.find("no_such_role"), std::string::npos) << r.err;
  EXPECT_EQ(JitsecRoles(), "0");
  EXPECT_EQ(OutstandingLeases(), 0u);
}

TEST_F(PgE2ETest, FiftyConcurrentRunsLeaveNothingBehind) {
  WritePolicy();
  std::vector<pid_t> pids;
  for (int i = 0; i < 50; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      EnvBlock env(Env());
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      const char* argv[] = {JITSEC_BINARY, "run", "--task", "db", "--", "psql", "-Atc", "SELECT 1", nullptr};
      execve(JITSEC_BINARY, const_cast<char**>(argv), env.data());
      _exit(99);
    }
    pids.push_back(pid);
  }
  int ok = 0;
  for (pid_t p : pids) {
    int st = 0;
    waitpid(p, &st, 0);
    ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  EXPECT_EQ(ok, 50);
  EXPECT_EQ(JitsecRoles(), "0");
  EXPECT_EQ(OutstandingLeases(), 0u);
}

}  // namespace
}  // namespace jitsec::testing
