#include "core/token.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

namespace claimsweep {

std::string HostName() {
  static const std::string host = [] {
    char buf[256] = {0};
    if (::gethostname(buf, sizeof buf - 1) != 0) return std::string("unknown");
    std::string h(buf);
    auto dot = h.find('.');
    return dot == std::string::npos ? h : h.substr(0, dot);
  }();
  return host;
}

std::string ProcessToken() {
  // Recomputed after fork(): the pid is part of it.
  static thread_local pid_t cached_pid = -1;
  static thread_local std::string cached;
  if (cached_pid != ::getpid()) {
    cached_pid = ::getpid();
    std::random_device rd;
    char hex[16];
    std::snprintf(hex, sizeof hex, "%08x", rd());
    cached = HostName() + "." + std::to_string(cached_pid) + "." + hex;
  }
  return cached;
}

std::string NowIso8601() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  // snprintf, not strftime: glibc's strftime re-reads the time zone file on
  // every call, a measurable cost per claim.
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

}  // namespace claimsweep
