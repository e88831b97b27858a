// The caboose command line: `caboose --version`, `caboose conductor`, `caboose jobs ...`, ...
// Returns the exit code. Users ship their own flows by linking caboose::cli and calling
// run_cli() with their registry (see examples/example_conductor.cc).
#pragma once

#include "caboose/conductors/flow_registry.h"

namespace caboose::cli {
// With the stock example factories (caboose.examples.*).
int run_cli(int argc, char** argv);
// With the factories of `registry`.
int run_cli(int argc, char** argv, const conductors::FlowRegistry& registry);
}  // namespace caboose::cli
