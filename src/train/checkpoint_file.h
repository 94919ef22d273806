// Training checkpoints on disk: TRIAL_DIR/checkpoints/ckpt-<epoch>-<step>.csckpt
//
//   magic "CSCKPT\0\0" | uint32 LE version (1) | uint32 LE CRC-32C of body |
//   uint64 LE body length | body = uint32 LE state length | TrainState | tensors
//
// `tensors` is libtorch's archive of model and optimizer (opaque here, so this
// file needs no libtorch). Written temp -> fsync -> rename; the newest `keep`
// are kept. A torn or corrupt file is skipped with a warning and the previous
// good one is used.
//
// Kept checkpoints (TrainTask.keep_checkpoints_every): the epoch-end file of a
// kept epoch is hard-linked as TRIAL_DIR/kept/ckpt-<epoch>.csckpt
// (SweepLayout::kept_file_path). Pruning lists checkpoints/ only, so a kept
// link outlives the file it was made from.
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

// checkpoints/ckpt-<epoch>-000000.csckpt: the checkpoint written at the end of
// epoch `epoch` (1-based), the one a kept epoch keeps.
std::string EpochEndCheckpointPath(const std::string& dir, int epoch);

// Whether the end of epoch `epoch` (1-based) is kept: every-th epochs, and the
// last one trained (`last`). every <= 0 keeps none.
bool IsKeptEpoch(int every, int epoch, bool last);

// Keeps the epoch-end checkpoint `checkpoint` of `epoch` as kept/ckpt-<epoch>:
// may_write() (fencing), before_keep(epoch) (null: nothing; its failure is
// returned, and nothing is kept), may_write() again, then link(2). A kept file
// already there (an earlier attempt) is success: the first writer wins and a
// kept checkpoint is never replaced.
Status KeepCheckpoint(Env* env, const std::string& checkpoint, const std::string& kept_dir,
                      int epoch, const std::function<Status(int)>& before_keep,
                      const std::function<Status()>& may_write);

// At resume: if kept/ lacks `epoch`, KeepCheckpoint (before_keep again: an
// attempt that died between its checkpoint and the keep loses nothing).
// *kept_now says whether this call kept it.
Status KeepCheckpointIfMissing(Env* env, const std::string& checkpoint, const std::string& kept_dir,
                               int epoch, const std::function<Status(int)>& before_keep,
                               const std::function<Status()>& may_write, bool* kept_now);

// Parses one checkpoint file's bytes (exposed for tests). Unsupported for a
// newer file format or TrainState format_version (CheckRecordVersion).
// `out->tensors` points into `bytes`: keep them alive while it is used.
Status DecodeCheckpoint(std::string_view bytes, const std::string& path, CheckpointData* out);

}  // namespace claimsweep
