#include "core/metrics_csv.h"

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <vector>

namespace claimsweep {
namespace {

std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur.push_back(c);
    }
  }
  out.push_back(cur);
  for (auto& f : out) {
    size_t b = f.find_first_not_of(' '), e = f.find_last_not_of(' ');
    f = b == std::string::npos ? "" : f.substr(b, e - b + 1);
  }
  return out;
}

}  // namespace

Status ReadLastMetricsRow(Env* env, const std::string& path, google::protobuf::Struct* row) {
  row->Clear();
  std::string text;
  // Bounded: the file is the task's own, and a runaway one must not exhaust
  // trial's memory (64 MiB is far beyond one row per epoch).
  CS_RETURN_IF_ERROR(env->ReadFileAtMost(path, 64 << 20, &text));
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.find_first_not_of(" \r\t") != std::string::npos) lines.push_back(l);
  }
  if (lines.size() < 2) return Status::OK();  // header only: no epochs yet
  std::vector<std::string> header = SplitCsvLine(lines.front());
  std::vector<std::string> last = SplitCsvLine(lines.back());
  if (last.size() != header.size()) {
    return Status::Corruption(path + ":" + std::to_string(lines.size()) + ": row has " +
                              std::to_string(last.size()) + " fields, header has " +
                              std::to_string(header.size()));
  }
  auto* fields = row->mutable_fields();
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string& v = last[i];
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    google::protobuf::Value val;
    if (!v.empty() && end && *end == 0) {
      val.set_number_value(d);
    } else {
      val.set_string_value(v);
    }
    (*fields)[header[i]] = val;
  }
  return Status::OK();
}

Status ParseMetricsCsv(const std::string& text, const std::string& path,
                       std::vector<std::string>* columns, std::vector<std::vector<double>>* rows) {
  columns->clear();
  rows->clear();
  std::istringstream in(text);
  int line_no = 0;
  for (std::string l; std::getline(in, l);) {
    ++line_no;
    if (l.find_first_not_of(" \r\t") == std::string::npos) continue;
    std::vector<std::string> f = SplitCsvLine(l);
    if (columns->empty()) {
      *columns = std::move(f);
      continue;
    }
    if (f.size() != columns->size()) {
      return Status::Corruption(path + ":" + std::to_string(line_no) + ": row has " +
                                std::to_string(f.size()) + " fields, header has " +
                                std::to_string(columns->size()));
    }
    std::vector<double> row;
    for (const auto& cell : f) {
      char* end = nullptr;
      double v = std::strtod(cell.c_str(), &end);
      row.push_back(end != cell.c_str() && *end == '\0' ? v : std::nan(""));
    }
    rows->push_back(std::move(row));
  }
  if (columns->empty()) return Status::Corruption(path + ": no header line");
  return Status::OK();
}

}  // namespace claimsweep
