// A throwaway PostgreSQL server for tests: initdb + pg_ctl from /usr/lib/postgresql/*/bin in a
// temporary directory, unix socket only (listen_addresses=''), trust for the bootstrap superuser
// over the socket and scram-sha-256 for every other role. When the tests run as root the server
// runs as the `postgres` user (runuser). Tests call JITSEC_SKIP_UNLESS(Feature::kPostgres) first.
#pragma once

#include <memory>
#include <string>

#include "support/support.h"

namespace jitsec::testing {

class PostgresServer {
 public:
  // Starts a fresh cluster; nullptr (with the reason on stderr) when that fails.
  static std::unique_ptr<PostgresServer> Start();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  std::string socket_dir() const { return socket_dir_; }
  int port() const { return port_; }
  bool Stop();     // fast shutdown; true when stopped
  bool Restart();  // starts again after Stop(); true when accepting connections

  // The bootstrap superuser (trust over the socket) and a password role with CREATEROLE, owner
  // of database "app", for use as a provider's admin credential.
  static constexpr const char* kBootstrapUser = "jitsec_boot";
  static constexpr const char* kAdminUser = "jitsec_admin";
  static constexpr const char* kAdminPassword = "admin-pw-4c1e9d";  // test value only
  static constexpr const char* kDatabase = "app";

  // "host=<socket dir> port=<port> dbname=app" (no user, no password).
  std::string Conninfo() const;
  // Runs SQL through psql as the bootstrap superuser (-At, ON_ERROR_STOP): status, out, err.
  ProcessResult Psql(const std::string& sql, const std::string& db = kDatabase) const;
  // Psql's stdout with the trailing newline removed; "<error: ...>" when psql failed.
  std::string Query(const std::string& sql, const std::string& db = kDatabase) const;
  std::string log_path() const { return dir_ + "/server.log"; }

 private:
  PostgresServer() = default;
  bool StartServer();
  ProcessResult RunAsServerUser(const std::vector<std::string>& argv) const;

  std::string bin_dir_;
  std::string dir_;
  std::string socket_dir_;
  std::string data_dir_;
  int port_ = 0;
  bool as_root_ = false;
  bool running_ = false;
};

}  // namespace jitsec::testing
