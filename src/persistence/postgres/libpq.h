// libpq, loaded when a PostgreSQL backend is first opened (dlopen of libpq.so.5), not at program
// start: libpq pulls in some twenty libraries (OpenSSL, GnuTLS, Kerberos, LDAP, ...) whose pages
// would otherwise stay resident in every caboose process, PostgreSQL or not.
#pragma once

#include <libpq-fe.h>

namespace caboose::persistence::detail {

struct LibPq {
  decltype(&::PQclear) PQclear;
  decltype(&::PQcmdTuples) PQcmdTuples;
  decltype(&::PQconnectdbParams) PQconnectdbParams;
  decltype(&::PQconsumeInput) PQconsumeInput;
  decltype(&::PQerrorMessage) PQerrorMessage;
  decltype(&::PQfinish) PQfinish;
  decltype(&::PQflush) PQflush;
  decltype(&::PQgetResult) PQgetResult;
  decltype(&::PQgetisnull) PQgetisnull;
  decltype(&::PQgetlength) PQgetlength;
  decltype(&::PQgetvalue) PQgetvalue;
  decltype(&::PQisBusy) PQisBusy;
  decltype(&::PQntuples) PQntuples;
  decltype(&::PQresultErrorMessage) PQresultErrorMessage;
  decltype(&::PQresultStatus) PQresultStatus;
  decltype(&::PQsendPrepare) PQsendPrepare;
  decltype(&::PQsendQuery) PQsendQuery;
  decltype(&::PQsendQueryPrepared) PQsendQueryPrepared;
  decltype(&::PQsetnonblocking) PQsetnonblocking;
  decltype(&::PQsetNoticeProcessor) PQsetNoticeProcessor;
  decltype(&::PQsocket) PQsocket;
  decltype(&::PQstatus) PQstatus;
  decltype(&::PQtransactionStatus) PQtransactionStatus;
};

// The functions, loaded on first call (thread-safe). Throws StorageFailure naming Debian's
// libpq5 package when the library cannot be loaded.
const LibPq& pq();

}  // namespace caboose::persistence::detail
