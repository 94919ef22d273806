// What a spec's early_stopping { asha { ... } } means (spec.proto, Asha):
// its rungs' budgets and a one-line description. Pure functions of the
// validated message; nothing here reads the sweep directory.
#pragma once

#include <string>
#include <vector>

#include "spec.pb.h"

namespace claimsweep {

// The epochs of each rung, bottom first: min_epochs * reduction^k for
// k = 0, 1, ... while below max_epochs, then max_epochs (1, 3, 9 for min 1,
// max 9, reduction 3; 2, 6, 18, 20 for min 2, max 20, reduction 3). At most
// 32 rungs (reduction >= 2, max_epochs < 2^31); never overflows.
// Empty when `asha` is invalid (min_epochs < 1, reduction < 2, or
// max_epochs < min_epochs), which validation refuses.
std::vector<int> AshaRungBudgets(const Asha& asha);

// "SHA on val_acc (maximize), rungs 1, 3, 9 epochs, reduction 3" (ASHA when
// not synchronous); "" without a rule. The metric is as written: make it
// TerminalSafe before printing.
std::string DescribeEarlyStopping(const EarlyStopping& es);

}  // namespace claimsweep
