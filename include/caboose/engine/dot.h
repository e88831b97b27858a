// Graphviz export of a compiled flow, for humans: `dot -Tsvg` turns it into a picture.
// Atoms are nodes (tasks as boxes, retries as diamonds), each flow a cluster, each flow's start
// and end a small point; an edge means "runs after", a dashed edge carries a decider (labelled
// with its depth). With an engine, nodes are coloured by the atoms' current states.
//
//   std::cout << caboose::engine::to_dot(*flow);
#pragma once

#include <string>

#include "caboose/patterns/flow.h"
#include "caboose/persistence/models.h"

namespace caboose::engine {

class Engine;

// Throws what compiling the flow throws (Duplicate, DependencyFailure).
[[nodiscard]] std::string to_dot(const Flow& flow);
// The engine's flow, each atom filled with the colour of its state in the engine's storage.
[[nodiscard]] std::string to_dot(Engine& engine);
// `flow` with each atom coloured by its state in a stored flow detail (atoms matched by name),
// read-only: what a viewer draws for a flow some conductor ran.
[[nodiscard]] std::string to_dot(const Flow& flow, const persistence::FlowDetail& detail);

}  // namespace caboose::engine
