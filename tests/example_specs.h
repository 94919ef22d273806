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

// The branches example from the spaces issue (12), as written.
inline constexpr const char* kBranchesSpec = R"(name: "branches"
seed: 5
grid {
  branch {
    param { name: "model" values: "squeezenet1_1" }
    param { name: "lr" values: "0.04" values: "0.01" }
  }
  branch {
    param { name: "model" values: "resnet_cifar" }
    param { name: "depth" values: "20" values: "56" }
    param { name: "lr" values: "0.1" }
  }
  param { name: "seed" values: "1" values: "2" values: "3" }
  zip {
    param { name: "loss" values: "ce" values: "focal" }
    param { name: "epochs" values: "100" values: "150" }
  }
}
command { argv: "sh" argv: "-c" argv: "echo {model} {lr} {seed} {loss} {epochs} > out.txt" }
)";

// The stages example from issue 13, as written (DATA: "data", a dataset
// directory beside the spec, as the train tests make one).
inline constexpr const char* kPipelineSpec = R"(name: "pipeline"
seed: 1
grid { param { name: "lr" values: "0.1" values: "0.03" } }
train { model: "resnet_cifar" depth: 8 dataset: "data" epochs: 6 batch_size: 64 keep_checkpoints_every: 2 }
claim { lease_seconds: 30 heartbeat_seconds: 2 max_attempts: 3 trials_per_job: 0 }
stage {
  name: "eval"
  each_checkpoint: true
  eval { split: "test" }
}
stage {
  name: "collect"
  after_all: "eval"
  command { argv: "sh" argv: "-c" argv: "wc -l < {inputs} > {trial_dir}/n.txt" }
}
)";

// The ASHA example from issue 14, as written (DATA: "data", a dataset
// directory beside the spec, as the train tests make one).
inline constexpr const char* kAshaSpec = R"(name: "asha"
seed: 2
random {
  samples: 27
  param { name: "lr" log_uniform { low: 0.001 high: 0.5 } }
  param { name: "weight_decay" log_uniform { low: 0.000001 high: 0.01 } }
}
train { model: "resnet_cifar" depth: 8 dataset: "data" batch_size: 64 optimizer: "sgd" schedule: "constant" }
early_stopping { asha { metric: "val_acc" maximize: true min_epochs: 1 max_epochs: 9 reduction: 3 synchronous: true } }
claim { lease_seconds: 30 heartbeat_seconds: 2 max_attempts: 3 trials_per_job: 0 }
)";

}  // namespace claimsweep::testing
