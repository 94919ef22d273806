// Finding the sweep a `trial` belongs to: $SWEEP_DIR, else the current
// directory or its nearest ancestor that holds a sweep.
#pragma once

#include <string>

#include "core/env.h"

namespace claimsweep {

// NotFound with a message that says what was searched and how to fix it.
Result<std::string> FindSweepDir(Env* env, const char* sweep_dir_env, const std::string& cwd);

}  // namespace claimsweep
