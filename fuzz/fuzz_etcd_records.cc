// The etcd board's own records, which anyone with access to the etcd cluster can write: the
// caboose extras (job<N>.caboose), TaskFlow's lock and last_modified values, the base64 the JSON
// gateway carries, and the grouping of keys into jobs. The first byte picks the decoder. Each
// returns or throws a caboose::Error, and what decodes survives a round trip.
#include "caboose/core/errors.h"

#include "fuzz/fuzz_check.h"
#include "jobs/etcd/base64.h"
#include "jobs/etcd/etcd_layout.h"

using caboose::Error;
namespace detail = caboose::jobs::detail;

namespace {

std::optional<detail::EtcdKv> kv(std::string_view value) {
  return detail::EtcdKv{.key = "k", .value = std::string(value)};
}

void extras(std::string_view text) {
  const detail::EtcdExtras e = detail::EtcdExtras::parse(kv(text));
  const detail::EtcdExtras again = detail::EtcdExtras::parse(kv(e.dump()));
  CABOOSE_FUZZ_CHECK(again.uuid == e.uuid);
  CABOOSE_FUZZ_CHECK(again.attempts == e.attempts);
  CABOOSE_FUZZ_CHECK(again.max_attempts == e.max_attempts);
  CABOOSE_FUZZ_CHECK(again.not_before == e.not_before);
  CABOOSE_FUZZ_CHECK(again.lease_until == e.lease_until);
  CABOOSE_FUZZ_CHECK(again.last_failure == e.last_failure);
  CABOOSE_FUZZ_CHECK(again.trash_reason == e.trash_reason);
}

void modified(std::string_view text) {
  (void)detail::lock_owner(*kv(text));
  if (const auto t = detail::parse_modified(kv(text))) {
    CABOOSE_FUZZ_CHECK(detail::parse_modified(kv(detail::modified_value(*t))) == t);
  }
}

void base64(std::string_view text) {
  CABOOSE_FUZZ_CHECK(detail::base64_decode(detail::base64_encode(text)) == text);
  try {
    const std::string bytes = detail::base64_decode(text);
    CABOOSE_FUZZ_CHECK(detail::base64_decode(detail::base64_encode(bytes)) == bytes);
    CABOOSE_FUZZ_CHECK(bytes.size() <= text.size() / 4 * 3);
  } catch (const Error&) {
  }
}

// One key per line, under the board's and the bin's prefixes.
void group(std::string_view text) {
  std::vector<detail::EtcdKv> kvs;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    kvs.push_back({.key = std::string(text.substr(0, nl)), .value = "v"});
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  }
  const detail::EtcdKeys keys("jobboard");
  for (const bool bin : {false, true}) {
    for (const auto& [n, record] :
         detail::group_records(kvs, bin ? keys.binned() : keys.jobs(), bin)) {
      CABOOSE_FUZZ_CHECK(n > 0 && record.n == n);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view rest = caboose::fuzz::as_text(data + 1, size - 1);
  try {
    switch (data[0] % 4) {
      case 0:
        extras(rest);
        break;
      case 1:
        modified(rest);
        break;
      case 2:
        base64(rest);
        break;
      default:
        group(rest);
    }
  } catch (const Error&) {
  }
  return 0;
}
