// Arguments and results, as TaskFlow's tests/unit/test_arguments_passing.py, on every engine.
#include <string>

#include <gtest/gtest.h>

#include "caboose/atoms/functor_task.h"
#include "caboose/core/errors.h"
#include "caboose/engine/engine.h"
#include "caboose/patterns/linear_flow.h"

#include "engine_cases.h"

namespace caboose::engine {
namespace {

class ArgumentsPassing : public testing::EngineCase {
 protected:
  std::unique_ptr<Engine> make(AtomPtr atom) {
    auto flow = linear_flow("args");
    flow->add(std::move(atom));
    return make_engine(std::move(flow));
  }
};

// x + y + z, as TaskFlow's TaskMultiArgOneReturn.
AtomPtr multi_arg_one_return(AtomOptions options) {
  options.args = {"x", "y", "z"};
  options.provides = "result";
  return task(
      "multi", [](int x, int y, int z) { return x + y + z; }, std::move(options));
}

TEST_P(ArgumentsPassing, SaveAs) {
  auto engine = make(task("task1", [] { return 1; }, {.provides = "first_data"}));
  engine->run();
  EXPECT_EQ(engine->storage().fetch_all(), (Value{{"first_data", 1}}));
}

TEST_P(ArgumentsPassing, SaveAllInOne) {
  auto engine = make(task("multi", [] { return Value::array({1, 3, 5}); }, {.provides = "all"}));
  engine->run();
  EXPECT_EQ(engine->storage().fetch_all(), (Value{{"all", {1, 3, 5}}}));
}

TEST_P(ArgumentsPassing, SaveSeveralValues) {
  auto engine = make(task("multi",
                          [] {
                            return Value::array({1, 3, 5});
                          },
                          {.provides = Provides::positional({"badger", "mushroom", "snake"})}));
  engine->run();
  EXPECT_EQ(engine->storage().fetch_all(), (Value{{"badger", 1}, {"mushroom", 3}, {"snake", 5}}));
}

TEST_P(ArgumentsPassing, SaveDict) {
  auto engine = make(task("multi",
                          [] {
                            return Value{{"badger", 0}, {"mushroom", 1}, {"snake", 2}};
                          },
                          {.provides = Provides::keys({"badger", "mushroom", "snake"})}));
  engine->run();
  EXPECT_EQ(engine->storage().fetch_all(), (Value{{"badger", 0}, {"mushroom", 1}, {"snake", 2}}));
}

TEST_P(ArgumentsPassing, ArgumentsFromStore) {
  auto engine = make(multi_arg_one_return({}));
  engine->storage().inject({{"x", 1}, {"y", 4}, {"z", 9}, {"a", 17}});
  engine->run();
  EXPECT_EQ(engine->storage().fetch_all(),
            (Value{{"x", 1}, {"y", 4}, {"z", 9}, {"a", 17}, {"result", 14}}));
}

TEST_P(ArgumentsPassing, MissingArgumentsRefuseToRun) {
  auto engine = make(multi_arg_one_return({}));
  engine->storage().inject({{"a", 1}, {"b", 4}, {"x", 17}});
  try {
    engine->run();
    FAIL() << "expected MissingDependencies";
  } catch (const MissingDependencies& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("multi"), std::string::npos) << what;
    EXPECT_NE(what.find('y'), std::string::npos) << what;
    EXPECT_NE(what.find('z'), std::string::npos) << what;
  }
  EXPECT_EQ(engine->storage().get_atom_state("multi"), AtomState::kPending);  // nothing ran
}

TEST_P(ArgumentsPassing, PartialRebind) {
  auto engine = make(multi_arg_one_return({.rebind = {{"x", "a"}}}));
  engine->storage().inject({{"x", 1}, {"y", 4}, {"z", 9}, {"a", 17}});
  engine->run();
  EXPECT_EQ(engine->storage().fetch("result"), 30);
}

TEST_P(ArgumentsPassing, AllArgumentsRebound) {
  auto engine = make(multi_arg_one_return({.rebind = {{"x", "a"}, {"y", "b"}, {"z", "c"}}}));
  engine->storage().inject({{"a", 1}, {"b", 2}, {"c", 3}, {"x", 4}, {"y", 5}, {"z", 6}});
  engine->run();
  EXPECT_EQ(engine->storage().fetch("result"), 6);
}

TEST_P(ArgumentsPassing, AtomInjection) {
  auto engine = make(multi_arg_one_return({.inject = {{"x", 1}, {"y", 4}, {"z", 9}}}));
  engine->run();
  EXPECT_EQ(engine->storage().fetch_all(), (Value{{"result", 14}}));
}

TEST_P(ArgumentsPassing, AtomInjectionOfReboundNames) {
  auto engine = make(multi_arg_one_return(
      {.rebind = {{"x", "a"}, {"y", "b"}, {"z", "c"}}, .inject = {{"a", 1}, {"b", 4}, {"c", 9}}}));
  engine->run();
  EXPECT_EQ(engine->storage().fetch_all(), (Value{{"result", 14}}));
}

TEST_P(ArgumentsPassing, InjectedValuesBeatTheStore) {
  auto engine = make(multi_arg_one_return({.inject = {{"x", 100}}}));
  engine->storage().inject({{"x", 1}, {"y", 2}, {"z", 3}});
  engine->run();
  EXPECT_EQ(engine->storage().fetch("result"), 105);
}

TEST_P(ArgumentsPassing, ReboundToAnUnknownNameIsMissing) {
  auto engine = make(multi_arg_one_return({.rebind = {{"z", "b"}}}));
  engine->storage().inject({{"a", 1}, {"y", 4}, {"c", 9}, {"x", 17}});
  EXPECT_THROW(engine->run(), MissingDependencies);
}

TEST_P(ArgumentsPassing, LongArgumentName) {
  auto engine = make(
      task("long", [](int v) { return v; }, {.args = {"long_arg_name"}, .provides = "result"}));
  engine->storage().inject({{"long_arg_name", 1}});
  engine->run();
  EXPECT_EQ(engine->storage().fetch_all(), (Value{{"long_arg_name", 1}, {"result", 1}}));
}

TEST_P(ArgumentsPassing, OptionalArgumentsArePassedOnlyWhenPresent) {
  auto engine = make(task("opt",
                          [](const Value& x, const Value& y) {
                            return Value{x, y};
                          },
                          {.args = {"x"}, .optional = {"y"}, .provides = "seen"}));
  engine->storage().inject({{"x", 1}});
  engine->run();
  EXPECT_EQ(engine->storage().fetch("seen"), (Value{1, nullptr}));
}

TEST_P(ArgumentsPassing, ConversionErrorFailsTheTaskAndReverts) {
  auto engine = make(task("typed", [](int x) { return x; }, {.args = {"x"}}));
  engine->storage().inject({{"x", "not a number"}});
  EXPECT_ANY_THROW(engine->run());
  EXPECT_EQ(engine->state(), FlowState::kReverted);
  EXPECT_TRUE(engine->storage().get_failure("typed").has_value());
}

TEST(ArgumentsDeclaration, BadDeclarationsAreRefused) {
  EXPECT_THROW((void)task("t", [](int) {}, {.args = {"a", "b"}}), InvalidArgument);
  EXPECT_THROW((void)task("t", [](int a) { return a; }, {.args = {"a"}, .rebind = {{"q", "r"}}}),
               InvalidArgument);
  EXPECT_THROW((void)task("", [] {}, {}), InvalidArgument);
  EXPECT_THROW((void)task("t", [] { return 1; }, {.provides = {"a", "a"}}), InvalidArgument);
}

CABOOSE_ON_EVERY_ENGINE(ArgumentsPassing);

}  // namespace
}  // namespace caboose::engine
