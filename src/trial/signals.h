// Walltime signals. Slurm sends the signal chosen by --signal=B:USR1@N, then
// SIGTERM. `trial` records the first one and forwards every one to the running
// task's process group, so the task can checkpoint and exit.
#pragma once

#include <sys/types.h>

namespace claimsweep {

void InstallSignalForwarding();
// The first SIGUSR1/SIGTERM/SIGINT received, or 0.
int ReceivedSignal();
// The process group signals are forwarded to (0: none).
void SetForwardTarget(pid_t pgid);

}  // namespace claimsweep
