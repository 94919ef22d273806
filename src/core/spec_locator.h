// Where a field of a spec was written, for messages about values that parse
// but are wrong: "path:line:col". Internal to spec reading (core/spec.cc,
// core/spec_params.cc).
#pragma once

#include <google/protobuf/text_format.h>

#include <string>
#include <utility>
#include <vector>

namespace claimsweep {

class Locator {
 public:
  using TextFormat = google::protobuf::TextFormat;
  using Message = google::protobuf::Message;
  using FieldDescriptor = google::protobuf::FieldDescriptor;
  // (field name, index) from the root; a vector so that a path can be built
  // (a stage's command: {{"stage", k}, {"command", 0}} + its argv).
  using Steps = std::vector<std::pair<const char*, int>>;
  Locator(std::string path, const TextFormat::ParseInfoTree* tree, const std::string* text)
      : path_(std::move(path)), tree_(tree), text_(text) {}

  // "path:line:col" of msg.field[index] found by walking `steps` from the root:
  // each step is (field name, index) of a nested message.
  std::string At(const Steps& steps, const Message& root) const {
    TextFormat::ParseLocationRange r;
    return Where(Range(steps, root, &r) ? r.start : TextFormat::ParseLocation());
  }

  // Where `needle` is first written inside the field's text (e.g. a
  // placeholder inside an argv string), else where the field is.
  std::string FindIn(const Steps& steps, const Message& root, const std::string& needle) const {
    TextFormat::ParseLocationRange r;
    if (!Range(steps, root, &r)) return path_;
    const size_t from = Offset(r.start), to = Offset(r.end);
    const size_t at = text_ == nullptr ? std::string::npos : text_->find(needle, from);
    if (at == std::string::npos || at >= to) return Where(r.start);
    return Where(LocationOf(at));
  }

  // Whether the field's text holds `needle`.
  bool Holds(const Steps& steps, const Message& root, const std::string& needle) const {
    TextFormat::ParseLocationRange r;
    if (text_ == nullptr || !Range(steps, root, &r)) return false;
    const size_t at = text_->find(needle, Offset(r.start));
    return at != std::string::npos && at < Offset(r.end);
  }

 private:
  // The text range of the field the steps name (false: not written).
  bool Range(const Steps& steps, const Message& root, TextFormat::ParseLocationRange* out) const {
    const TextFormat::ParseInfoTree* t = tree_;
    const google::protobuf::Descriptor* d = root.GetDescriptor();
    bool found = false;
    int n = 0;
    const int total = static_cast<int>(steps.size());
    for (const auto& [name, index] : steps) {
      ++n;
      if (t == nullptr || d == nullptr) break;
      const FieldDescriptor* f = d->FindFieldByName(name);
      if (f == nullptr) break;
      auto range = t->GetLocationRange(f, f->is_repeated() ? index : -1);
      if (range.start.line >= 0) {
        *out = range;
        found = true;
      }
      if (n == total) break;
      t = t->GetTreeForNested(f, f->is_repeated() ? index : -1);
      d = f->message_type();
    }
    return found;
  }
  std::string Where(TextFormat::ParseLocation l) const {
    if (l.line < 0) return path_;
    return path_ + ":" + std::to_string(l.line + 1) + ":" + std::to_string(l.column + 1);
  }
  // The tokenizer's columns: a tab advances to the next multiple of 8.
  size_t Offset(TextFormat::ParseLocation l) const {
    if (text_ == nullptr || l.line < 0) return 0;
    size_t at = 0;
    for (int line = 0; line < l.line && at < text_->size(); ++line) {
      at = text_->find('\n', at);
      at = at == std::string::npos ? text_->size() : at + 1;
    }
    for (int col = 0; col < l.column && at < text_->size() && (*text_)[at] != '\n'; ++at)
      col = (*text_)[at] == '\t' ? col + 8 - col % 8 : col + 1;
    return at;
  }
  TextFormat::ParseLocation LocationOf(size_t offset) const {
    TextFormat::ParseLocation l(0, 0);
    for (size_t k = 0; k < offset && k < text_->size(); ++k) {
      if ((*text_)[k] == '\n') {
        ++l.line;
        l.column = 0;
      } else {
        l.column = (*text_)[k] == '\t' ? l.column + 8 - l.column % 8 : l.column + 1;
      }
    }
    return l;
  }

  std::string path_;
  const TextFormat::ParseInfoTree* tree_;
  const std::string* text_;
};

}  // namespace claimsweep
