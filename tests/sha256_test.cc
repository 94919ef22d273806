#include "core/sha256.h"

#include <gtest/gtest.h>

namespace claimsweep {
namespace {

// The example vectors of FIPS 180-2, appendix B.
TEST(Sha256, MatchesTheFipsExampleVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Fed in pieces of every size, across block boundaries, the digest is the same.
TEST(Sha256, PiecewiseUpdatesGiveTheSameDigest) {
  std::string msg;
  for (int i = 0; i < 300; ++i) msg.push_back(static_cast<char>(i * 7 + 3));
  const std::string whole = Sha256Hex(msg);
  for (size_t piece = 1; piece <= 130; ++piece) {
    Sha256 h;
    for (size_t pos = 0; pos < msg.size(); pos += piece)
      h.Update(std::string_view(msg).substr(pos, piece));
    EXPECT_EQ(h.HexDigest(), whole) << "pieces of " << piece;
  }
  // Lengths around the padding boundary (55, 56, 63, 64 bytes).
  EXPECT_EQ(Sha256Hex(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(Sha256Hex(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(Sha256Hex(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

}  // namespace
}  // namespace claimsweep
