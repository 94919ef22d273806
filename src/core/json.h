// JSON records via protobuf's JSON printer (snake_case keys, every field shown).
#pragma once

#include <google/protobuf/message.h>

#include <string>

#include "core/status.h"

namespace claimsweep {

std::string ToJson(const google::protobuf::Message& m, bool pretty = true);
// Corruption naming `path` when the text is not a valid record (e.g. torn).
Status ParseJson(const std::string& text, const std::string& path, google::protobuf::Message* m);

}  // namespace claimsweep
