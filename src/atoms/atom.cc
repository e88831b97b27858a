#include "caboose/atoms/atom.h"

#include <string>
#include <utility>

#include <fmt/format.h>

#include "caboose/core/errors.h"

namespace caboose {

Provides::Provides(const char* name) : Provides(std::string(name)) {}

Provides::Provides(std::string name) {
  mapping_.emplace_back(std::move(name), std::monostate{});
}

Provides::Provides(std::initializer_list<std::string> names)
    : Provides(positional(std::vector<std::string>(names))) {}

Provides Provides::positional(std::vector<std::string> names) {
  Provides p;
  for (std::size_t i = 0; i < names.size(); ++i) {
    p.mapping_.emplace_back(std::move(names[i]), i);
  }
  return p;
}

Provides Provides::keys(std::vector<std::string> names) {
  Provides p;
  for (std::string& name : names) {
    std::string key = name;
    p.mapping_.emplace_back(std::move(name), std::move(key));
  }
  return p;
}

Value extract_result(const Value& result, const ResultIndex& index) {
  if (std::holds_alternative<std::monostate>(index)) {
    return result;
  }
  if (const auto* position = std::get_if<std::size_t>(&index)) {
    if (!result.is_array() || *position >= result.size()) {
      throw NotFound(fmt::format("result has no element {} (it is {} {})", *position,
                                 result.type_name(), result.dump().substr(0, 80)));
    }
    return result[*position];
  }
  const std::string& key = std::get<std::string>(index);
  if (!result.is_object()) {
    throw NotFound(fmt::format("result has no member '{}' (it is {})", key, result.type_name()));
  }
  const auto it = result.find(key);
  if (it == result.end()) {
    throw NotFound(fmt::format("result has no member '{}'", key));
  }
  return *it;
}

Atom::Atom(std::string name, AtomOptions options)
    : name_(std::move(name)),
      version_(std::move(options.version)),
      result_mapping_(std::move(options.provides)),
      inject_(std::move(options.inject)) {
  if (name_.empty()) {
    throw InvalidArgument("an atom needs a name");
  }
  if (!inject_.is_object()) {
    throw InvalidArgument(fmt::format("inject of atom '{}' must be an object", name_));
  }
  std::set<std::string> args;
  auto bind = [&](const std::string& arg, bool optional) {
    if (!args.insert(arg).second) {
      throw InvalidArgument(fmt::format("atom '{}' names argument '{}' twice", name_, arg));
    }
    const auto rebound = options.rebind.find(arg);
    std::string source = rebound == options.rebind.end() ? arg : rebound->second;
    if (optional) {
      optional_.insert(arg);
    } else {
      requirements_.insert(source);
    }
    args_mapping_.emplace_back(arg, std::move(source));
  };
  for (const std::string& arg : options.args) {
    bind(arg, false);
  }
  for (const std::string& arg : options.optional) {
    bind(arg, true);
  }
  for (const auto& [arg, source] : options.rebind) {
    if (args.count(arg) == 0) {
      throw InvalidArgument(fmt::format("atom '{}' rebinds '{}' to '{}' but has no argument '{}'",
                                        name_, arg, source, arg));
    }
  }
  for (const auto& [provided, _] : result_mapping_.mapping()) {
    if (provided.empty()) {
      throw InvalidArgument(fmt::format("atom '{}' provides an empty name", name_));
    }
    if (!provides_.insert(provided).second) {
      throw InvalidArgument(fmt::format("atom '{}' provides '{}' twice", name_, provided));
    }
  }
}

std::set<std::string> Atom::optional_requirements() const {
  std::set<std::string> names;
  for (const auto& [arg, source] : args_mapping_) {
    if (optional_.count(arg) != 0) {
      names.insert(source);
    }
  }
  return names;
}

}  // namespace caboose
