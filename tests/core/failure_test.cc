#include "caboose/core/failure.h"

#include <stdexcept>

#include <gtest/gtest.h>

namespace caboose {
namespace {

Failure capture_nested() {
  try {
    try {
      throw std::out_of_range("inner");
    } catch (...) {
      std::throw_with_nested(std::runtime_error("outer"));
    }
  } catch (...) {
    return Failure::capture();
  }
  return Failure({"none"}, "none");
}

TEST(FailureTest, CapturesTypeNamesMessageAndNestedCause) {
  const Failure f = capture_nested();
  EXPECT_EQ(f.exception_str(), "outer");
  ASSERT_FALSE(f.exception_type_names().empty());
  EXPECT_EQ(f.exception_type_names().back(), "Exception");
  EXPECT_TRUE(f.check("std::runtime_error"));
  EXPECT_TRUE(f.check<std::exception>());
  ASSERT_EQ(f.causes().size(), 1U);
  EXPECT_EQ(f.causes()[0].exception_str(), "inner");
  EXPECT_TRUE(f.causes()[0].check<std::out_of_range>());
  EXPECT_TRUE(f.causes()[0].check<std::logic_error>());
}

TEST(FailureTest, CapturesCabooseErrorsWithTheirLineage) {
  try {
    throw UnclaimableJob("held");
  } catch (...) {
    const Failure f = Failure::capture();
    EXPECT_TRUE(f.check<UnclaimableJob>());
    EXPECT_TRUE(f.check<JobFailure>());
    EXPECT_TRUE(f.check<Error>());
    EXPECT_FALSE(f.check<NotFound>());
  }
}

TEST(FailureTest, RoundTripsTaskFlowsDict) {
  // The RuntimeError-from-KeyError failure captured from Python TaskFlow 5.0.0.
  const Value dict = Value::parse(R"({
    "exception_str": "outer", "traceback_str": "  File \"failures_demo.py\", line 6\n",
    "exc_type_names": ["RuntimeError", "Exception"], "version": 1, "exc_args": ["outer"],
    "causes": [{"exception_str": "'inner'", "traceback_str": "", "exc_type_names":
      ["KeyError", "LookupError", "Exception"], "version": 1, "exc_args": ["inner"], "causes": []}]
  })");
  const Failure f = Failure::from_dict(dict);
  EXPECT_EQ(f.to_dict(), dict);
  EXPECT_EQ(Failure::from_dict(f.to_dict()), f);
  EXPECT_TRUE(f.check("RuntimeError"));
  EXPECT_TRUE(f.causes()[0].check("LookupError"));
}

TEST(FailureTest, FromDictRefusesWhatTaskFlowRefuses) {
  const Value good = capture_nested().to_dict();
  Value wrong_version = good;
  wrong_version["version"] = 2;
  EXPECT_THROW((void)Failure::from_dict(wrong_version), InvalidFormat);
  Value extra = good;
  extra["extra"] = 1;
  EXPECT_THROW((void)Failure::from_dict(extra), InvalidFormat);
  Value no_message = good;
  no_message.erase("exception_str");
  EXPECT_THROW((void)Failure::from_dict(no_message), InvalidFormat);
  Value no_names = good;
  no_names["exc_type_names"] = Value::array();
  EXPECT_THROW((void)Failure::from_dict(no_names), InvalidFormat);
  EXPECT_THROW((void)Failure::from_dict(Value::array()), InvalidFormat);
}

TEST(FailureTest, ReraiseThrowsTheOriginalException) {
  const Failure f = capture_nested();
  EXPECT_THROW(f.reraise(), std::runtime_error);
  const Failure read = Failure::from_dict(f.to_dict());
  EXPECT_THROW(read.reraise(), WrappedFailure);
}

TEST(FailureTest, ReraiseIfAnyWrapsSeveral) {
  EXPECT_NO_THROW(Failure::reraise_if_any({}));
  const Failure a = capture_nested();
  EXPECT_THROW(Failure::reraise_if_any({a}), std::runtime_error);
  const Failure b({"OSError", "Exception"}, "disk");
  try {
    Failure::reraise_if_any({a, b});
    FAIL() << "expected WrappedFailure";
  } catch (const WrappedFailure& w) {
    ASSERT_EQ(w.failures().size(), 2U);
    EXPECT_NE(w.find("OSError"), nullptr);
    EXPECT_EQ(w.find("KeyError"), nullptr);
  }
}

TEST(FailureTest, MatchesIgnoresTracebackButEqualityDoesNot) {
  const Failure a({"E", "Exception"}, "m", Value::array({"m"}), "tb1");
  const Failure b({"E", "Exception"}, "m", Value::array({"m"}), "tb2");
  EXPECT_TRUE(a.matches(b));
  EXPECT_FALSE(a == b);
}

}  // namespace
}  // namespace caboose
