// Tasks made from functions, as TaskFlow's FunctorTask, typed at the edge:
//
//   auto add = caboose::task("add", [](int x, int y) { return x + y; },
//                            {.args = {"x", "y"}, .provides = "total"});
//
// The function's parameters are read from the named arguments, in order, converted with
// nlohmann::json's get<T>() (a parameter of type Value takes the raw value); its result is
// converted to a Value (void gives null). The argument names are given once: the required ones
// in `args`, then the optional ones in `optional` (an optional parameter should be a Value: it
// is null when nothing provides it); together they must match the function's arity
// (InvalidArgument otherwise). A revert function is
// optional, the last parameter:
//   caboose::task("reserve", reserve_fn, {.args = {"sku"}},
//                 [](const Value& args, const Outcome& result, const FailureMap&) {...});
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "caboose/atoms/task.h"
#include "caboose/core/errors.h"

namespace caboose {

using ExecuteFunction = std::function<Value(const Value& args)>;
using RevertFunction =
    std::function<Value(const Value& args, const Outcome& result, const FailureMap& failures)>;

using TaskOptions = AtomOptions;

// A task that calls functions over the raw JSON arguments.
class FunctorTask final : public Task {
 public:
  FunctorTask(std::string name, ExecuteFunction execute, TaskOptions options,
              RevertFunction revert = nullptr);
  Value execute(const Value& args) override;
  Value revert(const Value& args, const Outcome& result, const FailureMap& failures) override;

 private:
  ExecuteFunction execute_;
  RevertFunction revert_;
};

namespace detail {
template <class F>
struct Signature : Signature<decltype(&std::decay_t<F>::operator())> {};
template <class R, class C, class... A>
struct Signature<R (C::*)(A...) const> {
  using Result = R;
  using Args = std::tuple<std::decay_t<A>...>;
};
template <class R, class C, class... A>
struct Signature<R (C::*)(A...)> : Signature<R (C::*)(A...) const> {};
template <class R, class... A>
struct Signature<R (*)(A...)> : Signature<R (Value::*)(A...) const> {};
template <class R, class... A>
struct Signature<R(A...)> : Signature<R (Value::*)(A...) const> {};

// Reads argument `name` from `args` as T.
template <class T>
T read_arg(const Value& args, const std::string& name) {
  const auto it = args.find(name);
  if (it == args.end()) {
    if constexpr (std::is_same_v<T, Value>) {
      return Value();
    } else {
      throw InvalidArgument("argument '" + name + "' is missing");
    }
  } else if constexpr (std::is_same_v<T, Value>) {
    return *it;
  } else {
    return it->template get<T>();
  }
}

template <class F, class Args, std::size_t... I>
Value call_typed(F& fn, const Value& args, const std::vector<std::string>& names,
                 std::index_sequence<I...>) {
  using R = typename Signature<F>::Result;
  if constexpr (std::is_void_v<R>) {
    fn(read_arg<std::tuple_element_t<I, Args>>(args, names[I])...);
    return Value();
  } else {
    return Value(fn(read_arg<std::tuple_element_t<I, Args>>(args, names[I])...));
  }
}

std::unique_ptr<Task> make_functor_task(std::string name, ExecuteFunction fn, TaskOptions options,
                                        RevertFunction revert, std::size_t arity);
}  // namespace detail

template <class F>
[[nodiscard]] std::unique_ptr<Task> task(std::string name, F fn, TaskOptions options = {},
                                         RevertFunction revert = nullptr) {
  using Args = typename detail::Signature<F>::Args;
  constexpr std::size_t kArity = std::tuple_size_v<Args>;
  std::vector<std::string> names = options.args;  // required, then optional parameters
  names.insert(names.end(), options.optional.begin(), options.optional.end());
  ExecuteFunction execute = [fn = std::move(fn), names](const Value& args) mutable {
    return detail::call_typed<F, Args>(fn, args, names, std::make_index_sequence<kArity>{});
  };
  return detail::make_functor_task(std::move(name), std::move(execute), std::move(options),
                                   std::move(revert), kArity);
}

}  // namespace caboose
