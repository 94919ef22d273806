#include "core/number_format.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace claimsweep {

std::string FormatDouble(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string FormatRounded(double v, int digits) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return FormatFixed(v, 0);
  return FormatSignificant(v, digits);
}

std::string FormatSignificant(double v, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*g", digits, v);
  return b;
}

std::string FormatFixed(double v, int decimals) {
  char b[400];  // %f of 1e308 has 309 digits before the point
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

}  // namespace claimsweep
