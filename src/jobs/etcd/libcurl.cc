#include "jobs/etcd/libcurl.h"

#include <dlfcn.h>

#include <string>
#include <type_traits>

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose::jobs::detail {
namespace {

LibCurl load() {
  void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = ::dlerror();
    throw StorageFailure(fmt::format("cannot load libcurl (Debian package libcurl4): {}",
                                     why != nullptr ? why : "unknown error"));
  }
  // Never dlclose()d: handles may live until exit.
  auto get = [lib](auto& slot, const char* name) {
    void* sym = ::dlsym(lib, name);
    if (sym == nullptr) {
      throw StorageFailure(fmt::format("libcurl.so.4 has no {}", name));
    }
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(sym);
  };
  LibCurl f{};
  get(f.easy_cleanup, "curl_easy_cleanup");
  get(f.easy_getinfo, "curl_easy_getinfo");
  get(f.easy_init, "curl_easy_init");
  get(f.easy_perform, "curl_easy_perform");
  get(f.easy_setopt, "curl_easy_setopt");
  get(f.easy_strerror, "curl_easy_strerror");
  get(f.multi_add_handle, "curl_multi_add_handle");
  get(f.multi_cleanup, "curl_multi_cleanup");
  get(f.multi_info_read, "curl_multi_info_read");
  get(f.multi_init, "curl_multi_init");
  get(f.multi_perform, "curl_multi_perform");
  get(f.multi_poll, "curl_multi_poll");
  get(f.multi_remove_handle, "curl_multi_remove_handle");
  get(f.multi_wakeup, "curl_multi_wakeup");
  get(f.slist_append, "curl_slist_append");
  get(f.slist_free_all, "curl_slist_free_all");
  decltype(&::curl_global_init) global_init = nullptr;
  get(global_init, "curl_global_init");
  // Once, before any handle exists (curl_easy_init would otherwise run it, racing other threads).
  if (const CURLcode rc = global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
    throw StorageFailure(fmt::format("curl_global_init failed: {}", f.easy_strerror(rc)));
  }
  return f;
}

}  // namespace

const LibCurl& curl() {
  static const LibCurl functions = load();  // a failed load throws, and is tried again next time
  return functions;
}

}  // namespace caboose::jobs::detail
