// SplitMix64: a tiny, fast generator with a fixed algorithm, so data written
// from a seed is byte-identical on every platform and library version (unlike
// std:: distributions, whose algorithms are unspecified). The one copy: the
// sweep's random points, synthetic data, data order and the bootstrap all
// draw from it. Changing it changes every sweep's points.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace claimsweep {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t state() const { return state_; }

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // In [0, n); REQUIRES: n > 0. Multiply-shift: the bias is below 2^-32 for
  // the n used here, and the result is the same everywhere.
  uint64_t Uniform(uint64_t n) { return uint64_t((unsigned __int128)(Next()) * n >> 64); }

  // In [lo, hi]; REQUIRES: lo <= hi.
  int64_t Range(int64_t lo, int64_t hi) { return lo + int64_t(Uniform(uint64_t(hi - lo) + 1)); }

 private:
  uint64_t state_;
};

// A well-mixed seed from several values (e.g. sweep seed, split, index).
inline uint64_t MixSeed(uint64_t a, uint64_t b, uint64_t c = 0) {
  SplitMix64 r(a ^ (b * 0xD1B54A32D192ED03ull) ^ (c * 0x8CB92BA72F3D8DD7ull));
  r.Next();
  return r.Next();
}

// A 64-bit hash of byte strings, fixed forever like SplitMix64 (a sweep's
// draws are keyed by it, format_version >= 3): each Add() hashes the string's
// length, then its bytes (FNV-1a), so ("ab", "c") and ("a", "bc") differ; value()
// finishes with SplitMix64's mixer.
class Hash64 {
 public:
  void Add(std::string_view bytes) {
    uint64_t n = bytes.size();
    for (int k = 0; k < 8; ++k, n >>= 8) Byte(static_cast<unsigned char>(n & 0xff));
    for (char c : bytes) Byte(static_cast<unsigned char>(c));
  }
  uint64_t value() const {
    uint64_t z = h_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  void Byte(unsigned char b) { h_ = (h_ ^ b) * 0x100000001B3ull; }
  uint64_t h_ = 0xCBF29CE484222325ull;
};

// Fisher-Yates with SplitMix64: the same permutation for the same seed.
template <typename T>
void Shuffle(std::vector<T>* v, uint64_t seed) {
  SplitMix64 r(seed);
  for (size_t i = v->size(); i > 1; --i) {
    size_t j = size_t(r.Uniform(i));
    std::swap((*v)[i - 1], (*v)[j]);
  }
}

}  // namespace claimsweep
