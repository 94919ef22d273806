#include <gtest/gtest.h>

#include "core/terminal_text.h"

namespace claimsweep {
namespace {

TEST(TerminalSafe, NewlineAndControlsAreEscapedEverythingElseIsKept) {
  EXPECT_EQ(TerminalSafe("a\nb"), "a\\nb");
  EXPECT_EQ(TerminalSafe("\x1b[2J"), "\\x1b[2J");
  EXPECT_EQ(TerminalSafe(std::string("x\0y", 3)), "x\\x00y");
  EXPECT_EQ(TerminalSafe("\r\t\x7f"), "\\x0d\\x09\\x7f");
  EXPECT_EQ(TerminalSafe("0.001 lr=1e-3 caf\xc3\xa9 \\n"), "0.001 lr=1e-3 caf\xc3\xa9 \\n");
}

}  // namespace
}  // namespace claimsweep
