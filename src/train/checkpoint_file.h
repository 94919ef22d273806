// Training checkpoints on disk: TRIAL_DIR/checkpoints/ckpt-<epoch>-<step>.csckpt
//
//   magic "CSCKPT\0\0" | uint32 LE version (1) | uint32 LE CRC-32C of body |
//   uint64 LE body length | body = uint32 LE state length | TrainState | tensors
//
// `tensors` is libtorch's archive of model and optimizer (opaque here, so this
// file needs no libtorch). Written temp -> fsync -> rename; the newest `keep`
// are kept. A torn or corrupt file is skipped with a warning and the previous
// good one is used.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/env.h"
#include "records.pb.h"

namespace claimsweep {

struct CheckpointData {
  TrainState state;
  std::string_view tensors;  // points into the bytes `keep` owns (the mapped file)
  std::shared_ptr<const void> keep;
  std::string path;  // where it was read from
};

Status WriteCheckpoint(Env* env, const std::string& dir, const TrainState& state,
                       const std::string& tensors, int keep = 2);

// The newest intact checkpoint in `dir`. *found = false if there is none.
// Unsupported (and no fallback to an older one) when the newest readable file
// has a format newer than this build's.
Status LoadLatestCheckpoint(Env* env, const std::string& dir, CheckpointData* out, bool* found,
                            const std::function<void(const std::string&)>& warn);

// Parses one checkpoint file's bytes (exposed for tests). Unsupported for a
// newer file format or TrainState format_version (CheckRecordVersion).
// `out->tensors` points into `bytes`: keep them alive while it is used.
Status DecodeCheckpoint(std::string_view bytes, const std::string& path, CheckpointData* out);

}  // namespace claimsweep
