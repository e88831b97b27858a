#include "caboose/atoms/functor_task.h"

#include <utility>

#include <fmt/format.h>

namespace caboose {

FunctorTask::FunctorTask(std::string name, ExecuteFunction execute, TaskOptions options,
                         RevertFunction revert)
    : Task(std::move(name), std::move(options)),
      execute_(std::move(execute)),
      revert_(std::move(revert)) {
  if (!execute_) {
    throw InvalidArgument(fmt::format("task '{}' needs an execute function", this->name()));
  }
}

Value FunctorTask::execute(const Value& args) {
  return execute_(args);
}

Value FunctorTask::revert(const Value& args, const Outcome& result, const FailureMap& failures) {
  return revert_ ? revert_(args, result, failures) : Value();
}

namespace detail {
std::unique_ptr<Task> make_functor_task(std::string name, ExecuteFunction fn, TaskOptions options,
                                        RevertFunction revert, std::size_t arity) {
  if (options.args.size() + options.optional.size() != arity) {
    throw InvalidArgument(fmt::format("task '{}' takes {} arguments but {} names were given", name,
                                      arity, options.args.size() + options.optional.size()));
  }
  return std::make_unique<FunctorTask>(std::move(name), std::move(fn), std::move(options),
                                       std::move(revert));
}
}  // namespace detail

}  // namespace caboose
