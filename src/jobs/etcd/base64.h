// Base64 (RFC 4648, standard alphabet, padded), as etcd's JSON gateway carries keys and values.
#pragma once

#include <string>
#include <string_view>

namespace caboose::jobs::detail {

std::string base64_encode(std::string_view bytes);
// The bytes; InvalidFormat naming the problem when `text` is not padded base64.
std::string base64_decode(std::string_view text);

}  // namespace caboose::jobs::detail
