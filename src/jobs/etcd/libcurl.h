// libcurl, loaded when an etcd jobboard is first opened (dlopen of libcurl.so.4), not at program
// start: libcurl pulls in some twenty libraries (OpenSSL, nghttp2, LDAP, Kerberos, ...) whose
// pages would otherwise stay resident in every caboose process, etcd or not.
#pragma once

#include <curl/curl.h>

namespace caboose::jobs::detail {

// Members are named without the curl_ prefix: curl.h defines curl_easy_setopt and
// curl_easy_getinfo as type-checking macros, which a member call of the same name would expand.
struct LibCurl {
  decltype(&::curl_easy_cleanup) easy_cleanup;
  decltype(&::curl_easy_getinfo) easy_getinfo;
  decltype(&::curl_easy_init) easy_init;
  decltype(&::curl_easy_perform) easy_perform;
  decltype(&::curl_easy_setopt) easy_setopt;
  decltype(&::curl_easy_strerror) easy_strerror;
  decltype(&::curl_multi_add_handle) multi_add_handle;
  decltype(&::curl_multi_cleanup) multi_cleanup;
  decltype(&::curl_multi_info_read) multi_info_read;
  decltype(&::curl_multi_init) multi_init;
  decltype(&::curl_multi_perform) multi_perform;
  decltype(&::curl_multi_poll) multi_poll;
  decltype(&::curl_multi_remove_handle) multi_remove_handle;
  decltype(&::curl_multi_wakeup) multi_wakeup;
  decltype(&::curl_slist_append) slist_append;
  decltype(&::curl_slist_free_all) slist_free_all;
};

// The functions, loaded (and curl_global_init run) on first call (thread-safe). Throws
// StorageFailure naming Debian's libcurl4 package when the library cannot be loaded.
const LibCurl& curl();

}  // namespace caboose::jobs::detail
