// A dataset directory: shards of Example records plus a manifest that lists
// them with their record counts, sizes and checksums.
//
//   DIR/manifest.textproto        DatasetManifest (format_version 1); written
//                                 last, atomically: it is the commit point
//   DIR/<split>-<NNNNN>.csrec     record shards (see record_io.h)
//
// A directory without a manifest is not a dataset (yet).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "data/record_io.h"
#include "dataset.pb.h"

namespace claimsweep {

inline constexpr uint32_t kDatasetFormatVersion = 1;
inline constexpr const char* kManifestFileName = "manifest.textproto";

// "train-00003.csrec" for ("train", 3).
std::string ShardFileName(const std::string& split, uint32_t index);

// Streams examples into shards of up to `records_per_shard` records per split
// and writes the manifest on Finish(). Splits may be interleaved. Not
// thread-safe.
//
// Writing into a directory that already holds a dataset replaces it: the old
// manifest is removed before the first shard is written, so a half-rewritten
// directory is never described by a stale manifest.
class DatasetWriter {
 public:
  DatasetWriter(std::string dir, std::string name, std::vector<std::string> classes,
                uint32_t height, uint32_t width, uint32_t channels,
                uint64_t records_per_shard = 10000);
  ~DatasetWriter();

  // Free text recorded in the manifest, e.g. "synth seed=3".
  void set_source(std::string source) { source_ = std::move(source); }

  // `split`: lowercase letters, digits, '_' (e.g. train, val, test).
  // `image`: height*width*channels uint8 pixels, HWC. 0 <= label < classes.
  // InvalidArgument when any of these does not hold.
  Status AddExample(const std::string& split, const uint8_t* image, size_t n, int label);
  Status AddExample(const std::string& split, const std::string& image, int label) {
    return AddExample(split, reinterpret_cast<const uint8_t*>(image.data()), image.size(), label);
  }

  // Closes the open shards, computes the train split's per-channel mean and
  // std (pixels scaled to [0, 1]; empty when there is no train split) and
  // writes the manifest atomically. REQUIRES: called once.
  Status Finish();

  // Valid after Finish().
  const DatasetManifest& manifest() const { return manifest_; }

 private:
  struct SplitState;
  Status Prepare();
  Status CloseShard(SplitState* s);

  std::string dir_, name_, source_;
  std::vector<std::string> classes_;
  uint32_t height_, width_, channels_;
  uint64_t records_per_shard_;
  bool prepared_ = false, finished_ = false;
  std::map<std::string, std::unique_ptr<SplitState>> splits_;
  // Exact integer sums per channel over the train split, so mean/std do not
  // depend on the order of accumulation.
  std::vector<uint64_t> sum_, sum_sq_;
  uint64_t train_pixels_ = 0;
  std::string scratch_;
  DatasetManifest manifest_;
};

// Reads DIR/manifest.textproto and checks it: NotFound when absent,
// Corruption (naming the file, with line:column for parse errors) when it is
// malformed or inconsistent, Unsupported for a format_version it does not know.
Result<DatasetManifest> ReadManifest(Env* env, const std::string& dir);

// Iterates every record of one split, across its shards in manifest order,
// decoding each Example. Corruption (naming file and byte offset) when a
// record fails its checksum, does not decode, has an image that is not
// height*width*channels bytes, or a label outside [0, classes); also when a
// shard holds a different number of records than the manifest says.
class SplitReader {
 public:
  // NotFound when the manifest has no such split.
  static Result<std::unique_ptr<SplitReader>> Open(const std::string& dir,
                                                   const DatasetManifest& manifest,
                                                   const std::string& split);

  // *eof = true after the last record of the last shard.
  Status Next(Example* example, bool* eof);

  uint64_t count() const { return split_.count(); }
  // The shard being read (valid after a Next that returned a record), for
  // callers that want to check it against the manifest.
  const RecordReader* shard_reader() const { return reader_.get(); }

 private:
  SplitReader(std::string dir, const DatasetManifest& m, SplitInfo split);
  Status CheckShardEnd();

  std::string dir_;
  size_t image_bytes_;
  int classes_;
  SplitInfo split_;
  int shard_ = -1;
  std::unique_ptr<RecordReader> reader_;
  std::string payload_;
};

// Progress of VerifyDataset: records checked so far and in all.
using VerifyProgress = std::function<void(uint64_t done, uint64_t total)>;

// The full checksum pass: every record of every shard is read, its CRC
// checked and its Example validated (as SplitReader does), and each shard's
// record count, size and whole-file CRC-32C compared with the manifest.
// On success *records (if not null) is the number of records verified.
Status VerifyDataset(Env* env, const std::string& dir, const VerifyProgress& progress = nullptr,
                     uint64_t* records = nullptr);

}  // namespace claimsweep
