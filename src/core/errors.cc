#include "caboose/core/errors.h"

#include <string>
#include <utility>
#include <vector>

namespace caboose {
namespace {
std::string describe_missing(const std::string& who, const std::vector<std::string>& missing,
                             const std::string& method) {
  std::string text = "'" + who + "' requires [";
  for (std::size_t i = 0; i < missing.size(); ++i) {
    text += (i == 0 ? "'" : ", '") + missing[i] + "'";
  }
  text += "] for " + method + " but no provider produces ";
  text += missing.size() == 1 ? "it" : "them";
  return text;
}
}  // namespace

MissingDependencies::MissingDependencies(std::string who, std::vector<std::string> missing,
                                         std::string method)
    : DependencyFailure(describe_missing(who, missing, method)),
      who_(std::move(who)),
      missing_(std::move(missing)),
      method_(std::move(method)) {}
}  // namespace caboose
