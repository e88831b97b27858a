// The URI parsers and redactions, without connecting anywhere: ZooKeeper, Redis and etcd
// board/backend URIs, a PostgreSQL conninfo's caboose options and redaction, a jobboard URI's
// redaction. Parsers return or throw a caboose::Error; a password a parser finds never survives
// redaction, nor appears in the ZooKeeper and etcd parsers' errors.
#include <string>
#include <string_view>

#include "caboose/core/errors.h"
#include "caboose/persistence/postgres_backend.h"

#include "clients/zookeeper/zk_client.h"
#include "core/uri.h"
#include "fuzz/fuzz_check.h"
#include "jobs/etcd/etcd_layout.h"
#include "jobs/redis/redis_client.h"

using caboose::Error;
namespace detail = caboose::jobs::detail;

namespace {

// ":password@" of a plain URI (scheme://user:password@host..., the scheme and user of letters
// and digits, a password without ':', '@', '/' or '?', no query), or "" for any other input. In
// such a URI that text occurs once, so a parser's message holds it only if it leaked the
// password.
std::string secret_of(std::string_view uri) {
  const auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  const auto scheme = uri.find("://");
  const auto at = uri.rfind('@');
  if (uri.find('?') != std::string_view::npos || scheme == std::string_view::npos ||
      at == std::string_view::npos || at < scheme) {
    return {};
  }
  const auto colon = uri.find(':', scheme + 3);
  if (colon == std::string_view::npos || colon > at || at - colon < 2) {
    return {};
  }
  for (const char c : uri.substr(0, scheme)) {
    if (!alnum(c)) {
      return {};
    }
  }
  for (const char c : uri.substr(scheme + 3, colon - scheme - 3)) {
    if (!alnum(c)) {
      return {};
    }
  }
  const std::string_view password = uri.substr(colon + 1, at - colon - 1);
  if (password == "***" || password.find_first_of(":@/?") != std::string_view::npos) {
    return {};
  }
  return ":" + std::string(password) + "@";
}

bool shows(const Error& e, const std::string& secret) {
  return !secret.empty() && std::string_view(e.what()).find(secret) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view uri = caboose::fuzz::as_text(data, size);
  const std::string plain_secret = secret_of(uri);
  try {
    const auto zk = caboose::clients::parse_zk_uri(uri, "/taskflow");
    CABOOSE_FUZZ_CHECK(!zk.hosts.empty() && zk.session_timeout.count() > 0);
    CABOOSE_FUZZ_CHECK(zk.hosts.find('@') == std::string::npos);
  } catch (const Error& e) {
    CABOOSE_FUZZ_CHECK(!shows(e, plain_secret));
  }
  try {
    const auto etcd = detail::parse_etcd_uri(uri);
    CABOOSE_FUZZ_CHECK(!etcd.endpoints.hosts.empty() && !etcd.path.empty());
  } catch (const Error& e) {
    CABOOSE_FUZZ_CHECK(!shows(e, plain_secret));
  }
  try {
    const auto redis = detail::RedisAddress::parse(uri);
    CABOOSE_FUZZ_CHECK(redis.port >= 1 && redis.port <= 65535);
    if (!redis.password.empty() && redis.password != "***") {
      const std::string secret = ":" + redis.password + "@";
      // After "redis://<user>" (which may itself hold "://" or '@').
      CABOOSE_FUZZ_CHECK(redis.shown.find(secret, 8 + redis.username.size()) == std::string::npos);
      // The whole password goes, wherever it holds ':' or '@' (the parser takes the last '@').
      const std::string_view hostpart = uri.substr(0, uri.find('?'));
      const std::string expected =
          "redis://" + redis.username + ":***@" + std::string(uri.substr(hostpart.rfind('@') + 1));
      CABOOSE_FUZZ_CHECK(caboose::detail::redact_uri(uri) == expected);
    }
  } catch (const Error&) {
  }
  try {
    const auto pg = caboose::persistence::parse_postgres_conninfo(std::string(uri));
    // caboose's own option never reaches libpq, which refuses parameters it does not know.
    CABOOSE_FUZZ_CHECK(!caboose::persistence::parse_postgres_conninfo(pg.libpq).timeout);
  } catch (const Error&) {
  }
  (void)caboose::persistence::redact_conninfo(std::string(uri));
  (void)caboose::detail::redact_uri(uri);
  return 0;
}
