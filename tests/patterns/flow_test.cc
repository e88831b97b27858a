#include <set>
#include <string>

#include <gtest/gtest.h>

#include "caboose/atoms/functor_task.h"
#include "caboose/patterns/graph_flow.h"
#include "caboose/patterns/linear_flow.h"
#include "caboose/patterns/unordered_flow.h"

namespace caboose {
namespace {

using Names = std::set<std::string>;

AtomPtr needs(const std::string& name, std::vector<std::string> args, Provides provides = {}) {
  return std::make_unique<FunctorTask>(
      name, [](const Value&) { return Value(); },
      AtomOptions{.args = std::move(args), .provides = std::move(provides)});
}

TEST(LinearFlowTest, RequirementsAreWhatEarlierItemsDoNotProvide) {
  auto flow = linear_flow("lf");
  flow->add(needs("a", {"x"}, "y"), needs("b", {"y", "z"}, Provides{"p", "q"}));
  EXPECT_EQ(flow->requirements(), (Names{"x", "z"}));
  EXPECT_EQ(flow->provides(), (Names{"y", "p", "q"}));
  ASSERT_EQ(flow->links().size(), 1U);
  EXPECT_EQ(flow->links()[0].from, 0U);
  EXPECT_EQ(flow->links()[0].to, 1U);
}

TEST(LinearFlowTest, ItemNamesAreUnique) {
  auto flow = linear_flow("lf");
  flow->add(needs("a", {}));
  EXPECT_THROW(flow->add(needs("a", {})), Duplicate);
  EXPECT_EQ(flow->size(), 1U);
}

TEST(UnorderedFlowTest, ItemsSeeNothingFromEachOther) {
  auto flow = unordered_flow("uf");
  flow->add(needs("a", {}, "x"), needs("b", {"x"}));
  EXPECT_EQ(flow->requirements(), (Names{"x"}));
  EXPECT_EQ(flow->provides(), (Names{"x"}));
  EXPECT_TRUE(flow->links().empty());
}

TEST(NestedFlowTest, RequirementsCrossNesting) {
  auto inner = linear_flow("inner");
  inner->add(needs("b", {"a_out"}, "b_out"));
  auto flow = linear_flow("outer");
  flow->add(needs("a", {"in"}, "a_out"), std::move(inner), needs("c", {"b_out", "more"}));
  EXPECT_EQ(flow->requirements(), (Names{"in", "more"}));
}

TEST(GraphFlowTest, InfersEdgesFromProvidesAndRequires) {
  auto flow = graph_flow("g");
  flow->add(needs("consumer", {"x"}), needs("producer", {}, "x"));
  ASSERT_EQ(flow->links().size(), 1U);
  EXPECT_EQ(flow->items()[flow->links()[0].from].name(), "producer");
  EXPECT_EQ(flow->items()[flow->links()[0].to].name(), "consumer");
  EXPECT_TRUE(flow->requirements().empty());
}

TEST(GraphFlowTest, CycleIsRefusedAndNamed) {
  auto flow = graph_flow("g");
  flow->add(needs("a", {}), needs("b", {}));
  flow->link("a", "b");
  try {
    flow->link("b", "a");
    FAIL() << "expected DependencyFailure";
  } catch (const DependencyFailure& e) {
    EXPECT_NE(std::string(e.what()).find("a -> b -> a"), std::string::npos) << e.what();
  }
  EXPECT_EQ(flow->links().size(), 1U);
}

TEST(GraphFlowTest, AmbiguousProviderIsRefused) {
  auto flow = graph_flow("g");
  flow->add(needs("p1", {}, "x"), needs("p2", {}, "x"));
  EXPECT_THROW(flow->add(needs("c", {"x"})), AmbiguousDependency);
  EXPECT_EQ(flow->size(), 2U);
}

TEST(GraphFlowTest, LinkToUnknownItemIsNotFound) {
  auto flow = graph_flow("g");
  flow->add(needs("a", {}));
  EXPECT_THROW(flow->link("a", "nope"), NotFound);
}

TEST(GraphFlowTest, CycleMadeByAnAddIsRefusedAndLeavesTheFlowAsItWas) {
  auto flow = graph_flow("g");
  flow->add(needs("task1", {"c"}, "a"), needs("task2", {"a"}, "b"));
  EXPECT_THROW(flow->add(needs("task3", {"b"}, "c")), DependencyFailure);
  EXPECT_EQ(flow->size(), 2U);
  ASSERT_EQ(flow->links().size(), 1U);
  EXPECT_EQ(flow->requirements(), (Names{"c"}));
  // Still usable: a provider of "c" with no requirement links in.
  flow->add(needs("source", {}, "c"));
  EXPECT_EQ(flow->links().size(), 2U);
  EXPECT_TRUE(flow->requirements().empty());
}

TEST(GraphFlowTest, ChainOfProvidesIsLinkedInOrder) {
  auto flow = graph_flow("g");
  flow->add(needs("task1", {}, "a"), needs("task2", {"a"}, "c"), needs("task3", {"c"}));
  std::set<std::pair<std::string, std::string>> links;
  for (const FlowLink& l : flow->links()) {
    links.emplace(flow->items()[l.from].name(), flow->items()[l.to].name());
  }
  EXPECT_EQ(links, (std::set<std::pair<std::string, std::string>>{{"task1", "task2"},
                                                                  {"task2", "task3"}}));
}

TEST(GraphFlowTest, LinkingAnInferredEdgeAgainKeepsOneEdge) {
  auto flow = graph_flow("g");
  flow->add(needs("task1", {}, "a"), needs("task2", {"a"}));
  flow->link("task1", "task2");
  EXPECT_EQ(flow->links().size(), 1U);
  EXPECT_THROW(flow->link("task2", "task1"), DependencyFailure);
}

TEST(GraphFlowTest, UnresolvedItemsAreLinkedOnlyExplicitly) {
  auto flow = graph_flow("g");
  flow->add_unresolved(needs("task1", {}, "a"), needs("task2", {"a"}));
  EXPECT_TRUE(flow->links().empty());
  EXPECT_EQ(flow->requirements(), (Names{"a"}));
  flow->link("task1", "task2");
  EXPECT_TRUE(flow->requirements().empty());
}

TEST(GraphFlowTest, RequirementMetByAnExplicitLinkIsNotLinkedAgain) {
  // task2 waits for "a"; linking task1 (which provides it) before task2 meets it, so a later
  // provider of "a" is not linked to task2 (TaskFlow works out what is unsatisfied anew).
  auto flow = graph_flow("g");
  flow->add(needs("task2", {"a"}));
  flow->add_unresolved(needs("task1", {}, "a"));
  flow->link("task1", "task2");
  flow->add(needs("task3", {}, "a"));
  EXPECT_EQ(flow->links().size(), 1U);
}

TEST(AtomTest, RebindOptionalAndProvides) {
  auto t = task("t", [](int a) { return a; }, {.args = {"a"}, .rebind = {{"a", "stored"}}});
  EXPECT_EQ(t->requirements(), (Names{"stored"}));
  EXPECT_THROW((void)task("bad", [](int a) { return a; }, {.args = {"a", "b"}}), InvalidArgument);
  EXPECT_THROW((void)task("bad", [] {}, {.rebind = {{"zz", "y"}}}), InvalidArgument);
  EXPECT_EQ(extract_result(Value::array({1, 2}), std::size_t{1}), 2);
  EXPECT_EQ(extract_result(Value{{"k", 3}}, std::string("k")), 3);
  EXPECT_THROW((void)extract_result(Value::array({1}), std::size_t{4}), NotFound);
}

}  // namespace
}  // namespace caboose
