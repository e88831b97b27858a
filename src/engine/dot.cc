#include "caboose/engine/dot.h"

#include <functional>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "caboose/engine/engine.h"

#include "engine/compiler.h"

namespace caboose::engine {
namespace {

// A double-quoted dot ID.
std::string dot_id(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c == '\n' ? ' ' : c;
  }
  return out + '"';
}

std::string_view fill_colour(AtomState state) {
  switch (state) {
    case AtomState::kSuccess:
      return "palegreen";
    case AtomState::kFailure:
    case AtomState::kRevertFailure:
      return "salmon";
    case AtomState::kRunning:
    case AtomState::kReverting:
    case AtomState::kRetrying:
      return "lightskyblue";
    case AtomState::kReverted:
      return "khaki";
    case AtomState::kIgnore:
      return "lightgrey";
    default:
      return "white";
  }
}

// An atom's state by its name, if known.
using StateOf = std::function<std::optional<AtomState>(const std::string& atom)>;

std::string render(const Compilation& c, const StateOf& state_of) {
  std::string out = fmt::format("digraph {} {{\n  rankdir=TB;\n  compound=true;\n",
                                dot_id(c.scopes[0].flow->name()));
  out += "  node [fontname=\"Helvetica\", fontsize=11];\n";
  // Nodes, grouped by scope; nested scopes become nested clusters.
  std::vector<std::vector<NodeId>> members(c.scopes.size());
  for (NodeId n = 0; n < c.nodes.size(); ++n) {
    members[c.nodes[n].scope].push_back(n);
  }
  std::vector<std::vector<ScopeId>> children(c.scopes.size());
  for (ScopeId s = 1; s < c.scopes.size(); ++s) {
    children[*c.scopes[s].parent].push_back(s);
  }
  const auto node_line = [&](NodeId n, const std::string& indent) {
    const Node& node = c.nodes[n];
    if (node.atom == nullptr) {
      return fmt::format("{}n{} [shape=point, width=0.06, label=\"\"];\n", indent, n);
    }
    std::string attrs = node.kind == NodeKind::kRetry ? "shape=diamond" : "shape=box";
    if (state_of) {
      if (const std::optional<AtomState> state = state_of(node.atom->name())) {
        attrs += fmt::format(", style=filled, fillcolor={}, tooltip={}", fill_colour(*state),
                             dot_id(to_string(*state)));
      }
    }
    return fmt::format("{}n{} [label={}, {}];\n", indent, n, dot_id(node.atom->name()), attrs);
  };
  // Depth-first over scopes with an explicit stack of (scope, opened?).
  std::vector<std::pair<ScopeId, bool>> stack{{0, false}};
  while (!stack.empty()) {
    auto [s, opened] = stack.back();
    stack.pop_back();
    const std::string indent(2 * (c.scopes[s].depth + 1), ' ');
    if (opened) {
      if (s != 0) {
        out += indent.substr(2) + "}\n";
      }
      continue;
    }
    if (s != 0) {
      const Flow& flow = *c.scopes[s].flow;
      out +=
          fmt::format("{}subgraph {} {{\n{}label={};\n{}style=rounded;\n", indent.substr(2),
                      dot_id("cluster_" + std::to_string(s)), indent,
                      dot_id(fmt::format("{} ({})", flow.name(), to_string(flow.kind()))), indent);
    }
    for (NodeId n : members[s]) {
      out += node_line(n, indent);
    }
    stack.emplace_back(s, true);
    for (auto it = children[s].rbegin(); it != children[s].rend(); ++it) {
      stack.emplace_back(*it, false);
    }
  }
  // Edges; a decided edge is dashed and labelled with its depth.
  for (NodeId n = 0; n < c.nodes.size(); ++n) {
    std::map<NodeId, const EdgeDecider*> decided;
    for (const EdgeDecider& d : c.nodes[n].deciders) {
      decided.emplace(d.from, &d);
    }
    for (NodeId p : c.nodes[n].preds) {
      const auto d = decided.find(p);
      if (d == decided.end()) {
        out += fmt::format("  n{} -> n{};\n", p, n);
      } else {
        out += fmt::format("  n{} -> n{} [style=dashed, label={}];\n", p, n,
                           dot_id(fmt::format("decider ({})", to_string(d->second->depth))));
      }
    }
  }
  out += "}\n";
  return out;
}

}  // namespace

std::string to_dot(const Flow& flow) {
  return render(compile(flow), nullptr);
}

std::string to_dot(Engine& engine) {
  Storage& storage = engine.storage();
  return render(compile(engine.flow()),
                [&storage](const std::string& atom) -> std::optional<AtomState> {
                  if (const auto index = storage.find(atom)) {
                    return storage.atom_state(*index);
                  }
                  return std::nullopt;
                });
}

std::string to_dot(const Flow& flow, const persistence::FlowDetail& detail) {
  return render(compile(flow), [&detail](const std::string& atom) -> std::optional<AtomState> {
    if (const persistence::AtomDetail* found = detail.find_by_name(atom)) {
      return found->state;
    }
    return std::nullopt;
  });
}

}  // namespace caboose::engine
