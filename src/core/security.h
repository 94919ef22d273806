// The sweep directory as an attack surface. A command task runs whatever the
// frozen spec says, so (like ssh's StrictModes) `trial` refuses a sweep whose
// directory, frozen spec (and its versions) or state folders are owned by another user or
// writable by group/others, unless the spec sets security { allow_shared: true }.
// It also refuses state folders that are symlinks, so nothing is created or
// written outside the sweep tree through one.
#pragma once

#include <string>
#include <vector>

#include "core/env.h"
#include "core/layout.h"
#include "spec.pb.h"

namespace claimsweep {

// PermissionDenied naming the offending paths and the fix: a symlink or a
// wrong file type is reported alone; every path owned by someone else or
// writable by group/others is listed at once, with one chmod for them all.
// `stages`: the spec's stage names, whose queues (DIR/stages, and
// stages/<S>/items and stages/<S>/leases) are state folders too.
Status CheckSweepSafety(Env* env, const SweepLayout& layout, bool allow_shared, uint32_t euid,
                        const std::vector<std::string>& stages = {});

// The names of the spec's stages, in the order written.
std::vector<std::string> StageNames(const SweepSpec& spec);

}  // namespace claimsweep
