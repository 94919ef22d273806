// JSON records via protobuf's JSON printer (snake_case keys, every field shown).
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>

#include "core/status.h"

namespace claimsweep {

std::string ToJson(const google::protobuf::Message& m, bool pretty = true);
// Corruption naming `path` when the text is not a valid record (e.g. torn).
Status ParseJson(const std::string& text, const std::string& path, google::protobuf::Message* m);

// The format_version this build writes into, and the newest it reads from, the
// records of records.proto (owner.json, result.json, *.released.json,
// *.failed.json, a checkpoint's TrainState).
inline constexpr uint32_t kJsonRecordVersion = 1;

// Unsupported when a record read from `path` has a format_version newer than
// `known`: "PATH has format_version 7; this claimsweep reads up to 1: use a
// newer claimsweep". Such a record is refused, never read as an older one.
Status CheckRecordVersion(uint32_t format_version, const std::string& path, uint32_t known = kJsonRecordVersion);

// ParseJson, then CheckRecordVersion of the message's format_version field.
// The parser for every record of records.proto.
Status ParseRecord(const std::string& text, const std::string& path, google::protobuf::Message* m);

}  // namespace claimsweep
