#include "caboose/engine/dot.h"

#include <string>

#include <gtest/gtest.h>

#include "caboose/patterns/graph_flow.h"
#include "caboose/patterns/linear_flow.h"
#include "caboose/patterns/unordered_flow.h"

#include "engine_cases.h"

namespace caboose::engine {
namespace {

using testing::failing;
using testing::progressing;

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

TEST(DotTest, AtomsFlowsAndEdges) {
  auto inner = unordered_flow("fan-out");
  inner->add(progressing("b1"), progressing("b2"));
  auto flow = linear_flow("orders", times("retry \"3\"", 3));
  flow->add(progressing("a"), std::move(inner), progressing("c"));
  const std::string dot = to_dot(*flow);
  EXPECT_EQ(dot.rfind("digraph \"orders\" {", 0), 0u) << dot;
  EXPECT_EQ(dot.back(), '\n');
  EXPECT_EQ(count(dot, "shape=box"), 4u) << dot;                               // a, b1, b2, c
  EXPECT_EQ(count(dot, "shape=diamond"), 1u) << dot;                           // the retry
  EXPECT_NE(dot.find("label=\"retry \\\"3\\\"\""), std::string::npos) << dot;  // escaped
  EXPECT_EQ(count(dot, "subgraph \"cluster_"), 1u) << dot;
  EXPECT_NE(dot.find("label=\"fan-out (unordered)\""), std::string::npos) << dot;
  EXPECT_EQ(count(dot, "{"), count(dot, "}"));
  EXPECT_GT(count(dot, " -> "), 5u);
}

TEST(DotTest, DecidedLinksAreDashedWithTheirDepth) {
  auto flow = graph_flow("g");
  flow->add(progressing("a"), progressing("b"), progressing("c"));
  flow->link(
      "a", "b", [](const Value&) { return true; }, DeciderDepth::kAtom);
  flow->link("b", "c");
  const std::string dot = to_dot(*flow);
  EXPECT_EQ(count(dot, "style=dashed"), 1u) << dot;
  EXPECT_NE(dot.find("label=\"decider (ATOM)\""), std::string::npos) << dot;
}

TEST(DotTest, EngineStatesColourTheAtoms) {
  auto flow = linear_flow("f");
  flow->add(progressing("ok"), failing("bad"));
  auto engine = load(std::move(flow));
  EXPECT_THROW(engine->run(), std::runtime_error);
  const std::string dot = to_dot(*engine);
  EXPECT_EQ(count(dot, "fillcolor=khaki, tooltip=\"REVERTED\""), 2u) << dot;
}

TEST(DotTest, InvalidFlowsAreRefusedAsCompileRefusesThem) {
  auto flow = linear_flow("f");
  flow->add(progressing("a"));
  auto inner = linear_flow("inner");
  inner->add(progressing("a"));
  flow->add(std::move(inner));
  EXPECT_THROW((void)to_dot(*flow), Duplicate);
}

}  // namespace
}  // namespace caboose::engine
