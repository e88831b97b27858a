#include "core/log.h"

#include <memory>

namespace caboose::detail {
spdlog::logger& log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("caboose")) {
      return existing;
    }
    // Shares the default logger's sinks so whatever the application set up applies.
    auto made =
        std::make_shared<spdlog::logger>("caboose", spdlog::default_logger()->sinks().begin(),
                                         spdlog::default_logger()->sinks().end());
    made->set_level(spdlog::default_logger()->level());
    spdlog::register_logger(made);
    return made;
  }();
  return *logger;
}
}  // namespace caboose::detail
