#include "core/token.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

namespace claimsweep {

std::string HostName() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  std::string h(buf);
  auto dot = h.find('.');
  return dot == std::string::npos ? h : h.substr(0, dot);
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
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace claimsweep
