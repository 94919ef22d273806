// `{name}` placeholders in command argv and env values.
// "{{" and "}}" stand for literal braces.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace claimsweep {

// Names used by `text`'s placeholders, in order of appearance. InvalidArgument
// for an unbalanced brace or an empty/invalid name (message gives the offset).
Status CollectPlaceholders(const std::string& text, std::vector<std::string>* names);

// Replaces every placeholder by its value. InvalidArgument names an unknown one.
Status Substitute(const std::string& text, const std::map<std::string, std::string>& values,
                  std::string* out);

// Placeholders every command may use besides the parameters.
const std::vector<std::string>& BuiltinPlaceholders();

}  // namespace claimsweep
