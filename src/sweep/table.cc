#include "sweep/table.h"

#include <algorithm>
#include <cstdio>

#include "core/json.h"
#include "core/terminal_text.h"

namespace claimsweep {

std::string RenderTable(const Row& raw_header, const std::vector<Row>& raw_rows) {
  // For the terminal: escape control characters first, then measure.
  auto safe = [](const Row& r) {
    Row o;
    for (const std::string& c : r) o.push_back(TerminalSafe(c));
    return o;
  };
  const Row header = safe(raw_header);
  std::vector<Row> rows;
  rows.reserve(raw_rows.size());
  for (const Row& r : raw_rows) rows.push_back(safe(r));
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const Row& r : rows) {
    for (size_t c = 0; c < r.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], r[c].size());
  }
  std::string out;
  auto line = [&](const Row& r) {
    std::string l;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string& cell = c < r.size() ? r[c] : "";
      l += cell;
      if (c + 1 < width.size()) l += std::string(width[c] - cell.size() + 2, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(header);
  Row rule;
  for (size_t w : width) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const Row& r : rows) line(r);
  return out;
}

static std::string CsvField(const std::string& f) {
  if (f.find_first_of(",\"\n\r") == std::string::npos) return f;
  std::string q = "\"";
  for (char c : f) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string RenderCsv(const Row& header, const std::vector<Row>& rows) {
  std::string out;
  auto line = [&](const Row& r) {
    for (size_t c = 0; c < r.size(); ++c) out += (c ? "," : "") + CsvField(r[c]);
    out += "\n";
  };
  line(header);
  for (const Row& r : rows) line(r);
  return out;
}

void JsonArrayWriter::Add(const google::protobuf::Message& element) {
  buf_ += empty_ ? "\n  " : ",\n  ";
  empty_ = false;
  AppendJson(element, &buf_);
  if (buf_.size() >= (1 << 20)) {
    std::fwrite(buf_.data(), 1, buf_.size(), out_);
    buf_.clear();
  }
}

void JsonArrayWriter::Finish() {
  buf_ += "\n]\n";
  std::fwrite(buf_.data(), 1, buf_.size(), out_);
  buf_.clear();
}

}  // namespace claimsweep
