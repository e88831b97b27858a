// The caboose command line: `caboose --version`, `caboose demo`, ... Returns the exit code.
#pragma once

namespace caboose::cli {
int run_cli(int argc, char** argv);
}  // namespace caboose::cli
