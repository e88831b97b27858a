// Atom: the smallest unit a flow is built from, as taskflow.atom.Atom. An atom has a name
// (unique within a flow), a version, the arguments it requires (each bound to a stored name,
// by default the same name; `rebind` changes it), optional arguments, what it provides (how
// its result is stored under names), and values injected for it alone. Tasks and retries are
// atoms. Atoms are immutable after construction and owned by the flow they are added to.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "caboose/core/failure.h"
#include "caboose/core/value.h"

namespace caboose {

// Where a provided name comes from in an atom's result: the whole result, an element of an
// array result, or a member of an object result.
using ResultIndex = std::variant<std::monostate, std::size_t, std::string>;

// How an atom's result is stored, as TaskFlow's `provides`:
//   "total"             the whole result is stored as "total";
//   {"a", "b"}          an array result: element 0 as "a", element 1 as "b";
//   Provides::keys(...) an object result: member "a" as "a", ...
class Provides {
 public:
  Provides() = default;
  Provides(const char* name);                          // NOLINT: implicit by design
  Provides(std::string name);                          // NOLINT: implicit by design
  Provides(std::initializer_list<std::string> names);  // NOLINT: implicit by design
  static Provides positional(std::vector<std::string> names);
  static Provides keys(std::vector<std::string> names);

  const std::vector<std::pair<std::string, ResultIndex>>& mapping() const { return mapping_; }
  bool empty() const { return mapping_.empty(); }

 private:
  std::vector<std::pair<std::string, ResultIndex>> mapping_;
};

// Extracts what `index` names from `result`. Throws NotFound if the result has no such
// element or member.
Value extract_result(const Value& result, const ResultIndex& index);

struct AtomOptions {
  std::vector<std::string> args = {};      // required arguments, in call order
  std::vector<std::string> optional = {};  // arguments passed only when some provider has them
  std::map<std::string, std::string> rebind = {};  // argument -> stored name it is read from
  Provides provides = {};
  Value inject = Value::object();  // argument -> value, for this atom only
  std::string version = "1.0";
};

enum class AtomKind { kTask, kRetry };

class Atom {
 public:
  virtual ~Atom() = default;
  Atom(const Atom&) = delete;
  Atom& operator=(const Atom&) = delete;

  virtual AtomKind kind() const = 0;
  const std::string& name() const { return name_; }
  const std::string& version() const { return version_; }
  // Every argument (required and optional) and the stored name it is read from.
  const std::vector<std::pair<std::string, std::string>>& args_mapping() const {
    return args_mapping_;
  }
  bool is_optional(const std::string& arg) const { return optional_.count(arg) != 0; }
  // Stored names this atom needs (required arguments only), as TaskFlow's `requires`.
  const std::set<std::string>& requirements() const { return requirements_; }
  // Stored names its optional arguments read.
  std::set<std::string> optional_requirements() const;
  // Stored names this atom's result provides.
  const std::set<std::string>& provides() const { return provides_; }
  const Provides& result_mapping() const { return result_mapping_; }
  const Value& inject() const { return inject_; }

 protected:
  // Throws InvalidArgument for an empty name, a rebind of an unknown argument, an argument
  // both required and optional, or a duplicate provided name.
  Atom(std::string name, AtomOptions options);

 private:
  const std::string name_;
  const std::string version_;
  std::vector<std::pair<std::string, std::string>> args_mapping_;
  std::set<std::string> optional_;
  std::set<std::string> requirements_;
  std::set<std::string> provides_;
  Provides result_mapping_;
  Value inject_;
};

using AtomPtr = std::unique_ptr<Atom>;

}  // namespace caboose
