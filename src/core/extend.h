// `sweep extend`: publishing a new version of a running sweep's spec.
//
// A new version must keep every point (same values; they keep their
// indices) and the task; it may add points (new values, branches, samples,
// a longer range), which get the next indices in the new spec's order, and
// it may change the claim settings and resources. A sweep with synchronous
// early stopping (SHA) may not add points: its rung sizes depend on the
// point count. It is published with the
// claim protocol's own primitive: a whole, fsync'ed file link()ed to
// versions/<v>.textproto, which exists whole or not at all, and which one
// `sweep extend` alone can create. Workers see the new points the next time
// they find nothing to claim (docs/protocol.md, "Growing a sweep").
#pragma once

#include <cstdint>
#include <string>

#include "core/env.h"
#include "core/layout.h"
#include "core/status.h"
#include "core/sweep_points.h"
#include "spec.pb.h"

namespace claimsweep {

struct ExtendPlan {
  // Already the sweep's latest version: nothing to publish.
  bool unchanged = false;
  SpecVersion record;  // the version to publish (record.spec: `next`)
  uint64_t added = 0;  // new points
};

// Compares `next` (validated, frozen as `sweep init` freezes: defaults
// applied, format_version and spec_dir set) with the sweep's points.
// InvalidArgument naming the first point of the sweep that `next` lacks or
// changes, or the first difference of the task; nothing is written.
// `progress(done, total)` is called now and then while the new spec's points
// are enumerated (there may be millions).
Status PlanExtension(const SweepPoints& current, const SweepSpec& next, ExtendPlan* plan,
                     const std::function<void(uint64_t, uint64_t)>& progress = nullptr);

// Publishes plan.record as the next version. AlreadyExists when another
// `sweep extend` published that version first (nothing of ours remains).
// `token` names this process's temp file.
Status PublishExtension(Env* env, const SweepLayout& layout, const ExtendPlan& plan,
                        const std::string& token);

}  // namespace claimsweep
