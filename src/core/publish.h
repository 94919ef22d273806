// The protocol's publishing primitives, shared by the claimer (claim.h) and
// `sweep stop|reset|retry|resume` (control.h): one implementation of each,
// and the argument for why it is safe on NFS, here and nowhere else.
//
// NFS (v3, and v4 over a connection that drops) can retransmit a
// non-idempotent RPC whose reply was lost. The server, which has already done
// the first RENAME or LINK, answers the retransmission with EEXIST: the call
// reports failure although it succeeded. (Its duplicate-request cache usually
// hides this, but it is bounded and lost on a server restart.) So an EEXIST
// is checked against what only the caller's own success could have left:
//  - PublishDir: the source is a directory in tmp/ whose name holds this
//    process's token (unique to it, and no other process moves it). If it is
//    gone after EEXIST, the rename that moved it was ours.
//  - PublishFile: Env::LinkExclusive already accepts EEXIST when the source's
//    link count is 2 and the target is the same inode; attributes can be
//    stale on NFS, so when it still reports AlreadyExists, a target that holds
//    our bytes exactly is ours (callers' records name their attempt and its
//    start, so no other writer's bytes are equal).
// Neither ever takes another process's publish for ours: its directory was
// a different one, its record different bytes.
//
// Lease entries (leases/<i>.<k>[.released|.stale]) are hints that lead claimers to
// open trials; removing one is always safe for a trial that no claimer may
// take, and RemoveLeaseEntries is the one place that does it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/layout.h"

namespace claimsweep {

// Renames the fully built directory `staged` (unique to this process) to
// `target`. AlreadyExists when another process published `target` first
// (rename onto a non-empty directory fails: ENOTEMPTY/EEXIST, or EPERM on
// sshfs, whose SFTP protocol has no ENOTEMPTY): the caller lost the race and
// removes `staged`.
Status PublishDir(Env* env, const std::string& staged, const std::string& target);

// Links the whole, fsync'ed file `staged` (holding `data`) to `target`:
// first writer wins. AlreadyExists when another writer's file is there.
// Leaves `staged` in place (the caller removes it).
Status PublishFile(Env* env, const std::string& staged, const std::string& target,
                   const std::string& data);

// One entry of a listing of leases/.
struct LeaseEntry {
  uint64_t index = 0;
  uint32_t attempt = 0;
  LeaseMark mark = LeaseMark::kOpen;
  std::string name;
  // Released or judged stale: a claimer may take the trial now.
  bool claimable() const { return mark != LeaseMark::kOpen; }
};
// The entries of leases/ that parse as lease names (others are ignored).
Status ListLeaseEntries(Env* env, const SweepLayout& layout, std::vector<LeaseEntry>* entries);
// Removes the entries of `entries` that belong to trial `index` and have an
// attempt number below `below`; returns how many it removed (one already gone
// is not counted, and is no error: a concurrent claimer or control removed it).
uint64_t RemoveLeaseEntries(Env* env, const SweepLayout& layout,
                            const std::vector<LeaseEntry>& entries, uint64_t index, uint64_t below);

}  // namespace claimsweep
