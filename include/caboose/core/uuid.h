// Random (version 4) UUIDs in their canonical lower-case text form, as TaskFlow's
// oslo_utils.uuidutils.generate_uuid(). Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace caboose {
[[nodiscard]] std::string make_uuid();
// Whether `text` is a UUID in canonical 8-4-4-4-12 hex form.
bool is_uuid(std::string_view text);
}  // namespace caboose
