// trial's log format and level names (trial/log.h), in-process.
#include "trial/log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <regex>

#include "test_util.h"

namespace claimsweep {
namespace {

TEST(LogFormat, UtcToTheMillisecondThenTheLevel) {
  EXPECT_EQ(FormatLogLine(LogLevel::kInfo, 1796126400123, "claimed trial 000003 attempt 1"),
            "[2026-12-01T12:00:00.123Z] [info] claimed trial 000003 attempt 1\n");
  EXPECT_EQ(FormatLogLine(LogLevel::kWarn, 1709251199999, "m"),
            "[2024-02-29T23:59:59.999Z] [warn] m\n");
  EXPECT_EQ(FormatLogLine(LogLevel::kError, 0, "m"), "[1970-01-01T00:00:00.000Z] [error] m\n");
  EXPECT_EQ(FormatLogLine(LogLevel::kDebug, 951868800007, "m"),
            "[2000-03-01T00:00:00.007Z] [debug] m\n");
  EXPECT_EQ(FormatLogLine(LogLevel::kTrace, 4102444799050, ""),
            "[2099-12-31T23:59:59.050Z] [trace] \n");
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
  for (LogLevel l : {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn,
                     LogLevel::kError, LogLevel::kOff}) {
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

// The attempt log is opened through the Env given (the sweep's, confined):
// its lines land there in the format while the AttemptLog lives, and a
// symlink planted at its path is refused, the file it points to untouched.
TEST(AttemptLog, WritesThroughTheConfinedEnvAndNeverFollowsALink) {
  testing::TempDir tmp;
  const std::string root = tmp.path() + "/sweep";
  ASSERT_EQ(::mkdir(root.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((root + "/a").c_str(), 0755), 0);
  std::unique_ptr<Env> env = NewSweepEnv(root);
  SetLogLevel(LogLevel::kInfo);
  {
    AttemptLog log(env.get(), root + "/a/log");
    ASSERT_OK(log.status());
    log.Header("# header");
    LogInfo("during\x1b[2J");
    LogDebug("below the level");
  }
  LogInfo("after the attempt");
  const std::string text = testing::ReadAll(root + "/a/log");
  const std::regex want(R"(\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] \[info\] # header\n)"
                        R"(\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] \[info\] during\\x1b\[2J\n)");
  EXPECT_TRUE(std::regex_match(text, want)) << text;

  testing::WriteRaw(tmp.path() + "/outside", "outside\n");
  ASSERT_EQ(::mkdir((root + "/b").c_str(), 0755), 0);
  ASSERT_EQ(::symlink((tmp.path() + "/outside").c_str(), (root + "/b/log").c_str()), 0);
  {
    AttemptLog log(env.get(), root + "/b/log");
    EXPECT_FALSE(log.status().ok());
    EXPECT_EQ(log.fd(), -1);
    log.Header("# header");
    LogInfo("during");
  }
  EXPECT_EQ(testing::ReadAll(tmp.path() + "/outside"), "outside\n");
}

}  // namespace
}  // namespace claimsweep
