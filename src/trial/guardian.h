// The guardian: a small process between `trial` and its commands, so that a
// command never outlives its trial (two attempts of a trial must never run at
// once, and `trial` may die by SIGKILL, the OOM killer or a lost node).
//
//   trial ── guardian G (child subreaper) ── command C (own process group)
//
// `trial` forks G once, on its first command, and keeps it for the commands
// of all its trials (a fork of `trial` per trial cost more than the trial).
// The two talk over a socket pair that only `trial` and G hold; for each
// command `trial` sends a GuardianRequest with the command's output pipe and
// directory (SCM_RIGHTS). G starts C (clone(CLONE_VM|CLONE_VFORK): no copy
// of G's page tables); C reports its own pid once it leads its process group
// and before it execs (so `trial` knows the group to signal and to kill even
// if G dies at once), or G reports that C could not be started. G then waits for one of two things:
//   - C exits: G SIGKILLs what is left of C's group and every other
//     descendant (background processes, daemons that called setsid: as a
//     subreaper G inherits the orphans), and reports C's wait status (exit
//     code, or the signal that killed it); then it waits for the next request.
//   - the socket reaches EOF (`trial` died, however, or exited): G SIGKILLs
//     C's group and every descendant, and exits.
// C has PR_SET_PDEATHSIG(SIGKILL) relative to G, so it dies with G too.
// G ignores the forwarded signals (they are meant for C).
// Limit: a process that escapes G's descendants altogether (re-parented by
// a helper such as systemd-run or a job launcher outside the tree) is not
// found; one in uninterruptible sleep (hung NFS) dies once its I/O returns.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace claimsweep {

// `trial` → G, one per command: this header (with two descriptors,
// SCM_RIGHTS: C's output, C's directory), then `payload_bytes` of
// NUL-terminated strings: `argc` arguments, `envc` "KEY=VALUE" entries
// (added to G's environment, later ones win), then the directory's path
// (for messages).
struct GuardianRequest {
  uint32_t payload_bytes = 0;
  uint32_t argc = 0;
  uint32_t envc = 0;
};

// G → `trial`: first from C before it execs (`command_pid`), or from G if C
// could not be started (-1 and `fork_errno`); then, from G, once C and its
// tree are gone (`wait_status`, as waitpid(2) gives it).
struct GuardianReport {
  pid_t command_pid = -1;  // also C's process group id; -1 if it could not be started
  int fork_errno = 0;
};
struct GuardianDone {
  int wait_status = 0;
};

// Runs in the child of fork() (single-threaded; never returns). `sock` is
// G's end of the socket pair. REQUIRES: the forwarded signals are blocked
// (they stay blocked in G; C unblocks them after resetting them).
[[noreturn]] void RunGuardian(int sock);

}  // namespace claimsweep
