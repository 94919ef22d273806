// write(2) until all of `n` bytes are written (EINTR retried). For the
// command's output and the guardian's reports: a failed write is dropped,
// there is nowhere better to say so.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace claimsweep {

inline void WriteAllFd(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// read(2) until exactly `n` bytes are read (EINTR retried); false on EOF or
// an error. For the guardian's requests and reports.
inline bool ReadAllFd(int fd, void* data, size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

}  // namespace claimsweep
