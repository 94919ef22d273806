// Validation of a spec's derived stages (SweepSpec.stage, docs/derived-work.md):
// names, inputs (no unknown, later or cyclic input), tasks, the placeholders
// each stage offers, resources. Each problem goes to `err` as (where, what),
// where being "path:line:col" of the offending field. Used by ParseSpec.
#pragma once

#include <string>
#include <vector>

#include "core/derived.h"
#include "core/spec_locator.h"
#include "core/spec_params.h"
#include "spec.pb.h"

namespace claimsweep {

// kTrialsStageName (core/derived.h): the input a stage names as after_all
// for the sweep's own trials.

// The placeholders a stage's command may use besides the point's parameters
// (each_trial and each_checkpoint only): {trial_dir} {sweep_dir} {spec_dir}
// {attempt} {stage}, and each_trial: {index} {upstream_dir}; each_checkpoint:
// those and {checkpoint} {epoch}; after_all: {inputs}.
std::vector<std::string> StagePlaceholders(const Stage& stage);

// `names`: the sweep's parameter names (ValidateParams).
void ValidateStages(const SweepSpec& spec, const Locator& loc,
                    const std::vector<std::string>& names, const SpecError& err);

}  // namespace claimsweep
