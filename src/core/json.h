// JSON through protobuf's JSON printer: the records of records.proto
// (owner.json, result.json, ...) and everything `sweep` prints as JSON
// (output.proto). Snake_case keys, every field shown, a Struct's keys sorted
// (the message is serialized deterministically before it is printed), so the
// same message always prints the same bytes.
//
// Numbers are the printer's (protobuf 3.21's SimpleDtoa): integers below 1e15
// as digits ("114", "1000000000"), other doubles with 15 significant digits
// when those read back as the same double, else 17 ("0.1",
// "0.30000000000000004", "0.79999999999999993", "1e-300"). Every double reads
// back bit for bit. NaN and infinity, which JSON lacks, print as the strings
// "NaN" and "Infinity": output that wants null sets null (AddNumber does).
#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/struct.pb.h>

#include <cstdint>
#include <string>

#include "core/status.h"
#include "output.pb.h"

namespace claimsweep {

// Pretty (two-space indents) or compact, with a final newline.
std::string ToJson(const google::protobuf::Message& m, bool pretty = true);
// Compact, no newline, appended to *out: one line of output, or one element
// of an array printed element by element. An OrderedStruct prints as the
// google.protobuf.Struct it is on the wire, its keys in their order.
void AppendJson(const google::protobuf::Message& m, std::string* out);

// `s` with every byte that is not part of well-formed UTF-8 replaced by U+FFFD.
// Protobuf's printer would drop such bytes (and log an error): what `sweep`
// prints from the tree (paths, problems, names) goes through this first.
std::string ValidUtf8(const std::string& s);
// The last field of *o: key: value (both made ValidUtf8).
void AddString(OrderedStruct* o, const std::string& key, const std::string& value);
// key: the number, or null when it is NaN or infinite.
void AddNumber(OrderedStruct* o, const std::string& key, double value);
void AddNull(OrderedStruct* o, const std::string& key);

// Corruption naming `path` when the text is not a valid record (e.g. torn).
Status ParseJson(const std::string& text, const std::string& path, google::protobuf::Message* m);

// The format_version this build writes into, and the newest it reads from, the
// records of records.proto (owner.json, result.json, *.released.json,
// *.failed.json, a checkpoint's TrainState).
inline constexpr uint32_t kJsonRecordVersion = 1;

// Unsupported when a record read from `path` has a format_version newer than
// `known`: "PATH has format_version 7; this claimsweep reads up to 1: use a
// newer claimsweep". Such a record is refused, never read as an older one.
Status CheckRecordVersion(uint32_t format_version, const std::string& path,
                          uint32_t known = kJsonRecordVersion);

// ParseJson, then CheckRecordVersion of the message's format_version field.
// The parser for every record of records.proto.
Status ParseRecord(const std::string& text, const std::string& path, google::protobuf::Message* m);

}  // namespace claimsweep
