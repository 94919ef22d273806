// The exit statuses of `trial` and `sweep`, one list for both programs (the
// README's tables and job scripts rely on them).
#pragma once

namespace claimsweep {

inline constexpr int kExitOk = 0;      // done, or nothing left to do
inline constexpr int kExitFailed = 1;  // a trial failed; a refusal; an I/O error
inline constexpr int kExitUsage = 2;   // usage, spec or configuration error: nothing was done
inline constexpr int kExitInterrupted =
    75;  // EX_TEMPFAIL: interrupted and resumable, resubmit the job

}  // namespace claimsweep
