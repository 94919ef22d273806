#include "core/status.h"

#include <cerrno>
#include <cstring>

namespace claimsweep {

Status Status::FromErrno(const std::string& what, const std::string& path, int err) {
  std::string m = what + " " + path + ": " + std::strerror(err);
  switch (err) {
    // ESTALE: an NFS (or FUSE) handle whose file a peer renamed or removed
    // (a trial directory moved by `sweep reset`, a lease entry renamed
    // `.released`): the entry is gone from where we looked, as with ENOENT,
    // and every caller that handles a vanished entry handles this one.
    case ENOENT:
    case ESTALE: return NotFound(m);
    case EEXIST:
    case ENOTEMPTY: return AlreadyExists(m);
    case EACCES:
    case EPERM: return PermissionDenied(m);
    default: return IOError(m);
  }
}

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kNotFound: name = "not found"; break;
    case Code::kAlreadyExists: name = "already exists"; break;
    case Code::kInvalidArgument: name = "invalid"; break;
    case Code::kCorruption: name = "corrupt"; break;
    case Code::kIOError: name = "I/O error"; break;
    case Code::kSuperseded: name = "superseded"; break;
    case Code::kPermissionDenied: name = "permission denied"; break;
    case Code::kUnsupported: name = "unsupported"; break;
  }
  return std::string(name) + ": " + message_;
}

}  // namespace claimsweep
