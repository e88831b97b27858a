// TaskFlow's JSON postings (ZooKeeper and etcd boards): decode_json_posting returns or throws a
// caboose::Error, and a decoded posting written in the etcd layout (every field) decodes to the
// same job. The oslo datetimes of the etcd layout are checked the same way.
#include "caboose/core/errors.h"

#include "fuzz/fuzz_check.h"
#include "jobs/json_posting.h"

using caboose::Error;
using caboose::jobs::Job;
namespace detail = caboose::jobs::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = caboose::fuzz::as_text(data, size);
  try {
    const Job job = detail::decode_json_posting(text);
    for (const auto layout : {detail::PostingLayout::kZooKeeper, detail::PostingLayout::kEtcd}) {
      const std::string encoded = detail::encode_json_posting(job, layout);
      const Job again = detail::decode_json_posting(encoded);
      CABOOSE_FUZZ_CHECK(again.uuid == job.uuid);
      CABOOSE_FUZZ_CHECK(again.name == job.name);
      CABOOSE_FUZZ_CHECK(again.priority == job.priority);
      CABOOSE_FUZZ_CHECK(again.details == job.details);
      CABOOSE_FUZZ_CHECK(again.book_uuid == job.book_uuid);
      if (job.book_uuid) {
        CABOOSE_FUZZ_CHECK(again.book_name.value_or("") == job.book_name.value_or(""));
      }
      if (layout == detail::PostingLayout::kEtcd) {
        CABOOSE_FUZZ_CHECK(again.sequence == job.sequence);
        CABOOSE_FUZZ_CHECK(again.created_on == job.created_on);
      }
      CABOOSE_FUZZ_CHECK(detail::encode_json_posting(again, layout) == encoded);
    }
  } catch (const Error&) {
  }
  if (const auto t = detail::parse_python_time(text)) {
    CABOOSE_FUZZ_CHECK(detail::parse_python_time(detail::python_time(*t)) == t);
  }
  return 0;
}
