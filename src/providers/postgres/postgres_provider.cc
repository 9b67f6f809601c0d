#include "providers/postgres/postgres_provider.h"

#include <string.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>
#include <utility>
#include <vector>

#include "base/encoding.h"
#include "base/random.h"

#include <libpq-fe.h>

// How a lease maps to PostgreSQL.
//
// Issue, in one transaction on an admin connection (so a failed GRANT leaves no role behind):
//   CREATE ROLE "<prefix><lease>" LOGIN PASSWORD '<SCRAM verifier>' VALID UNTIL '<now+ttl>'
//   GRANT "<grant>" TO "<role>"   -- for each grant
// The password is hashed on our side (PQencryptPasswordConn, SCRAM-SHA-256, as Vault's database
// engine does), so the statement carries only a salted verifier: even with log_statement=ddl or
// a failing statement logged by log_min_error_statement, the password never reaches the server's
// log, pg_stat_activity or pg_stat_statements. That is why no `SET LOCAL log_statement` is needed
// (and it would need superuser, which the admin role should not have).
//
// Revoke, statement by statement (each step is idempotent, so an interrupted revoke can rerun):
//   1. ALTER ROLE ... NOLOGIN: no new session from here on.
//   2. GRANT "<role>" TO CURRENT_USER: a CREATEROLE (non-superuser) admin must be a member of the
//      role to terminate its backends and to REASSIGN OWNED (PG 15 gives the creator nothing).
//   3. pg_terminate_backend of every session of the role, waiting for them to end: revoking
//      privileges or dropping a role does not disconnect sessions that already exist.
//   4. REASSIGN OWNED BY "<role>" TO CURRENT_USER, then DROP OWNED BY "<role>". We reassign
//      rather than drop: the typical use is a migration, and the tables it created must outlive
//      the run; they end up owned by the admin role (the owner the database had before). DROP
//      OWNED then only removes the privileges granted to the role. Both act on the database of
//      the conninfo (and shared objects); objects the role created in other databases make DROP
//      ROLE fail, and the lease stays in the journal with that error.
//   5. DROP ROLE IF EXISTS.
// A role that no longer exists (checked first, and SQLSTATE 42704 at any step) is success.

namespace jitsec::providers::postgres {
namespace {

using Clock = std::chrono::system_clock;

constexpr std::chrono::seconds kDefaultTtl{3600};
constexpr size_t kPasswordBytes = 32;
constexpr size_t kPrefixMaxLen = 20;

struct ConnCloser {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;
struct ResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultCloser>;
struct OptionsCloser {
  void operator()(PQconninfoOption* o) const {
    // Values may hold the admin password: wipe before libpq frees them.
    for (PQconninfoOption* p = o; p != nullptr && p->keyword != nullptr; ++p) {
      if (p->val != nullptr) explicit_bzero(p->val, strlen(p->val));
    }
    PQconninfoFree(o);
  }
};
using Options = std::unique_ptr<PQconninfoOption, OptionsCloser>;

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string FirstLine(std::string_view text) {
  size_t nl = text.find('\n');
  std::string line(text.substr(0, nl));
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
  return line;
}

// Defence in depth: libpq messages do not quote passwords, but never trust that.
std::string Scrub(std::string text, std::string_view secret) {
  if (secret.size() < 4) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "<redacted>");
  }
  return text;
}

bool LooksLikeConninfo(std::string_view s) {
  return s.starts_with("postgresql://") || s.starts_with("postgres://") ||
         s.find('=') != std::string_view::npos;
}

// A NUL-terminated copy in locked memory, for libpq's const char* parameters.
SecretBytes CString(std::string_view s) {
  SecretBytes out(s);
  out.Append(std::string_view("\0", 1));
  return out;
}

std::string EscapeIdentifier(PGconn* conn, std::string_view name) {
  char* q = PQescapeIdentifier(conn, name.data(), name.size());
  if (q == nullptr) return {};
  std::string out(q);
  PQfreemem(q);
  return out;
}

std::string EscapeLiteral(PGconn* conn, std::string_view text) {
  char* q = PQescapeLiteral(conn, text.data(), text.size());
  if (q == nullptr) return {};
  std::string out(q);
  explicit_bzero(q, strlen(q));
  PQfreemem(q);
  return out;
}

// "2026-11-22 17:54:48+00": what VALID UNTIL accepts, in UTC.
std::string FormatTimestamp(Clock::time_point t) {
  std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S+00", &tm);
  return buf;
}

struct SqlError {
  std::string sqlstate;
  std::string message;  // primary message, one line
};

SqlError ErrorOf(PGconn* conn, const PGresult* res) {
  SqlError e;
  if (res != nullptr) {
    if (const char* s = PQresultErrorField(res, PG_DIAG_SQLSTATE)) e.sqlstate = s;
    if (const char* m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) e.message = m;
  }
  if (e.message.empty()) e.message = FirstLine(PQerrorMessage(conn));
  if (e.message.empty()) e.message = "unknown error";
  return e;
}

// Runs one statement; nullopt on success.
std::optional<SqlError> Exec(PGconn* conn, const std::string& sql,
                             const std::vector<std::string>& params = {},
                             PgResult* out = nullptr) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  PgResult res(PQexecParams(conn, sql.c_str(), int(values.size()), nullptr,
                            values.empty() ? nullptr : values.data(), nullptr, nullptr, 0));
  ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ErrorOf(conn, res.get());
  if (out != nullptr) *out = std::move(res);
  return std::nullopt;
}

class PostgresProvider final : public Provider {
 public:
  PostgresProvider(std::string name, std::string conninfo, std::string admin_secret,
                   std::string role_prefix, const SecretSource* store)
      : name_(std::move(name)),
        conninfo_(std::move(conninfo)),
        admin_secret_(std::move(admin_secret)),
        role_prefix_(std::move(role_prefix)),
        store_(store) {}

  policy::ProviderType type() const override { return policy::ProviderType::kPostgres; }

  LeaseRef RefFor(const LeaseRequest& request) const override {
    LeaseRef ref;
    ref.lease_id = request.lease_id;
    ref.provider = name_;
    ref.type = policy::ProviderType::kPostgres;
    if (auto role = RoleNameFor(role_prefix_, request.lease_id)) ref.handle = *role;
    ref.revoke_params = {{"conninfo", conninfo_},
                         {"admin_secret", admin_secret_},
                         {"role_prefix", role_prefix_}};
    return ref;
  }

  Result<Lease> Issue(const LeaseRequest& request, Deadline deadline) override;
  Status Revoke(const LeaseRef& ref, Deadline deadline) override;

 private:
  std::string Prefix() const { return "postgres provider " + Quoted(name_) + ": "; }
  Error Err(ErrorCode code, std::string what) const { return Error(code, Prefix() + what); }
  Result<Conn> Connect(Deadline deadline) const;

  std::string name_;
  std::string conninfo_;
  std::string admin_secret_;
  std::string role_prefix_;
  const SecretSource* store_;
};

Result<Conn> PostgresProvider::Connect(Deadline deadline) const {
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (remaining.count() <= 0) {
    return Fail(Err(ErrorCode::kTimeout, "deadline passed before connecting"));
  }
  if (store_ == nullptr) return Fail(Err(ErrorCode::kInternal, "no secret store to read from"));
  auto admin = store_->Get(admin_secret_);
  if (!admin) {
    return Fail(Error(admin.error().code(),
                      Prefix() + "admin secret " + Quoted(admin_secret_) + ": " +
                          admin.error().message()));
  }

  // keyword -> value; values are NUL-terminated SecretBytes because some hold the password.
  std::vector<std::pair<std::string, SecretBytes>> params;
  auto set = [&params](std::string_view key, std::string_view value) {
    for (auto& [k, v] : params) {
      if (k == key) {
        v = CString(value);
        return;
      }
    }
    params.emplace_back(std::string(key), CString(value));
  };
  auto merge = [&](const Options& opts) {
    for (PQconninfoOption* o = opts.get(); o->keyword != nullptr; ++o) {
      if (o->val != nullptr) set(o->keyword, o->val);
    }
  };
  char* err = nullptr;
  Options base(PQconninfoParse(conninfo_.c_str(), &err));
  if (!base) {
    std::string why = err != nullptr ? FirstLine(err) : "out of memory";
    PQfreemem(err);
    return Fail(Err(ErrorCode::kInvalidArgument, "invalid conninfo: " + why));
  }
  merge(base);
  std::string_view secret = admin->Reveal();
  if (LooksLikeConninfo(secret)) {
    SecretBytes z = CString(secret);
    Options full(PQconninfoParse(z.data(), &err));
    // libpq's message may quote part of the string: do not pass it on.
    if (err != nullptr) {
      explicit_bzero(err, strlen(err));
      PQfreemem(err);
    }
    if (!full) {
      return Fail(Err(ErrorCode::kInvalidArgument,
                      "admin secret " + Quoted(admin_secret_) +
                          " is neither a password nor a valid connection string"));
    }
    merge(full);
  } else {
    set("password", secret);
  }
  // libpq rounds connect_timeout up to at least 2 seconds.
  auto secs = std::max<int64_t>(2, (remaining.count() + 999) / 1000);
  set("connect_timeout", std::to_string(secs));
  std::string options;
  for (auto& [k, v] : params) {
    if (k == "options") options = std::string(v.Reveal().substr(0, v.size() - 1)) + " ";
  }
  options += "-c statement_timeout=" + std::to_string(std::max<int64_t>(1000, remaining.count()));
  set("options", options);
  set("fallback_application_name", "jitsec");

  std::vector<const char*> keys;
  std::vector<const char*> values;
  for (auto& [k, v] : params) {
    keys.push_back(k.c_str());
    values.push_back(v.data());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  Conn conn(PQconnectdbParams(keys.data(), values.data(), 0));
  if (!conn) return Fail(Err(ErrorCode::kProviderUnavailable, "cannot connect: out of memory"));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string msg = FirstLine(PQerrorMessage(conn.get()));
    for (auto& [k, v] : params) {
      if (k == "password") msg = Scrub(msg, v.Reveal().substr(0, v.size() - 1));
    }
    return Fail(Err(ErrorCode::kProviderUnavailable, "cannot connect: " + Scrub(msg, secret)));
  }
  return conn;
}

Result<Lease> PostgresProvider::Issue(const LeaseRequest& request, Deadline deadline) {
  for (const auto& g : request.grants) {
    if (!IsPlainIdentifier(g)) {
      return Fail(Err(ErrorCode::kInvalidArgument,
                      "invalid grant " + Quoted(g) +
                          " (lowercase letters, digits and \"_\", starting with a letter or "
                          "\"_\", at most 63 characters)"));
    }
  }
  auto role_r = RoleNameFor(role_prefix_, request.lease_id);
  if (!role_r) return Fail(std::move(role_r).error().WithContext(Prefix().substr(0, Prefix().size() - 2)));
  const std::string role = *role_r;
  const auto ttl = request.ttl.count() > 0 ? request.ttl : kDefaultTtl;

  JITSEC_ASSIGN_OR_RETURN(Conn conn, Connect(deadline));
  PGconn* c = conn.get();

  SecretBytes raw = RandomSecret(kPasswordBytes);
  std::string encoded = Base64Encode(raw.Reveal(), Base64Alphabet::kUrl, /*pad=*/false);
  SecretBytes password(encoded);
  explicit_bzero(encoded.data(), encoded.size());
  SecretBytes password_z = CString(password.Reveal());

  char* verifier = PQencryptPasswordConn(c, password_z.data(), role.c_str(), "scram-sha-256");
  if (verifier == nullptr) {
    return Fail(Err(ErrorCode::kProviderRejected,
                    "cannot hash the new password: " + FirstLine(PQerrorMessage(c))));
  }
  std::string verifier_literal = EscapeLiteral(c, verifier);
  PQfreemem(verifier);

  const Clock::time_point expires = Clock::now() + ttl;
  const std::string qrole = EscapeIdentifier(c, role);
  if (qrole.empty() || verifier_literal.empty()) {
    return Fail(Err(ErrorCode::kInternal, "cannot quote role " + Quoted(role)));
  }

  if (auto e = Exec(c, "BEGIN")) {
    return Fail(Err(ErrorCode::kProviderUnavailable, "begin transaction failed: " + e->message));
  }
  // From here on, any failure rolls the whole transaction back (or the connection closes it).
  auto rollback = [&](Error err) {
    (void)Exec(c, "ROLLBACK");
    return Fail(std::move(err));
  };
  if (auto e = Exec(c, "CREATE ROLE " + qrole + " LOGIN PASSWORD " + verifier_literal +
                           " VALID UNTIL '" + FormatTimestamp(expires) + "'")) {
    return rollback(Err(ErrorCode::kProviderRejected,
                        "create role " + Quoted(role) + " failed: " + e->message));
  }
  for (const auto& g : request.grants) {
    if (auto e = Exec(c, "GRANT " + EscapeIdentifier(c, g) + " TO " + qrole)) {
      return rollback(
          Err(ErrorCode::kProviderRejected, "grant " + Quoted(g) + " failed: " + e->message));
    }
  }
  if (auto e = Exec(c, "COMMIT")) {
    return rollback(Err(ErrorCode::kProviderUnavailable, "commit failed: " + e->message));
  }

  const std::string host = PQhost(c) != nullptr ? PQhost(c) : "";
  const std::string port = PQport(c) != nullptr ? PQport(c) : "";
  const std::string db = PQdb(c) != nullptr ? PQdb(c) : "";

  // postgresql://user:password@host:port/dbname; a socket directory goes in ?host= instead.
  SecretBytes uri("postgresql://");
  uri.Append(PercentEncode(role));
  uri.Append(":");
  {
    std::string pw = PercentEncode(password.Reveal());
    uri.Append(pw);
    explicit_bzero(pw.data(), pw.size());
  }
  uri.Append("@");
  const bool socket_dir = host.starts_with("/") || host.starts_with("@");
  if (!socket_dir) uri.Append(host.find(':') != std::string::npos ? "[" + host + "]" : host);
  if (!port.empty()) uri.Append(":" + port);
  uri.Append("/" + PercentEncode(db));
  if (socket_dir) uri.Append("?host=" + PercentEncode(host));

  Lease lease;
  lease.ref = RefFor(request);
  lease.ref.handle = role;
  lease.expires = expires;
  lease.fields.push_back({"user", false, SecretBytes(role)});
  lease.fields.push_back({"host", false, SecretBytes(host)});
  lease.fields.push_back({"port", false, SecretBytes(port)});
  lease.fields.push_back({"dbname", false, SecretBytes(db)});
  lease.fields.push_back({"password", true, std::move(password)});
  lease.fields.push_back({"uri", true, std::move(uri)});
  return lease;
}

Status PostgresProvider::Revoke(const LeaseRef& ref, Deadline deadline) {
  auto expected = RoleNameFor(role_prefix_, ref.lease_id);
  if (!expected) return Fail(std::move(expected).error().WithContext(Prefix().substr(0, Prefix().size() - 2)));
  const std::string role = ref.handle.empty() ? *expected : ref.handle;
  // A journal entry names the role to drop: only ever drop the one this lease created.
  if (role != *expected) {
    return Fail(Err(ErrorCode::kInvalidArgument,
                    "refusing to revoke role " + Quoted(role) +
                        ": not the role jitsec creates for lease " + Quoted(ref.lease_id)));
  }
  JITSEC_ASSIGN_OR_RETURN(Conn conn, Connect(deadline));
  PGconn* c = conn.get();
  auto fail = [&](std::string_view step, const SqlError& e) -> Status {
    if (e.sqlstate == "42704") return Ok();  // undefined_object: the role is already gone
    return Fail(Err(ErrorCode::kRevokeFailed,
                    "revoke role " + Quoted(role) + ": " + std::string(step) + " failed: " +
                        e.message));
  };

  PgResult rows;
  if (auto e = Exec(c, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", {role}, &rows)) {
    return fail("lookup", *e);
  }
  if (PQntuples(rows.get()) == 0) return Ok();

  const std::string q = EscapeIdentifier(c, role);
  if (q.empty()) return Fail(Err(ErrorCode::kInternal, "cannot quote role " + Quoted(role)));
  if (auto e = Exec(c, "ALTER ROLE " + q + " NOLOGIN")) return fail("alter role nologin", *e);
  if (auto e = Exec(c, "GRANT " + q + " TO CURRENT_USER")) return fail("grant to admin", *e);

  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  int64_t wait_ms = std::clamp<int64_t>(remaining.count() / 2, 100, 10000);
  std::string terminate =
      PQserverVersion(c) >= 140000
          ? "SELECT pg_catalog.pg_terminate_backend(pid, $2::bigint) FROM "
            "pg_catalog.pg_stat_activity WHERE usename = $1"
          : "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity "
            "WHERE usename = $1";
  std::vector<std::string> tparams{role};
  if (PQserverVersion(c) >= 140000) tparams.push_back(std::to_string(wait_ms));
  if (auto e = Exec(c, terminate, tparams)) return fail("terminate sessions", *e);
  if (auto e = Exec(c, "REASSIGN OWNED BY " + q + " TO CURRENT_USER")) {
    return fail("reassign owned", *e);
  }
  if (auto e = Exec(c, "DROP OWNED BY " + q)) return fail("drop owned", *e);
  if (auto e = Exec(c, "DROP ROLE IF EXISTS " + q)) return fail("drop role", *e);
  return Ok();
}

Status CheckConninfo(std::string_view name, const std::string& conninfo) {
  char* err = nullptr;
  Options opts(PQconninfoParse(conninfo.c_str(), &err));
  if (!opts) {
    std::string why = err != nullptr ? FirstLine(err) : "out of memory";
    PQfreemem(err);
    return Fail(ErrorCode::kInvalidArgument,
                "postgres provider " + Quoted(name) + ": invalid conninfo: " + why);
  }
  for (PQconninfoOption* o = opts.get(); o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == "password" && o->val != nullptr) {
      return Fail(ErrorCode::kInvalidArgument,
                  "postgres provider " + Quoted(name) +
                      ": conninfo must not contain a password (keep it in admin_secret)");
    }
  }
  return Ok();
}

Status CheckPrefix(std::string_view name, const std::string& prefix) {
  if (!IsPlainIdentifier(prefix, kPrefixMaxLen)) {
    return Fail(ErrorCode::kInvalidArgument,
                "postgres provider " + Quoted(name) + ": role_prefix " + Quoted(prefix) +
                    " is not a valid role name prefix (lowercase letters, digits and \"_\", "
                    "starting with a letter or \"_\", at most 20 characters)");
  }
  return Ok();
}

}  // namespace

bool IsPlainIdentifier(std::string_view name, size_t max_len) {
  if (name.empty() || name.size() > max_len) return false;
  if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_')) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
  });
}

Result<std::string> RoleNameFor(std::string_view role_prefix, std::string_view lease_id) {
  if (!IsPlainIdentifier(role_prefix, kPrefixMaxLen)) {
    return Fail(ErrorCode::kInvalidArgument,
                "role_prefix " + Quoted(role_prefix) + " is not a valid role name prefix");
  }
  if (lease_id.empty()) return Fail(ErrorCode::kInvalidArgument, "empty lease id");
  std::string suffix;
  for (char ch : lease_id) {
    char l = (ch >= 'A' && ch <= 'Z') ? char(ch - 'A' + 'a') : ch;
    bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '_';
    suffix.push_back(ok ? l : '_');
  }
  const size_t room = 63 - role_prefix.size();
  if (suffix.size() > room) suffix.erase(0, suffix.size() - room);
  return std::string(role_prefix) + suffix;
}

Result<std::unique_ptr<Provider>> CreatePostgresProvider(const policy::ProviderConfig& config,
                                                         const ProviderContext& ctx) {
  JITSEC_TRY(CheckPrefix(config.name, config.role_prefix));
  JITSEC_TRY(CheckConninfo(config.name, config.conninfo));
  if (config.admin_secret.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "postgres provider " + Quoted(config.name) + ": no admin_secret");
  }
  return std::unique_ptr<Provider>(std::make_unique<PostgresProvider>(
      config.name, config.conninfo, config.admin_secret, config.role_prefix, ctx.store));
}

Result<std::unique_ptr<Provider>> CreatePostgresProviderForRevoke(const LeaseRef& ref,
                                                                  const ProviderContext& ctx) {
  policy::ProviderConfig config;
  config.name = ref.provider;
  config.type = policy::ProviderType::kPostgres;
  for (const char* key : {"conninfo", "admin_secret", "role_prefix"}) {
    auto it = ref.revoke_params.find(key);
    if (it == ref.revoke_params.end()) {
      return Fail(ErrorCode::kCorrupt, "postgres provider " + Quoted(ref.provider) + ": lease " +
                                           Quoted(ref.lease_id) + " has no revoke parameter " +
                                           Quoted(key));
    }
  }
  config.conninfo = ref.revoke_params.at("conninfo");
  config.admin_secret = ref.revoke_params.at("admin_secret");
  config.role_prefix = ref.revoke_params.at("role_prefix");
  return CreatePostgresProvider(config, ctx);
}

}  // namespace jitsec::providers::postgres
