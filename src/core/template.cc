#include "core/template.h"

namespace claimsweep {
namespace {

bool IsNameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (!first && c >= '0' && c <= '9');
}

// Walks `text`, calling on_literal/on_name for each piece.
template <typename Lit, typename Name>
Status Walk(const std::string& text, Lit on_literal, Name on_name) {
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      on_literal('{');
      i += 2;
    } else if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      on_literal('}');
      i += 2;
    } else if (c == '{') {
      size_t close = text.find('}', i);
      if (close == std::string::npos) {
        return Status::InvalidArgument("unclosed '{' at offset " + std::to_string(i) +
                                       " (write {{ for a literal brace)");
      }
      std::string name = text.substr(i + 1, close - i - 1);
      bool valid = !name.empty();
      for (size_t k = 0; valid && k < name.size(); ++k) valid = IsNameChar(name[k], k == 0);
      if (!valid) {
        return Status::InvalidArgument("'{" + name + "}' at offset " + std::to_string(i) +
                                       " is not a placeholder name (write {{ for a literal brace)");
      }
      CS_RETURN_IF_ERROR(on_name(name));
      i = close + 1;
    } else if (c == '}') {
      return Status::InvalidArgument("unmatched '}' at offset " + std::to_string(i) +
                                     " (write }} for a literal brace)");
    } else {
      on_literal(c);
      ++i;
    }
  }
  return Status::OK();
}

}  // namespace

const std::vector<std::string>& BuiltinPlaceholders() {
  static const std::vector<std::string> names = {"trial_dir", "sweep_dir", "spec_dir", "index",
                                                 "attempt"};
  return names;
}

Status CollectPlaceholders(const std::string& text, std::vector<std::string>* names) {
  return Walk(
      text, [](char) {},
      [&](const std::string& n) {
        names->push_back(n);
        return Status::OK();
      });
}

Status Substitute(const std::string& text, const std::map<std::string, std::string>& values,
                  std::string* out) {
  out->clear();
  return Walk(
      text, [&](char c) { out->push_back(c); },
      [&](const std::string& n) {
        auto it = values.find(n);
        if (it == values.end())
          return Status::InvalidArgument("placeholder {" + n + "} names no parameter");
        out->append(it->second);
        return Status::OK();
      });
}

}  // namespace claimsweep
