#include "persistence/postgres/libpq.h"

#include <dlfcn.h>

#include <string>

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose::persistence::detail {
namespace {

LibPq load() {
  void* lib = ::dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = ::dlerror();
    throw StorageFailure(fmt::format("cannot load libpq (Debian package libpq5): {}",
                                     why != nullptr ? why : "unknown error"));
  }
  // Never dlclose()d: connections may live until exit.
  auto get = [lib](auto& slot, const char* name) {
    void* sym = ::dlsym(lib, name);
    if (sym == nullptr) {
      throw StorageFailure(fmt::format("libpq.so.5 has no {}", name));
    }
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(sym);
  };
  LibPq f{};
  get(f.PQclear, "PQclear");
  get(f.PQcmdTuples, "PQcmdTuples");
  get(f.PQconnectdbParams, "PQconnectdbParams");
  get(f.PQconsumeInput, "PQconsumeInput");
  get(f.PQerrorMessage, "PQerrorMessage");
  get(f.PQfinish, "PQfinish");
  get(f.PQflush, "PQflush");
  get(f.PQgetResult, "PQgetResult");
  get(f.PQgetisnull, "PQgetisnull");
  get(f.PQgetlength, "PQgetlength");
  get(f.PQgetvalue, "PQgetvalue");
  get(f.PQisBusy, "PQisBusy");
  get(f.PQntuples, "PQntuples");
  get(f.PQresultErrorMessage, "PQresultErrorMessage");
  get(f.PQresultStatus, "PQresultStatus");
  get(f.PQsendPrepare, "PQsendPrepare");
  get(f.PQsendQuery, "PQsendQuery");
  get(f.PQsendQueryPrepared, "PQsendQueryPrepared");
  get(f.PQsetnonblocking, "PQsetnonblocking");
  get(f.PQsetNoticeProcessor, "PQsetNoticeProcessor");
  get(f.PQsocket, "PQsocket");
  get(f.PQstatus, "PQstatus");
  get(f.PQtransactionStatus, "PQtransactionStatus");
  return f;
}

}  // namespace

const LibPq& pq() {
  static const LibPq functions = load();  // a failed load throws, and is tried again next time
  return functions;
}

}  // namespace caboose::persistence::detail
