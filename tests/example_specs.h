// Spec texts used by several tests.
#pragma once

namespace claimsweep::testing {

// The example from the core issue, as written.
inline constexpr const char* kLrDepthSpec = R"(name: "lr-depth"
seed: 7
grid {
  param { name: "lr" values: "0.1" values: "0.01" }
  param { name: "depth" range { start: 4 stop: 80 step: 4 } }
}
random {
  samples: 3
  param { name: "wd" log_uniform { low: 1e-5 high: 1e-2 } }
  param { name: "opt" choice { values: "sgd" values: "adam" } }
}
command {
  argv: "sh" argv: "-c" argv: "echo {lr} {depth} {wd} {opt} > {trial_dir}/out.txt"
}
claim { lease_seconds: 300 heartbeat_seconds: 15 max_attempts: 3 trials_per_job: 1 }
)";

}  // namespace claimsweep::testing
