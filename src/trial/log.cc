#include "trial/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <mutex>

#include <spdlog/formatter.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

#include "core/terminal_text.h"
#include "trial/write_all.h"

namespace claimsweep {
namespace {

constexpr const char* kLevelNames[] = {"trace", "debug", "info", "warn", "error", "off"};

spdlog::level::level_enum ToSpd(LogLevel l) {
  switch (l) {
    case LogLevel::kTrace: return spdlog::level::trace;
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
    case LogLevel::kOff: break;
  }
  return spdlog::level::off;
}

LogLevel FromSpd(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return LogLevel::kTrace;
    case spdlog::level::debug: return LogLevel::kDebug;
    case spdlog::level::info: return LogLevel::kInfo;
    case spdlog::level::warn: return LogLevel::kWarn;
    case spdlog::level::err:
    case spdlog::level::critical: return LogLevel::kError;
    default: return LogLevel::kOff;
  }
}

// "2026-12-01" from days since 1970-01-01 (Howard Hinnant's civil_from_days):
// no gmtime, which takes glibc's time zone lock (unsafe after fork).
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

char* Digits(char* p, int64_t v, int width) {
  for (int i = width - 1; i >= 0; --i, v /= 10) p[i] = static_cast<char>('0' + v % 10);
  return p + width;
}

// "[2026-12-01T12:00:00.123Z] [info] " into `buf` (at least 48 bytes); the
// length. The one home of the format: spdlog's lines and the guardian's.
size_t FormatPrefix(LogLevel level, int64_t unix_ms, char* buf) {
  int64_t s = unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000;
  const int64_t ms = unix_ms - s * 1000;
  int64_t days = s >= 0 ? s / 86400 : (s - 86399) / 86400;
  const int64_t sod = s - days * 86400;
  int64_t y;
  unsigned mo, d;
  CivilFromDays(days, &y, &mo, &d);
  char* p = buf;
  *p++ = '[';
  p = Digits(p, y < 0 ? 0 : y % 10000, 4);
  *p++ = '-';
  p = Digits(p, mo, 2);
  *p++ = '-';
  p = Digits(p, d, 2);
  *p++ = 'T';
  p = Digits(p, sod / 3600, 2);
  *p++ = ':';
  p = Digits(p, sod / 60 % 60, 2);
  *p++ = ':';
  p = Digits(p, sod % 60, 2);
  *p++ = '.';
  p = Digits(p, ms, 3);
  *p++ = 'Z';
  *p++ = ']';
  *p++ = ' ';
  *p++ = '[';
  for (const char* n = LogLevelName(level); *n; ++n) *p++ = *n;
  *p++ = ']';
  *p++ = ' ';
  return static_cast<size_t>(p - buf);
}

class LineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    char prefix[64];
    const int64_t ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const size_t n = FormatPrefix(FromSpd(msg.level), ms, prefix);
    dest.append(prefix, prefix + n);
    dest.append(msg.payload.begin(), msg.payload.end());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>();
  }
};

// One write(2) per line to a descriptor that may change (the attempt log's)
// or be none (-1: dropped): no stdio buffer, so nothing waits for a flush.
class FdSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  void set_fd(int fd) {
    std::lock_guard<std::mutex> l(mutex_);
    fd_ = fd;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (fd_ < 0) return;
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    WriteAllFd(fd_, line.data(), line.size());
  }
  void flush_() override {}

 private:
  int fd_;
};

struct Logs {
  std::shared_ptr<FdSink> stderr_sink = std::make_shared<FdSink>(2);
  std::shared_ptr<FdSink> attempt_sink = std::make_shared<FdSink>(-1);
  spdlog::logger trial{"trial", {stderr_sink, attempt_sink}};
  spdlog::logger header{"attempt", attempt_sink};  // the attempt log's own lines
  Logs() {
    trial.set_formatter(std::make_unique<LineFormatter>());
    header.set_formatter(std::make_unique<LineFormatter>());
    trial.set_level(spdlog::level::info);
    header.set_level(spdlog::level::trace);
  }
};

// Never destroyed: a thread may log while the process exits.
Logs& TheLogs() {
  static Logs* logs = new Logs;
  return *logs;
}

}  // namespace

bool ParseLogLevel(std::string_view name, LogLevel* level) {
  for (int i = 0; i <= static_cast<int>(LogLevel::kOff); ++i) {
    if (name == kLevelNames[i]) {
      *level = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

const char* LogLevelName(LogLevel level) { return kLevelNames[static_cast<int>(level)]; }

void InitLogging() {
  const char* v = std::getenv("CLAIMSWEEP_LOG_LEVEL");
  LogLevel level = LogLevel::kInfo;
  if (v != nullptr && *v != 0 && !ParseLogLevel(v, &level)) {
    SetLogLevel(LogLevel::kInfo);
    LogWarn(std::string("CLAIMSWEEP_LOG_LEVEL=") + v +
            " is not a level (trace, debug, info, warn, error, off); logging at info");
    return;
  }
  SetLogLevel(level);
}

void SetLogLevel(LogLevel level) { TheLogs().trial.set_level(ToSpd(level)); }

bool LogEnabled(LogLevel level) {
  return level != LogLevel::kOff && TheLogs().trial.should_log(ToSpd(level));
}

void Log(LogLevel level, const std::string& message) {
  if (!LogEnabled(level)) return;
  const std::string safe = TerminalSafe(message);
  TheLogs().trial.log(ToSpd(level), spdlog::string_view_t(safe.data(), safe.size()));
}

std::string FormatLogLine(LogLevel level, int64_t unix_ms, std::string_view message) {
  char prefix[64];
  std::string line(prefix, FormatPrefix(level, unix_ms, prefix));
  line.append(message);
  line.push_back('\n');
  return line;
}

std::string FormatLogLineNow(LogLevel level, std::string_view message) {
  struct timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);  // async-signal-safe (POSIX)
  return FormatLogLine(level, static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000,
                       message);
}

AttemptLog::AttemptLog(Env* env, const std::string& path) {
  status_ = env->OpenAppend(path, &fd_);
  if (!status_.ok()) {
    fd_ = -1;
    LogWarn("cannot write the attempt log: " + status_.ToString());
    return;
  }
  TheLogs().attempt_sink->set_fd(fd_);
}

AttemptLog::~AttemptLog() {
  if (fd_ < 0) return;
  TheLogs().attempt_sink->set_fd(
      -1);  // under the sink's lock: no line is being written to fd_ after this
  ::close(fd_);
}

void AttemptLog::Header(const std::string& message) const {
  if (fd_ < 0) return;
  // One line: a message that ends in a newline (a JSON record) loses it
  // here rather than gaining an escaped "\\n".
  std::string_view line(message);
  while (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  const std::string safe = TerminalSafe(std::string(line));
  TheLogs().header.log(spdlog::level::info, spdlog::string_view_t(safe.data(), safe.size()));
}

}  // namespace claimsweep
