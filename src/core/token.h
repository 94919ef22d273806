// Identity of this process on the shared filesystem.
#pragma once

#include <string>

namespace claimsweep {

// Short host name (no domain).
std::string HostName();
// "<host>.<pid>.<8 hex random>": unique across nodes and pid reuse; used in
// temp-file names and recorded as the owner of an attempt.
std::string ProcessToken();
// ISO-8601 UTC of the local clock, for human-readable records only (lease
// decisions never use the local clock).
std::string NowIso8601();

}  // namespace claimsweep
