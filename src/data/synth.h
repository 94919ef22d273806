// A deterministic synthetic image-classification dataset, for demos and tests
// that must not download anything.
//
// Each class is an oriented stripe pattern (class-specific angle) filling a
// class-specific shape (disk, square, triangle, diamond, plus, ring; repeating
// after six classes) tinted with a class colour. Every image draws its own
// position, scale, stripe period and phase, background colour, angle jitter
// and pixel noise, a faint distractor texture on the background, and one in three images gets a
// random tint, so a small CNN learns it well above chance in a few epochs without it being trivial.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace claimsweep {

struct SynthOptions {
  int classes = 10;
  int64_t train = 5000;
  int64_t val = 500;
  int64_t test = 500;
  int size = 32;  // images are size x size
  int channels = 3;
  uint64_t seed = 1;
  uint64_t records_per_shard = 10000;
};

// InvalidArgument when the options are out of range (channels 1 or 3,
// classes 2..1000, size 8..1024, train >= 1, val >= 1, test >= 0).
Status CheckSynthOptions(const SynthOptions& o);

// Draws image `index` of `split` (pixels HWC into *image) and its label. A
// pure function of (o, split, index): the same on every run and platform,
// because the drawing is integer arithmetic on a SplitMix64 stream.
void SynthesizeExample(const SynthOptions& o, const std::string& split, uint64_t index,
                       std::string* image, int* label);

// Writes the dataset (splits train, val, test) to out_dir via DatasetWriter.
// The same options give byte-identical shards.
Status Synthesize(const SynthOptions& o, const std::string& out_dir);

}  // namespace claimsweep
