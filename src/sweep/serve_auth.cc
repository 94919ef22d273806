#include "sweep/serve_auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace claimsweep {

Status NewRandomToken(std::string* token) {
  unsigned char bytes[32];
  const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(std::string("/dev/urandom: ") + std::strerror(errno));
  size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::read(fd, bytes + got, sizeof bytes - got);
    if (n <= 0) {
      ::close(fd);
      return Status::IOError("/dev/urandom: short read");
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  static const char kHex[] = "0123456789abcdef";
  token->clear();
  for (unsigned char b : bytes) {
    token->push_back(kHex[b >> 4]);
    token->push_back(kHex[b & 15]);
  }
  return Status::OK();
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string CookieValue(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view part = header.substr(pos, end - pos);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    const size_t eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name)
      return std::string(part.substr(eq + 1));
    pos = end + 1;
  }
  return "";
}

std::string ServeCookieName(int port) { return "claimsweep_token_" + std::to_string(port); }

bool RequestHasToken(const std::string& token, const std::string& query_token,
                     const std::string& cookie_header, const std::string& cookie_name) {
  if (token.empty()) return false;
  // Both are compared, whichever is present, so timing says nothing either.
  const bool q = ConstantTimeEquals(query_token, token);
  const bool c = ConstantTimeEquals(CookieValue(cookie_header, cookie_name), token);
  return q || c;
}

std::string TokenFileDir() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/claimsweep";
  return "/tmp/claimsweep-" + std::to_string(::getuid());
}

Status WriteTokenFile(int port, const std::string& url, std::string* path) {
  const std::string dir = TokenFileDir();
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Status::IOError(dir + ": " + std::strerror(errno));
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid() ||
      (st.st_mode & 077) != 0) {
    return Status::IOError(dir +
                           ": not a private directory of this user (mode 0700, not a link); "
                           "remove it or set XDG_RUNTIME_DIR");
  }
  *path = dir + "/serve-" + std::to_string(port) + ".url";
  const std::string tmp = *path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError(tmp + ": " + std::strerror(errno));
  const std::string text = url + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path->c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::IOError(*path + ": " + std::strerror(errno));
  }
  return Status::OK();
}

}  // namespace claimsweep
