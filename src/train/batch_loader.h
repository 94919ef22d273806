// BatchLoader: streams one split of a dataset as normalized float batches.
//
// Order. An epoch's order is a pure function of (seed, epoch): the shards are
// read in a seeded permutation and records pass through a seeded shuffle
// buffer of bounded size. Augmentation (random crop with 4-pixel zero
// padding, horizontal flip) draws from a generator seeded by (seed, epoch,
// position in the epoch). So the same epoch is bit-identical however many
// threads decode it, and a resumed epoch skips its first batches and then
// continues exactly as the uninterrupted one would.
//
// Memory is bounded by the shuffle buffer plus the batches in flight, not by
// the dataset's size. One reader thread, `threads` decode threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "dataset.pb.h"

namespace claimsweep {

struct LoaderOptions {
  std::string dir;    // dataset directory
  std::string split;  // train | val | test
  int batch_size = 128;
  uint64_t seed = 0;
  int epoch = 0;
  bool shuffle = false;
  bool augment = false;
  int64_t skip_batches = 0;  // resume: the first batches of the epoch are skipped
  int threads = 2;
  size_t shuffle_buffer = 8192;  // records
  bool channels_last = false;    // Batch::data as n x H x W x C (the trainer's CPU layout)
};

struct Batch {
  int64_t index = 0;        // batch number within the epoch
  int n = 0;                // examples in this batch (the last may be short)
  std::vector<float> data;  // n x C x H x W (n x H x W x C if channels_last), normalized
  std::vector<int64_t> labels;
};

class BatchLoader {
 public:
  BatchLoader(const DatasetManifest& manifest, LoaderOptions opt);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts the threads. NotFound for a split the manifest lacks.
  Status Start();
  // The next batch in order; *done when the epoch is over. A Corruption from
  // a shard (naming file and offset) is returned here.
  Status Next(Batch* batch, bool* done);
  // Batches in the whole epoch (including skipped ones).
  int64_t batches_per_epoch() const;
  uint64_t examples() const { return split_.count(); }

 private:
  struct Job {
    int64_t index;
    uint64_t first_position;
    std::vector<std::string> payloads;
    std::vector<std::pair<int, uint64_t>> origin;  // (shard, byte offset), for messages
  };
  void ReadLoop();
  void DecodeLoop();
  Status Decode(const Job& job, Batch* out) const;
  void SetError(const Status& s);

  DatasetManifest manifest_;
  LoaderOptions opt_;
  SplitInfo split_;
  std::vector<float> mean_, inv_std_;
  size_t image_bytes_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::map<int64_t, Batch> ready_;
  int64_t next_out_ = 0;  // next batch index Next() returns
  int64_t produced_ = 0;  // next batch index the reader will hand out
  int64_t end_ = -1;      // one past the last batch index, once known
  bool read_done_ = false;
  bool stop_ = false;
  Status error_;
  std::vector<std::thread> threads_;
};

}  // namespace claimsweep
