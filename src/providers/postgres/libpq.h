// libpq, loaded with dlopen the first time a postgres provider is created: linking it would make
// every jitsec process, most of which never talk to PostgreSQL, load and relocate libpq and its
// 21 dependencies (Kerberos, LDAP, SASL, GnuTLS...), about 6 ms per start. Only the postgres
// provider uses this; it calls libpq through Pq().
#pragma once

#include <libpq-fe.h>

#include "base/error.h"

namespace jitsec::providers::postgres {

// Every libpq function the provider calls. Adding a call means adding its name here.
#define JITSEC_LIBPQ_FUNCTIONS(X)                                                              \
  X(PQclear) X(PQconnectPoll) X(PQconnectStartParams) X(PQconninfoFree) X(PQconninfoParse)      \
  X(PQdb) X(PQerrorMessage) X(PQescapeIdentifier) X(PQescapeLiteral) X(PQfinish) X(PQfreemem)   \
  X(PQgetResult) X(PQhost) X(PQport) X(PQresultErrorField) X(PQresultStatus) X(PQsendQuery)     \
  X(PQserverVersion) X(PQsetNoticeProcessor) X(PQsocket) X(PQstatus) X(PQtransactionStatus)

struct Libpq {
#define JITSEC_LIBPQ_MEMBER(name) decltype(&::name) name = nullptr;
  JITSEC_LIBPQ_FUNCTIONS(JITSEC_LIBPQ_MEMBER)
#undef JITSEC_LIBPQ_MEMBER
};

// Loads libpq.so.5 once (thread-safe); kUnsupported naming the library when it is missing.
[[nodiscard]] Status LoadLibpq();
// The loaded functions; only valid after LoadLibpq() succeeded (aborts otherwise).
const Libpq& Pq();

}  // namespace jitsec::providers::postgres
