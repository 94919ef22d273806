// Validation of a spec's early_stopping { asha { ... } } (spec.proto, Asha;
// README "Early stopping (ASHA)"): the rungs' budgets, the metric the task
// must produce, and what would undo the budget (a sweep parameter `epochs`,
// train.epochs other than max_epochs). Each problem goes to `err` as (where,
// what), where being "path:line:col" of the offending field. Used by
// ParseSpec.
#pragma once

#include <string>
#include <vector>

#include "core/spec_locator.h"
#include "core/spec_params.h"
#include "spec.pb.h"

namespace claimsweep {

// `names`: the sweep's parameter names (ValidateParams).
void ValidateEarlyStopping(const SweepSpec& spec, const Locator& loc,
                           const std::vector<std::string>& names, const SpecError& err);

}  // namespace claimsweep
