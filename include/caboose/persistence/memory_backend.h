// The in-memory backend (memory://), as taskflow.persistence.backends.impl_memory: everything
// lives in this process and is gone when the backend is destroyed. Stores copies, hands out
// copies. Thread-safe.
#pragma once

#include <memory>

#include "caboose/persistence/backend.h"

namespace caboose::persistence {
[[nodiscard]] std::unique_ptr<Backend> make_memory_backend();
}  // namespace caboose::persistence
