// CRC-32C (Castagnoli), in software: the checksum of every dataset record and
// of every shard file. Chosen over CRC-32 because it detects more error
// patterns at the same cost; software (slicing-by-8) so that it builds and
// gives the same answer everywhere, with no CPU feature checks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace claimsweep::crc32c {

// The CRC-32C of data[0, n) appended to a message whose CRC-32C is `crc`:
// Extend(Value(a), b, nb) == Value(a + b).
uint32_t Extend(uint32_t crc, const void* data, size_t n);

// The CRC-32C of data[0, n). Value("123456789", 9) == 0xE3069283.
inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }

}  // namespace claimsweep::crc32c
