#include "caboose/core/notifier.h"

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "caboose/core/errors.h"

namespace caboose {
namespace {

TEST(NotifierTest, CallsCallbacksOfTheEventAndOfAny) {
  Notifier n;
  std::vector<std::string> calls;
  n.register_callback("SUCCESS", [&](std::string_view e, const Value& d) {
    calls.push_back("one:" + std::string(e) + ":" + d["x"].dump());
  });
  n.register_callback(std::string(Notifier::kAny), [&](std::string_view e, const Value&) {
    calls.push_back("any:" + std::string(e));
  });
  n.notify("SUCCESS", {{"x", 1}});
  n.notify("FAILURE", {{"x", 2}});
  EXPECT_EQ(calls, (std::vector<std::string>{"one:SUCCESS:1", "any:SUCCESS", "any:FAILURE"}));
}

TEST(NotifierTest, DeregisterAndFilter) {
  Notifier n;
  int calls = 0;
  const auto h = n.register_callback("E", [&](std::string_view, const Value&) { ++calls; });
  n.register_callback(
      "E", [&](std::string_view, const Value&) { calls += 10; },
      [](const Value& d) { return d.value("wanted", false); });
  n.notify("E", {{"wanted", false}});
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(n.deregister(h));
  EXPECT_FALSE(n.deregister(h));
  n.notify("E", {{"wanted", true}});
  EXPECT_EQ(calls, 11);
  EXPECT_EQ(n.deregister_event("E"), 1U);
  EXPECT_TRUE(n.empty());
}

TEST(NotifierTest, AThrowingCallbackDoesNotStopTheOthers) {
  Notifier n;
  int calls = 0;
  n.register_callback("E", [](std::string_view, const Value&) { throw std::runtime_error("bad"); });
  n.register_callback("E", [&](std::string_view, const Value&) { ++calls; });
  EXPECT_NO_THROW(n.notify("E", Value::object()));
  EXPECT_EQ(calls, 1);
}

TEST(NotifierTest, LazyDetailsAreBuiltOnlyWhenSomeoneListens) {
  Notifier n;
  int built = 0;
  n.notify_lazy("E", [&] {
    ++built;
    return Value();
  });
  EXPECT_EQ(built, 0);
  n.register_callback("E", [](std::string_view, const Value&) {});
  n.notify_lazy("OTHER", [&] {
    ++built;
    return Value();
  });
  n.notify_lazy("E", [&] {
    ++built;
    return Value();
  });
  EXPECT_EQ(built, 1);
}

TEST(NotifierTest, RegisteringWhileNotifyingFromThreads) {
  Notifier n;
  std::atomic<int> calls{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 200; ++i) {
          const auto h = n.register_callback("E", [&](std::string_view, const Value&) { ++calls; });
          n.notify("E", Value());
          n.deregister(h);
        }
      });
    }
  }
  EXPECT_GE(calls.load(), 800);
  EXPECT_TRUE(n.empty());
  EXPECT_THROW(n.register_callback("", [](std::string_view, const Value&) {}), InvalidArgument);
}

}  // namespace
}  // namespace caboose
