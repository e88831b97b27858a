#include "caboose/conductors/post.h"

#include <chrono>
#include <utility>

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose::conductors {

jobs::Job post_flow_job(jobs::JobBoard& board, persistence::Backend& backend, FlowJob job) {
  if (!job.store.is_null() && !job.store.is_object()) {
    throw InvalidArgument(fmt::format("the store of job '{}' must be an object", job.name));
  }
  persistence::LogBook book = persistence::make_logbook(job.name);
  persistence::FlowDetail flow = persistence::make_flow_detail(job.name);
  save_factory_details(flow, std::move(job.factory));
  book.flows.push_back(flow);
  book.updated_at = std::chrono::time_point_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now());  // as LogBook.add()
  backend.save_logbook(book);
  jobs::PostOptions options = std::move(job.options);
  if (!options.details.is_object()) {
    options.details = Value::object();
  }
  options.details["flow_uuid"] = flow.uuid;
  if (!job.store.is_null()) {
    options.details["store"] = std::move(job.store);
  }
  options.book = std::move(book);
  return board.post(std::move(job.name), std::move(options));
}

}  // namespace caboose::conductors
