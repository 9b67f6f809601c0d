#include "providers/postgres/postgres_provider.h"

#include "base/crypto.h"
#include "base/encoding.h"
#include "base/random.h"

#include "providers/postgres/libpq.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

// How a lease maps to PostgreSQL.
//
// One admin session per provider instance. `jitsec run` makes one instance per credential and
// keeps it for the run, so issue and revoke share one login (a login is a backend fork plus a
// SCRAM exchange whose client side is 4096 PBKDF2 rounds: the largest cost of the round trip).
// The session is opened by the first Issue or Revoke, checked before reuse (a session the
// server dropped while the command ran, e.g. a restart or idle_session_timeout, is replaced
// transparently) and closed at the end of Revoke and in the destructor, so it never outlives
// the run. While the command runs the session is idle; libpq marks its socket FD_CLOEXEC, so
// the command never inherits the admin connection.
//
// Issue, one round trip, one transaction (a multi-statement simple query is one implicit
// transaction: a failed GRANT leaves no role behind):
//   SELECT set_config('statement_timeout', <ms to the deadline>, true);
//   CREATE ROLE "<prefix><lease>" LOGIN PASSWORD '<SCRAM verifier>' VALID UNTIL '<now+ttl>';
//   GRANT "<grant>" TO "<role>"; ...   -- one per grant
// The password is hashed on our side (PQencryptPasswordConn, SCRAM-SHA-256, as Vault's database
// engine does), so the statement carries only a salted verifier: even with log_statement=ddl or
// a failing statement logged by log_min_error_statement, the password never reaches the server's
// log, pg_stat_activity or pg_stat_statements. That is why no `SET LOCAL log_statement` is needed
// (and it would need superuser, which the admin role should not have).
//
// Revoke, one round trip, two transactions (every step is idempotent, so an interrupted revoke
// can rerun):
//   BEGIN; set_config('statement_timeout', ...);
//   1. ALTER ROLE ... NOLOGIN: no new session from here on.
//   2. GRANT "<role>" TO CURRENT_USER: a CREATEROLE (non-superuser) admin must be a member of the
//      role to terminate its backends and to REASSIGN OWNED (PG 15 gives the creator nothing).
//   COMMIT;  -- NOLOGIN must be committed before the sessions are terminated, or a new session
//            -- could log in between the terminate and the DROP ROLE and outlive the role.
//   3. pg_terminate_backend of every session of the role, waiting for them to end: revoking
//      privileges or dropping a role does not disconnect sessions that already exist.
//   4. REASSIGN OWNED BY "<role>" TO CURRENT_USER, then DROP OWNED BY "<role>". We reassign
//      rather than drop: the typical use is a migration, and the tables it created must outlive
//      the run; they end up owned by the admin role (the owner the database had before). DROP
//      OWNED then only removes the privileges granted to the role. Both act on the database of
//      the conninfo (and shared objects); objects the role created in other databases make DROP
//      ROLE fail, and the lease stays in the journal with that error.
//   5. DROP ROLE IF EXISTS.
// Steps 3-5 are the second (implicit) transaction. A role that no longer exists (SQLSTATE 42704
// at any step, normally at step 1) is success; the server logs that as an error line, which is
// the price of not spending a round trip on a lookup first.

namespace jitsec::providers::postgres {
namespace {

using Clock = std::chrono::system_clock;

constexpr std::chrono::seconds kDefaultTtl{3600};
constexpr size_t kPasswordBytes = 32;
constexpr size_t kPrefixMaxLen = 20;
// What PQencryptPasswordConn (libpq 15) uses: PostgreSQL's defaults.
constexpr int kScramIterations = 4096;
constexpr size_t kScramSaltBytes = 16;

struct ConnCloser {
  void operator()(PGconn* c) const { Pq().PQfinish(c); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;
struct ResultCloser {
  void operator()(PGresult* r) const { Pq().PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultCloser>;
struct OptionsCloser {
  void operator()(PQconninfoOption* o) const {
    // Values may hold the admin password: wipe before libpq frees them.
    for (PQconninfoOption* p = o; p != nullptr && p->keyword != nullptr; ++p) {
      if (p->val != nullptr) {
        explicit_bzero(p->val, strlen(p->val));
      }
    }
    Pq().PQconninfoFree(o);
  }
};
using Options = std::unique_ptr<PQconninfoOption, OptionsCloser>;

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string FirstLine(std::string_view text) {
  size_t nl = text.find('\n');
  std::string line(text.substr(0, nl));
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) {
    line.pop_back();
  }
  return line;
}

// Defence in depth: libpq messages do not quote passwords, but never trust that.
std::string Scrub(std::string text, std::string_view secret) {
  if (secret.size() < 4) {
    return text;
  }
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
  char* q = Pq().PQescapeIdentifier(conn, name.data(), name.size());
  if (q == nullptr) {
    return {};
  }
  std::string out(q);
  Pq().PQfreemem(q);
  return out;
}

std::string EscapeLiteral(PGconn* conn, std::string_view text) {
  char* q = Pq().PQescapeLiteral(conn, text.data(), text.size());
  if (q == nullptr) {
    return {};
  }
  std::string out(q);
  explicit_bzero(q, strlen(q));
  Pq().PQfreemem(q);
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
    if (const char* s = Pq().PQresultErrorField(res, PG_DIAG_SQLSTATE)) {
      e.sqlstate = s;
    }
    if (const char* m = Pq().PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) {
      e.message = m;
    }
  }
  if (e.message.empty()) {
    e.message = FirstLine(Pq().PQerrorMessage(conn));
  }
  if (e.message.empty()) {
    e.message = "unknown error";
  }
  return e;
}

// Why a multi-statement query failed: the failing statement's index (in the order of the
// query; one past the last when the implicit COMMIT at the end failed) and the server's reason.
struct ScriptError {
  size_t statement = 0;
  SqlError error;
  bool connection_lost = false;
};

// Sends `sql` (statements separated by ";") as one simple query: one round trip. The server
// runs the statements as one implicit transaction unless `sql` has BEGIN/COMMIT of its own, and
// stops at the first failure. Reads every result; nullopt when all statements succeeded.
std::optional<ScriptError> RunScript(PGconn* conn, const std::string& sql) {
  if (Pq().PQsendQuery(conn, sql.c_str()) == 0) {
    return ScriptError{0, ErrorOf(conn, nullptr), Pq().PQstatus(conn) == CONNECTION_BAD};
  }
  std::optional<ScriptError> failure;
  size_t done = 0;
  while (PGresult* raw = Pq().PQgetResult(conn)) {
    PgResult res(raw);
    ExecStatusType st = Pq().PQresultStatus(res.get());
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      ++done;
    } else if (!failure) {
      failure = ScriptError{done, ErrorOf(conn, res.get()), false};
    }
  }
  if (failure) {
    failure->connection_lost = Pq().PQstatus(conn) == CONNECTION_BAD;
  }
  return failure;
}

// Drives a non-blocking connect to its end, as PQconnectdb does but with our own time limit
// (libpq applies connect_timeout only in its blocking loop). `while_waiting` runs once, right
// after the startup packet went out: the server then forks and initialises the backend, and the
// client's own CPU work (hashing the new role's password) overlaps with it. False on timeout;
// otherwise PQstatus tells success or failure.
bool FinishConnect(PGconn* conn, std::chrono::steady_clock::time_point until,
                   const std::function<void()>& while_waiting) {
  if (Pq().PQstatus(conn) == CONNECTION_BAD) {
    return true;
  }
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  bool waited = false;
  while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
    if (st == PGRES_POLLING_READING && !waited && while_waiting) {
      waited = true;
      while_waiting();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= until) {
      return false;
    }
    // Rounded up: a poll that wakes a fraction of a millisecond early must not end the wait.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now);
    pollfd pfd{};
    pfd.fd = Pq().PQsocket(conn);
    pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
    int n = ::poll(&pfd, 1, int(std::min<int64_t>(left.count(), 60000)));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n == 0) {
      continue;  // re-checks the time left
    }
    st = Pq().PQconnectPoll(conn);  // also reports a poll error through the socket state
  }
  return true;
}

// An idle session has nothing to read unless the server is closing it (a restart,
// idle_session_timeout, pg_terminate_backend) or sent something we have no use for: in both
// cases a fresh session is the safe choice. libpq only notices a closed socket on the next
// query, hence the look at the socket.
bool StillUsable(PGconn* conn) {
  if (Pq().PQstatus(conn) != CONNECTION_OK || Pq().PQtransactionStatus(conn) != PQTRANS_IDLE) {
    return false;
  }
  pollfd pfd{};
  pfd.fd = Pq().PQsocket(conn);
  pfd.events = POLLIN;
  return pfd.fd >= 0 && ::poll(&pfd, 1, 0) == 0;
}

// NOTICEs ("role ... is already a member", "role ... does not exist, skipping") are expected
// and are not the operator's business; libpq would print them on jitsec's stderr.
void IgnoreNotice(void* /*arg*/, const char* /*message*/) {}

// statement_timeout for a script: the time left to the deadline, at least one second.
int64_t TimeoutMs(Deadline deadline) {
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return std::max<int64_t>(1000, remaining.count());
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
    if (auto role = RoleNameFor(role_prefix_, request.lease_id)) {
      ref.handle = *role;
    }
    ref.revoke_params = {
        {"conninfo", conninfo_}, {"admin_secret", admin_secret_}, {"role_prefix", role_prefix_}};
    return ref;
  }

  Result<Lease> Issue(const LeaseRequest& request, Deadline deadline) override;
  Status Revoke(const LeaseRef& ref, Deadline deadline) override;

 private:
  std::string Prefix() const { return "postgres provider " + Quoted(name_) + ": "; }
  Error Err(ErrorCode code, std::string what) const { return Error(code, Prefix() + what); }
  // A new admin session; `while_waiting` (may be empty) runs while the server starts it.
  Result<Conn> Connect(Deadline deadline, const std::function<void()>& while_waiting) const;
  // The admin session, opened on first use and reused while StillUsable; `reused` says whether
  // it was already open (a lost reused session may be retried, a fresh one may not).
  // `while_waiting` runs only when a session is being opened.
  Result<PGconn*> Session(Deadline deadline, bool* reused,
                          const std::function<void()>& while_waiting = {});
  void EndSession() { session_.reset(); }

  std::string name_;
  std::string conninfo_;
  std::string admin_secret_;
  std::string role_prefix_;
  const SecretSource* store_;
  Conn session_;
};

Result<PGconn*> PostgresProvider::Session(Deadline deadline, bool* reused,
                                          const std::function<void()>& while_waiting) {
  if (session_ && StillUsable(session_.get())) {
    *reused = true;
    return session_.get();
  }
  session_.reset();
  *reused = false;
  JITSEC_ASSIGN_OR_RETURN(session_, Connect(deadline, while_waiting));
  Pq().PQsetNoticeProcessor(session_.get(), IgnoreNotice, nullptr);
  return session_.get();
}

Result<Conn> PostgresProvider::Connect(Deadline deadline,
                                       const std::function<void()>& while_waiting) const {
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (remaining.count() <= 0) {
    return Fail(Err(ErrorCode::kTimeout, "deadline passed before connecting"));
  }
  if (store_ == nullptr) {
    return Fail(Err(ErrorCode::kInternal, "no secret store to read from"));
  }
  auto admin = store_->Get(admin_secret_);
  if (!admin) {
    return Fail(Error(admin.error().code(), Prefix() + "admin secret " + Quoted(admin_secret_) +
                                                ": " + admin.error().message()));
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
      if (o->val != nullptr) {
        set(o->keyword, o->val);
      }
    }
  };
  char* err = nullptr;
  Options base(Pq().PQconninfoParse(conninfo_.c_str(), &err));
  if (!base) {
    std::string why = err != nullptr ? FirstLine(err) : "out of memory";
    Pq().PQfreemem(err);
    return Fail(Err(ErrorCode::kInvalidArgument, "invalid conninfo: " + why));
  }
  merge(base);
  std::string_view secret = admin->Reveal();
  if (LooksLikeConninfo(secret)) {
    SecretBytes z = CString(secret);
    Options full(Pq().PQconninfoParse(z.data(), &err));
    // libpq's message may quote part of the string: do not pass it on.
    if (err != nullptr) {
      explicit_bzero(err, strlen(err));
      Pq().PQfreemem(err);
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
  std::string options;
  for (auto& [k, v] : params) {
    if (k == "options") {
      options = std::string(v.Reveal().substr(0, v.size() - 1)) + " ";
    }
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
  Conn conn(Pq().PQconnectStartParams(keys.data(), values.data(), 0));
  if (!conn) {
    return Fail(Err(ErrorCode::kProviderUnavailable, "cannot connect: out of memory"));
  }
  // At least 2 seconds, as libpq's connect_timeout would.
  const auto until = std::chrono::steady_clock::now() +
                     std::max<std::chrono::milliseconds>(remaining, std::chrono::seconds(2));
  if (!FinishConnect(conn.get(), until, while_waiting)) {
    // libpq has already written 'connection to server on socket "..." failed: ' for the host it
    // is trying; complete it as its own connect_timeout would.
    std::string pending = FirstLine(Pq().PQerrorMessage(conn.get()));
    if (!pending.empty() && pending.back() != ':') {
      pending.clear();
    }
    return Fail(
        Err(ErrorCode::kProviderUnavailable,
            "cannot connect: " + (pending.empty() ? "" : pending + " ") + "timeout expired"));
  }
  if (Pq().PQstatus(conn.get()) != CONNECTION_OK) {
    std::string msg = FirstLine(Pq().PQerrorMessage(conn.get()));
    for (auto& [k, v] : params) {
      if (k == "password") {
        msg = Scrub(msg, v.Reveal().substr(0, v.size() - 1));
      }
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
  if (!role_r) {
    return Fail(std::move(role_r).error().WithContext(Prefix().substr(0, Prefix().size() - 2)));
  }
  const std::string role = *role_r;
  const auto ttl = request.ttl.count() > 0 ? request.ttl : kDefaultTtl;

  SecretBytes raw = RandomSecret(kPasswordBytes);
  std::string encoded = Base64Encode(raw.Reveal(), Base64Alphabet::kUrl, /*pad=*/false);
  SecretBytes password(encoded);
  explicit_bzero(encoded.data(), encoded.size());

  // Hashing (4096 PBKDF2 rounds) runs while the server starts the admin session, if one is
  // being opened; otherwise right after.
  std::optional<Result<std::string>> verifier;
  auto hash = [&] {
    verifier = ScramSha256Verifier(password.Reveal(), RandomSecret(kScramSaltBytes).Reveal(),
                                   kScramIterations);
  };
  bool reused = false;
  JITSEC_ASSIGN_OR_RETURN(PGconn * c, Session(deadline, &reused, hash));
  if (!verifier) {
    hash();
  }
  if (!*verifier) {
    return Fail(Err(ErrorCode::kProviderRejected,
                    "cannot hash the new password: " + verifier->error().message()));
  }
  std::string verifier_literal = EscapeLiteral(c, **verifier);
  verifier.reset();

  const Clock::time_point expires = Clock::now() + ttl;
  const std::string qrole = EscapeIdentifier(c, role);
  if (qrole.empty() || verifier_literal.empty()) {
    return Fail(Err(ErrorCode::kInternal, "cannot quote role " + Quoted(role)));
  }

  // One implicit transaction (see the top of this file): statement 0 sets the timeout,
  // 1 creates the role, 2.. grant. Any failure rolls all of it back.
  std::vector<std::string> grants_sql;
  for (const auto& g : request.grants) {
    std::string qg = EscapeIdentifier(c, g);
    if (qg.empty()) {
      return Fail(Err(ErrorCode::kInternal, "cannot quote grant " + Quoted(g)));
    }
    grants_sql.push_back("GRANT " + qg + " TO " + qrole);
  }
  std::string script = "SELECT pg_catalog.set_config('statement_timeout', '" +
                       std::to_string(TimeoutMs(deadline)) + "', true); CREATE ROLE " + qrole +
                       " LOGIN PASSWORD " + verifier_literal + " VALID UNTIL '" +
                       FormatTimestamp(expires) + "'";
  explicit_bzero(verifier_literal.data(), verifier_literal.size());
  for (const auto& g : grants_sql) {
    script += "; " + g;
  }
  auto failed = RunScript(c, script);
  explicit_bzero(script.data(), script.size());
  if (failed) {
    const size_t at = failed->statement;
    const std::string& why = failed->error.message;
    // A session lost mid-query may or may not have committed: never reuse it, and never call
    // that "unavailable" (the caller then revokes, which is success if nothing was created).
    const bool lost = failed->connection_lost;
    if (lost || Pq().PQtransactionStatus(c) != PQTRANS_IDLE) {
      EndSession();
    }
    if (at == 0 && !lost) {
      return Fail(Err(ErrorCode::kProviderUnavailable, "begin transaction failed: " + why));
    }
    if (at <= 1) {
      return Fail(
          Err(ErrorCode::kProviderRejected, "create role " + Quoted(role) + " failed: " + why));
    }
    if (at - 2 < request.grants.size()) {
      return Fail(Err(ErrorCode::kProviderRejected,
                      "grant " + Quoted(request.grants[at - 2]) + " failed: " + why));
    }
    return Fail(Err(ErrorCode::kProviderRejected, "commit failed: " + why));
  }

  const std::string host = Pq().PQhost(c) != nullptr ? Pq().PQhost(c) : "";
  const std::string port = Pq().PQport(c) != nullptr ? Pq().PQport(c) : "";
  const std::string db = Pq().PQdb(c) != nullptr ? Pq().PQdb(c) : "";

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
  if (!socket_dir) {
    uri.Append(host.find(':') != std::string::npos ? "[" + host + "]" : host);
  }
  if (!port.empty()) {
    uri.Append(":" + port);
  }
  uri.Append("/" + PercentEncode(db));
  if (socket_dir) {
    uri.Append("?host=" + PercentEncode(host));
  }

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
  if (!expected) {
    return Fail(std::move(expected).error().WithContext(Prefix().substr(0, Prefix().size() - 2)));
  }
  const std::string role = ref.handle.empty() ? *expected : ref.handle;
  // A journal entry names the role to drop: only ever drop the one this lease created.
  if (role != *expected) {
    return Fail(Err(ErrorCode::kInvalidArgument, "refusing to revoke role " + Quoted(role) +
                                                     ": not the role jitsec creates for lease " +
                                                     Quoted(ref.lease_id)));
  }
  // Revoke ends the admin session whatever happens: nothing needs it afterwards.
  struct EndAtExit {
    PostgresProvider* self;
    ~EndAtExit() { self->EndSession(); }
  } end_at_exit{this};
  // Statement indices of the script below, for the error text.
  static constexpr std::string_view kSteps[] = {
      "begin transaction",  "begin transaction", "alter role nologin", "grant to admin", "commit",
      "terminate sessions", "reassign owned",    "drop owned",         "drop role",      "commit"};
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    JITSEC_ASSIGN_OR_RETURN(PGconn * c, Session(deadline, &reused));
    const std::string q = EscapeIdentifier(c, role);
    const std::string lit = EscapeLiteral(c, role);
    if (q.empty() || lit.empty()) {
      return Fail(Err(ErrorCode::kInternal, "cannot quote role " + Quoted(role)));
    }
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    int64_t wait_ms = std::clamp<int64_t>(remaining.count() / 2, 100, 10000);
    std::string terminate =
        Pq().PQserverVersion(c) >= 140000
            ? "SELECT pg_catalog.pg_terminate_backend(pid, " + std::to_string(wait_ms) + ")"
            : std::string("SELECT pg_catalog.pg_terminate_backend(pid)");
    terminate += " FROM pg_catalog.pg_stat_activity WHERE usename = " + lit;
    const std::string script = "BEGIN; SELECT pg_catalog.set_config('statement_timeout', '" +
                               std::to_string(TimeoutMs(deadline)) + "', false); ALTER ROLE " + q +
                               " NOLOGIN; GRANT " + q + " TO CURRENT_USER; COMMIT; " + terminate +
                               "; REASSIGN OWNED BY " + q + " TO CURRENT_USER; DROP OWNED BY " + q +
                               "; DROP ROLE IF EXISTS " + q;
    auto failed = RunScript(c, script);
    if (!failed) {
      return Ok();
    }
    // The server may have dropped a session kept from Issue while the command ran (not caught
    // by StillUsable if it happened just now): every step is idempotent, so run it again once
    // on a fresh session.
    if (failed->connection_lost && reused && attempt == 0) {
      EndSession();
      continue;
    }
    if (failed->error.sqlstate == "42704") {
      return Ok();  // undefined_object: already gone
    }
    const size_t at = std::min(failed->statement, std::size(kSteps) - 1);
    return Fail(Err(ErrorCode::kRevokeFailed, "revoke role " + Quoted(role) + ": " +
                                                  std::string(kSteps[at]) +
                                                  " failed: " + failed->error.message));
  }
}

Status CheckConninfo(std::string_view name, const std::string& conninfo) {
  char* err = nullptr;
  Options opts(Pq().PQconninfoParse(conninfo.c_str(), &err));
  if (!opts) {
    std::string why = err != nullptr ? FirstLine(err) : "out of memory";
    Pq().PQfreemem(err);
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

Result<std::string> ScramSha256Verifier(std::string_view password, std::string_view salt,
                                        int iterations) {
  if (iterations < 1) {
    return Fail(ErrorCode::kInvalidArgument, "SCRAM iterations must be >= 1");
  }
  if (salt.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "empty SCRAM salt");
  }
  // SASLprep (RFC 4013) maps nothing in printable ASCII: for such a password it is the identity,
  // and we never need more.
  if (!std::all_of(password.begin(), password.end(),
                   [](char ch) { return ch >= 0x20 && ch <= 0x7e; })) {
    return Fail(ErrorCode::kInvalidArgument, "password is not printable ASCII");
  }
  // RFC 5802: SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, i), ClientKey =
  // HMAC(SaltedPassword, "Client Key"), StoredKey = SHA-256(ClientKey), ServerKey =
  // HMAC(SaltedPassword, "Server Key").
  SecretBytes salted(crypto::kSha256Bytes);
  auto* sp = reinterpret_cast<unsigned char*>(salted.mutable_data());
  JITSEC_TRY(crypto::Pbkdf2HmacSha256(password, salt, uint32_t(iterations), {sp, crypto::kSha256Bytes}));
  JITSEC_ASSIGN_OR_RETURN(crypto::HmacSha256 prf, crypto::HmacSha256::Create(salted.Reveal()));
  JITSEC_ASSIGN_OR_RETURN(crypto::Sha256Digest client_key, prf.Mac("Client Key"));
  JITSEC_ASSIGN_OR_RETURN(crypto::Sha256Digest server_key, prf.Mac("Server Key"));
  auto stored_key = crypto::Sha256(std::string_view(reinterpret_cast<const char*>(client_key.data()), client_key.size()));
  explicit_bzero(client_key.data(), client_key.size());
  if (!stored_key) return Fail(std::move(stored_key).error());
  auto b64 = [](const unsigned char* p, size_t n) {
    return Base64Encode(std::string_view(reinterpret_cast<const char*>(p), n));
  };
  return "SCRAM-SHA-256$" + std::to_string(iterations) + ":" +
         b64(reinterpret_cast<const unsigned char*>(salt.data()), salt.size()) + "$" +
         b64(stored_key->data(), stored_key->size()) + ":" + b64(server_key.data(), server_key.size());
}

bool IsPlainIdentifier(std::string_view name, size_t max_len) {
  if (name.empty() || name.size() > max_len) {
    return false;
  }
  if (!((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_')) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
  });
}

Result<std::string> RoleNameFor(std::string_view role_prefix, std::string_view lease_id) {
  if (!IsPlainIdentifier(role_prefix, kPrefixMaxLen)) {
    return Fail(ErrorCode::kInvalidArgument,
                "role_prefix " + Quoted(role_prefix) + " is not a valid role name prefix");
  }
  if (lease_id.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "empty lease id");
  }
  std::string suffix;
  for (char ch : lease_id) {
    char l = (ch >= 'A' && ch <= 'Z') ? char(ch - 'A' + 'a') : ch;
    bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '_';
    suffix.push_back(ok ? l : '_');
  }
  const size_t room = 63 - role_prefix.size();
  if (suffix.size() > room) {
    suffix.erase(0, suffix.size() - room);
  }
  return std::string(role_prefix) + suffix;
}

Result<std::unique_ptr<Provider>> CreatePostgresProvider(const policy::ProviderConfig& config,
                                                         const ProviderContext& ctx) {
  JITSEC_TRY(CheckPrefix(config.name, config.role_prefix));
  JITSEC_TRY(LoadLibpq());
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
