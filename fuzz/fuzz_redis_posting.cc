// Redis job postings (msgpack, TaskFlow's RedisJobBoard) and <job>.last_modified datetimes: a
// decoder returns or throws a caboose::Error (anything else escapes and libFuzzer reports it),
// and what decodes re-encodes to a posting that decodes to the same job and the same bytes.
#include "caboose/core/errors.h"

#include "fuzz/fuzz_check.h"
#include "jobs/redis/posting.h"

using caboose::Error;
using caboose::Value;
using caboose::jobs::Job;
namespace detail = caboose::jobs::detail;

namespace {

void same_job(const Job& a, const Job& b) {
  CABOOSE_FUZZ_CHECK(a.uuid == b.uuid);
  CABOOSE_FUZZ_CHECK(a.name == b.name);
  CABOOSE_FUZZ_CHECK(a.priority == b.priority);
  CABOOSE_FUZZ_CHECK(a.created_on == b.created_on);
  // As bytes, so a NaN compares equal to itself and a binary value differs from a map.
  CABOOSE_FUZZ_CHECK(Value::to_msgpack(a.details) == Value::to_msgpack(b.details));
  CABOOSE_FUZZ_CHECK(a.book_uuid == b.book_uuid);
  CABOOSE_FUZZ_CHECK(a.book_name == b.book_name);
  CABOOSE_FUZZ_CHECK(a.sequence == b.sequence);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = caboose::fuzz::as_text(data, size);
  try {
    const Job job = detail::decode_posting(bytes);
    const std::string encoded = detail::encode_posting(job);
    const Job again = detail::decode_posting(encoded);
    same_job(job, again);
    CABOOSE_FUZZ_CHECK(detail::encode_posting(again) == encoded);
  } catch (const Error&) {
  }
  try {
    const caboose::jobs::TimePoint t = detail::decode_datetime(bytes);
    CABOOSE_FUZZ_CHECK(detail::decode_datetime(detail::encode_datetime(t)) == t);
  } catch (const Error&) {
  }
  return 0;
}
