// trial's log format and level names (trial/log.h), in-process.
#include "trial/log.h"

#include <gtest/gtest.h>

#include <ctime>

namespace claimsweep {
namespace {

TEST(LogFormat, UtcToTheMillisecondThenTheLevel) {
  EXPECT_EQ(FormatLogLine(LogLevel::kInfo, 1796126400123, "claimed trial 000003 attempt 1"),
            "[2026-12-01T12:00:00.123Z] [info] claimed trial 000003 attempt 1\n");
  EXPECT_EQ(FormatLogLine(LogLevel::kWarn, 1709251199999, "m"), "[2024-02-29T23:59:59.999Z] [warn] m\n");
  EXPECT_EQ(FormatLogLine(LogLevel::kError, 0, "m"), "[1970-01-01T00:00:00.000Z] [error] m\n");
  EXPECT_EQ(FormatLogLine(LogLevel::kDebug, 951868800007, "m"), "[2000-03-01T00:00:00.007Z] [debug] m\n");
  EXPECT_EQ(FormatLogLine(LogLevel::kTrace, 4102444799050, ""), "[2099-12-31T23:59:59.050Z] [trace] \n");
}

// Every second of a day on every day across four years agrees with gmtime.
TEST(LogFormat, AgreesWithGmtimeAcrossLeapYears) {
  for (int64_t s = 1704067200; s < 1704067200 + 4 * 366 * 86400; s += 86400 + 3607) {
    const time_t t = static_cast<time_t>(s);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char want[64];
    std::strftime(want, sizeof want, "[%Y-%m-%dT%H:%M:%S.042Z] [info] x\n", &tm);
    ASSERT_EQ(FormatLogLine(LogLevel::kInfo, s * 1000 + 42, "x"), want) << s;
  }
}

TEST(LogFormat, FormatLogLineNowIsNow) {
  const std::string line = FormatLogLineNow(LogLevel::kInfo, "x");
  const time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char day[16];
  std::strftime(day, sizeof day, "[%Y-%m-%dT", &tm);
  EXPECT_EQ(line.substr(0, 12), day) << line;
}

TEST(LogLevelNames, TheAcceptedNamesAndNoOthers) {
  for (LogLevel l : {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError,
                     LogLevel::kOff}) {
    LogLevel parsed = LogLevel::kOff;
    EXPECT_TRUE(ParseLogLevel(LogLevelName(l), &parsed)) << LogLevelName(l);
    EXPECT_EQ(parsed, l) << LogLevelName(l);
  }
  LogLevel l = LogLevel::kInfo;
  for (const char* bad : {"", "INFO", "warning", "err", "critical", "info ", "verbose"}) {
    EXPECT_FALSE(ParseLogLevel(bad, &l)) << bad;
  }
  EXPECT_EQ(l, LogLevel::kInfo) << "a rejected name leaves the level alone";
}

TEST(LogLevelNames, LevelsFilter) {
  SetLogLevel(LogLevel::kWarn);
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(LogEnabled(LogLevel::kWarn));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  SetLogLevel(LogLevel::kOff);
  EXPECT_FALSE(LogEnabled(LogLevel::kError));
  EXPECT_FALSE(LogEnabled(LogLevel::kOff));
  SetLogLevel(LogLevel::kInfo);
  EXPECT_TRUE(LogEnabled(LogLevel::kInfo));
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));
}

}  // namespace
}  // namespace claimsweep
