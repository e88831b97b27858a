// `caboose showcase`: the main job. On an embedded SQLite jobboard and a SQLite persistence file
// it posts a batch of example jobs (sums, a slow one, a poison job that always fails, one that
// kills its conductor once), runs two `caboose conductor` processes on them (restarting one that
// dies, as a supervisor would), and prints what became of every job: consumed, resumed after a
// crash, trashed with the reason. Exits 0 when every job ended as it should.
#pragma once

#include <ostream>
#include <string>

namespace caboose::cli {

struct ShowcaseOptions {
  std::string dir;  // where the board and the flows are kept; empty: a new temporary directory
  bool json = false;
};

int run_showcase(std::ostream& out, const ShowcaseOptions& options);

}  // namespace caboose::cli
