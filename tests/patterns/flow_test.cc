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
