// Walltime signals. Slurm sends the signal chosen by --signal=B:USR1@N, then
// SIGTERM. `trial` records the first one and forwards every one to the running
// task's process group, so the task can checkpoint and exit. SIGINT (Ctrl-C)
// and SIGHUP (the terminal or login session went away) are handled the same.
#pragma once

#include <signal.h>
#include <sys/types.h>

namespace claimsweep {

// The signals `trial` records and forwards (never fatal to `trial` itself).
inline constexpr int kForwardedSignals[] = {SIGUSR1, SIGTERM, SIGINT, SIGHUP};

void InstallSignalForwarding();
// The first of kForwardedSignals received, or 0.
int ReceivedSignal();
// True once SIGTERM, SIGINT or SIGHUP arrived (not only the walltime
// warning SIGUSR1): the task must end soon, and is killed if it does not.
bool TerminationRequested();
// The process group signals are forwarded to (0: none).
void SetForwardTarget(pid_t pgid);

}  // namespace claimsweep
