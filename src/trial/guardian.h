// The guardian: a small process between `trial` and the command, so that the
// command never outlives its trial (two attempts of a trial must never run at
// once, and `trial` may die by SIGKILL, the OOM killer or a lost node).
//
//   trial ── guardian G (child subreaper) ── command C (own process group)
//
// G forks C and tells `trial` C's pid, so signals are still forwarded to C's
// process group. G then waits for one of two things:
//   - C exits: G SIGKILLs what is left of C's group and every other
//     descendant (background processes, daemons that called setsid: as a
//     subreaper G inherits the orphans), and exits as C did (same exit code;
//     a signal that killed C is raised again in G), so `trial` reads C's
//     status from G.
//   - the lifeline pipe reaches EOF (`trial` died, however): G SIGKILLs C's
//     group and every descendant, and exits.
// C has PR_SET_PDEATHSIG(SIGKILL) relative to G, so it dies with G too.
// G ignores the forwarded signals (they are meant for C).
// Limit: a process that escapes G's descendants altogether (re-parented by
// a helper such as systemd-run or a job launcher outside the tree) is not
// found; one in uninterruptible sleep (hung NFS) dies once its I/O returns.
#pragma once

#include <sys/types.h>

#include "trial/command_task.h"

namespace claimsweep {

// What G writes to `report_fd` once, right after forking C.
struct GuardianReport {
  pid_t command_pid = -1;  // also C's process group id; -1 if fork failed
  int fork_errno = 0;
};

// Runs in the child of fork() (single-threaded; never returns). `out_fd`
// becomes C's stdout and stderr; `lifeline_fd` is the read end of a pipe
// whose only write end `trial` holds. REQUIRES: the forwarded signals are
// blocked (they stay blocked in G; C unblocks them after resetting them).
[[noreturn]] void RunGuardian(const CommandRequest& req, int out_fd, int lifeline_fd, int report_fd);

}  // namespace claimsweep
