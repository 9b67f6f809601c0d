#include "support/postgres_server.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>
#include <vector>

namespace jitsec::testing {
namespace {

namespace fs = std::filesystem;

// The newest /usr/lib/postgresql/<N>/bin that has initdb.
std::string FindBinDir() {
  std::vector<std::pair<int, std::string>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = e.path() / "bin";
    if (::access((bin / "initdb").c_str(), X_OK) == 0 && ::access((bin / "pg_ctl").c_str(), X_OK) == 0) {
      found.emplace_back(std::atoi(e.path().filename().c_str()), bin.string());
    }
  }
  if (found.empty()) return {};
  std::sort(found.begin(), found.end());
  return found.back().second;
}

std::map<std::string, std::string> BaseEnv() {
  return {{"PATH", "/usr/bin:/bin:/usr/sbin:/sbin"}, {"LANG", "C"}, {"LC_ALL", "C"}};
}

}  // namespace

ProcessResult PostgresServer::RunAsServerUser(const std::vector<std::string>& argv) const {
  std::vector<std::string> full;
  if (as_root_) full = {"/usr/sbin/runuser", "-u", "postgres", "--"};
  full.insert(full.end(), argv.begin(), argv.end());
  RunOptions opts;
  opts.env = BaseEnv();
  opts.cwd = dir_;
  opts.timeout_seconds = 120;
  return RunProcess(full, opts);
}

std::unique_ptr<PostgresServer> PostgresServer::Start() {
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  s->bin_dir_ = FindBinDir();
  if (s->bin_dir_.empty()) {
    std::cerr << "postgres test server: no /usr/lib/postgresql/*/bin/initdb\n";
    return nullptr;
  }
  s->as_root_ = ::geteuid() == 0;
  std::string tmpl = "/tmp/jitsec-pg-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::cerr << "postgres test server: mkdtemp failed\n";
    return nullptr;
  }
  s->dir_ = tmpl;
  s->socket_dir_ = s->dir_;
  s->data_dir_ = s->dir_ + "/data";
  if (s->as_root_) {
    struct passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr || ::chown(s->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      std::cerr << "postgres test server: running as root needs a \"postgres\" user\n";
      return nullptr;
    }
    ::chmod(s->dir_.c_str(), 0755);  // clients (root tests, other users) reach the socket
  } else {
    ::chmod(s->dir_.c_str(), 0755);
  }
  auto init = s->RunAsServerUser({s->bin_dir_ + "/initdb", "-D", s->data_dir_, "-U", kBootstrapUser,
                                  "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"});
  if (init.status != 0) {
    std::cerr << "postgres test server: initdb failed:\n" << init.out << init.err;
    return nullptr;
  }
  std::string hba = "local all " + std::string(kBootstrapUser) + " trust\n" +
                    "local all all scram-sha-256\n";
  WriteTextFile(s->data_dir_ + "/pg_hba.conf", hba, 0600);
  if (s->as_root_) {
    struct passwd* pw = ::getpwnam("postgres");
    if (::chown((s->data_dir_ + "/pg_hba.conf").c_str(), pw->pw_uid, pw->pw_gid) != 0) return nullptr;
  }
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 5 && !s->running_; ++attempt) {
    s->port_ = 20000 + int(rng() % 30000);
    s->StartServer();
  }
  if (!s->running_) {
    std::cerr << "postgres test server: pg_ctl start failed; log:\n" << ReadTextFile(s->log_path());
    return nullptr;
  }
  for (const std::string& sql :
       {std::string("CREATE ROLE ") + kAdminUser + " LOGIN CREATEROLE PASSWORD '" + kAdminPassword +
            "'",
        std::string("CREATE DATABASE ") + kDatabase + " OWNER " + kAdminUser}) {
    auto r = s->Psql(sql, "postgres");
    if (r.status != 0) {
      std::cerr << "postgres test server: setup failed: " << r.err;
      return nullptr;
    }
  }
  return s;
}

bool PostgresServer::StartServer() {
  std::string opts = "-c listen_addresses='' -k " + socket_dir_ + " -p " + std::to_string(port_) +
                     " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                     " -c max_connections=200 -c shared_buffers=16MB";
  auto r = RunAsServerUser({bin_dir_ + "/pg_ctl", "-D", data_dir_, "-o", opts, "-l", log_path(),
                            "-w", "-t", "60", "start"});
  running_ = r.status == 0;
  return running_;
}

bool PostgresServer::Stop() {
  if (!running_) return true;
  auto r = RunAsServerUser({bin_dir_ + "/pg_ctl", "-D", data_dir_, "-m", "fast", "-w", "stop"});
  if (r.status == 0) running_ = false;
  return !running_;
}

bool PostgresServer::Restart() {
  if (running_) return true;
  return StartServer();
}

PostgresServer::~PostgresServer() {
  if (running_) {
    RunAsServerUser({bin_dir_ + "/pg_ctl", "-D", data_dir_, "-m", "immediate", "-w", "stop"});
  }
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::string PostgresServer::Conninfo() const {
  return "host=" + socket_dir_ + " port=" + std::to_string(port_) + " dbname=" + kDatabase;
}

ProcessResult PostgresServer::Psql(const std::string& sql, const std::string& db) const {
  RunOptions opts;
  opts.env = BaseEnv();
  opts.timeout_seconds = 60;
  return RunProcess({bin_dir_ + "/psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h",
                     socket_dir_, "-p", std::to_string(port_), "-U", kBootstrapUser, "-d", db,
                     "-c", sql},
                    opts);
}

std::string PostgresServer::Query(const std::string& sql, const std::string& db) const {
  auto r = Psql(sql, db);
  if (r.status != 0) return "<error: " + r.err + ">";
  std::string out = r.out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace jitsec::testing
