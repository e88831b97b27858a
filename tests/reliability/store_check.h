// Whether a persistence store survived its faults whole: a SQLite database passes
// `PRAGMA integrity_check`; in a directory store (dir://) every record (each object's
// "metadata", each fence) parses, and the backend reads every logbook back in full.
#pragma once

#include <string>

namespace caboose::reliability {

// "" when the store at `uri` (sqlite:// or dir://) is whole, else one line per problem found.
std::string store_problems(const std::string& uri);

}  // namespace caboose::reliability
