// SHA-256 (FIPS 180-4), for the frozen spec's digest (DIR/sweep.sha256).
// Small and dependency-free; tested against the FIPS 180-2 example vectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace claimsweep {

class Sha256 {
 public:
  Sha256();
  void Update(std::string_view data);
  // The digest as 64 lowercase hex digits. Ends this object's use.
  std::string HexDigest();

 private:
  void Block(const unsigned char* p);

  uint32_t h_[8];
  unsigned char buf_[64];
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// SHA-256 of `data`, 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);

}  // namespace claimsweep
