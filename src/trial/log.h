// trial's log: one process-wide logger (spdlog) that writes each message as
// one line to stderr and, while an attempt runs, to that attempt's log, in
// one format for both:
//
//   [2026-12-01T12:00:00.123Z] [info] claimed trial 000003 attempt 1
//
// UTC to the millisecond, the level (trace, debug, info, warn, error), then
// the message with its control characters escaped (TerminalSafe): a value
// read from the sweep never reaches a terminal raw, and a message is always
// one line. The level is CLAIMSWEEP_LOG_LEVEL (trace, debug, info, warn,
// error, off; default info).
//
// Every line is written with one write(2) as it is logged (no buffer), so a
// process killed right after a message loses none of it, and lines of several
// threads (the lease keeper's) never interleave within a line.
//
// Thread-safety: logging and AttemptLog may be used from any thread. Not
// after fork() in a child: the guardian writes its lines itself with
// FormatLogLine (no lock, no spdlog).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/env.h"
#include "core/status.h"

namespace claimsweep {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };

// The level named `name` ("trace" ... "off", as written above); false if it
// is none of them.
bool ParseLogLevel(std::string_view name, LogLevel* level);
const char* LogLevelName(LogLevel level);

// Sets the level from CLAIMSWEEP_LOG_LEVEL (unset or empty: info). An unknown
// value is logged as one warning naming the variable, the value and the
// accepted names, and the level is info. Call once, first thing in main.
void InitLogging();
void SetLogLevel(LogLevel level);
// False when a message at `level` would be dropped: test it before building
// an expensive debug message.
bool LogEnabled(LogLevel level);

void Log(LogLevel level, const std::string& message);
inline void LogDebug(const std::string& m) { Log(LogLevel::kDebug, m); }
inline void LogInfo(const std::string& m) { Log(LogLevel::kInfo, m); }
inline void LogWarn(const std::string& m) { Log(LogLevel::kWarn, m); }
inline void LogError(const std::string& m) { Log(LogLevel::kError, m); }

// One line in the log's format, newline included, for `unix_ms` (ms since
// the epoch): what the guardian writes of its own after fork, where spdlog
// must not be used. Calls no locale, time zone or lock; `message` is written
// as given (escape it first).
std::string FormatLogLine(LogLevel level, int64_t unix_ms, std::string_view message);
// FormatLogLine at the current time.
std::string FormatLogLineNow(LogLevel level, std::string_view message);

// While one lives, every message also goes to the attempt log `path`, opened
// once for appending through `env` (trial's confined Env: no link in the
// sweep is followed), never by a plain open of the path. At most one at a
// time per process. Costs the open and close of the file (its descriptor
// is also the command's output: no second open); switching the sink is an
// int swapped under the sink's lock, no logger is built per attempt.
class AttemptLog {
 public:
  AttemptLog(Env* env, const std::string& path);
  ~AttemptLog();
  AttemptLog(const AttemptLog&) = delete;
  AttemptLog& operator=(const AttemptLog&) = delete;

  // Why the log could not be opened (then messages go to stderr only).
  const Status& status() const { return status_; }
  // The open descriptor (O_APPEND), or -1; still owned by this object.
  int fd() const { return fd_; }
  // One line in the attempt log only, at any level (not filtered by
  // CLAIMSWEEP_LOG_LEVEL): the attempt's header, what ran it and how.
  void Header(const std::string& message) const;

 private:
  Status status_;
  int fd_ = -1;
};

}  // namespace claimsweep
