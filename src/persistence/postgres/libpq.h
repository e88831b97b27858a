// libpq, loaded when a PostgreSQL backend is first opened (dlopen of libpq.so.5), not at program
// start: libpq pulls in some twenty libraries (OpenSSL, GnuTLS, Kerberos, LDAP, ...) whose pages
// would otherwise stay resident in every caboose process, PostgreSQL or not.
#pragma once

#include <libpq-fe.h>

namespace caboose::persistence::detail {

struct LibPq {
  decltype(&::PQclear) PQclear;
  decltype(&::PQcmdTuples) PQcmdTuples;
  decltype(&::PQconnectdb) PQconnectdb;
  decltype(&::PQerrorMessage) PQerrorMessage;
  decltype(&::PQexec) PQexec;
  decltype(&::PQexecPrepared) PQexecPrepared;
  decltype(&::PQfinish) PQfinish;
  decltype(&::PQgetisnull) PQgetisnull;
  decltype(&::PQgetlength) PQgetlength;
  decltype(&::PQgetvalue) PQgetvalue;
  decltype(&::PQntuples) PQntuples;
  decltype(&::PQprepare) PQprepare;
  decltype(&::PQresultErrorMessage) PQresultErrorMessage;
  decltype(&::PQresultStatus) PQresultStatus;
  decltype(&::PQsetNoticeProcessor) PQsetNoticeProcessor;
  decltype(&::PQstatus) PQstatus;
  decltype(&::PQtransactionStatus) PQtransactionStatus;
};

// The functions, loaded on first call (thread-safe). Throws StorageFailure naming Debian's
// libpq5 package when the library cannot be loaded.
const LibPq& pq();

}  // namespace caboose::persistence::detail
