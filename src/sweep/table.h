// Output helpers for `sweep`: aligned tables, CSV, JSON arrays.
#pragma once

#include <google/protobuf/message.h>

#include <cstdio>
#include <string>
#include <vector>

namespace claimsweep {

using Row = std::vector<std::string>;

// Columns left-aligned, two spaces apart, a rule under the header. For the
// terminal: control characters in cells are escaped (TerminalSafe).
std::string RenderTable(const Row& header, const std::vector<Row>& rows);
// RFC 4180: fields with a comma, quote or newline are quoted; values exact.
std::string RenderCsv(const Row& header, const std::vector<Row>& rows);

// A JSON array printed element by element as the elements are made, one a
// line: "[\n  {...},\n  {...}\n]\n" ("[\n]\n" when empty). Each element is
// printed by protobuf's printer (core/json.h's AppendJson); `out` is written in
// chunks of about 1 MiB, so an array of any length takes bounded memory.
class JsonArrayWriter {
 public:
  explicit JsonArrayWriter(std::FILE* out) : out_(out) { buf_ = "["; }
  void Add(const google::protobuf::Message& element);
  // REQUIRES: called once, after the last Add.
  void Finish();

 private:
  std::FILE* out_;
  std::string buf_;
  bool empty_ = true;
};

}  // namespace claimsweep
