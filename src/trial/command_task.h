// The command task: runs the user's program for one point.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "core/status.h"

namespace claimsweep {

struct CommandRequest {
  std::vector<std::string> argv;
  std::vector<std::string> extra_env;  // "KEY=VALUE", added to our environment
  std::string cwd;                     // for messages; the command enters cwd_fd
  int cwd_fd = -1;                     // the directory the command runs in (fchdir); -1: chdir(cwd)
  std::string log_path;                // for messages
  int log_fd = -1;  // output is appended here and echoed to stdout; -1: open log_path
};

struct CommandOutcome {
  int exit_code = -1;  // -1 when killed by a signal
  int term_signal = 0;
  double seconds = 0;
  bool aborted = false;  // we killed it because `abort` became true
};

// Runs the command in its own process group (so forwarded signals reach the
// whole tree), under a guardian process (guardian.h), and waits for it.
// Signals received by `trial` meanwhile are forwarded (see signals.h). When
// `abort` becomes true the group gets SIGTERM, then SIGKILL after
// `kill_grace_s`. When the command exits, whatever it left running (its
// group, background processes, daemons) is killed; when `trial` dies, the
// whole tree is killed.
Status RunCommand(const CommandRequest& req, const std::atomic<bool>& abort, double kill_grace_s,
                  CommandOutcome* out);

}  // namespace claimsweep
