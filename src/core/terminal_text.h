// Text for a terminal. Sweep values, file contents and names come from files
// anyone with write access could have written: a control character in them
// must never reach the terminal raw (it could clear the screen, move the
// cursor, retitle the window, or forge a line of output).
#pragma once

#include <string>
#include <string_view>

namespace claimsweep {

// `s` with a newline shown as \n and every other C0 control character and DEL
// as \xNN (e.g. ESC as \x1b); everything else, UTF-8 included, unchanged.
// For terminal output only: csv and json carry exact values.
std::string TerminalSafe(std::string_view s);

}  // namespace claimsweep
