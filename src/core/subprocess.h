// The one way claimsweep's tools run another program (sbatch, squeue,
// scontrol): without a shell, looked up in PATH, stdin fed and stdout/stderr
// captured without deadlock, killed after a timeout, with the signals trial
// handles (SIGUSR1, SIGTERM, SIGINT, SIGPIPE) reset to their defaults and none
// blocked in the child.
//
// The user's command in a command trial is not run this way: it runs under
// trial's guardian (src/trial/guardian.h), which must outlive trial, own the
// command's process group and kill it when trial dies. That signal handling
// is why there are two runners and not one.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace claimsweep {

// Runs argv[0] (looked up in PATH) with `input` on stdin; captures stdout into
// *out and stderr into *err. Kills it after `timeout_s` (an IOError saying so).
// *exit_code is the exit status, or 128 + signal. A program that cannot be
// started is an error naming argv[0].
Status RunProgram(const std::vector<std::string>& argv, const std::string& input, double timeout_s,
                  std::string* out, std::string* err, int* exit_code);

}  // namespace claimsweep
