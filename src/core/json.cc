#include "core/json.h"

#include <google/protobuf/util/json_util.h>

namespace claimsweep {

std::string ToJson(const google::protobuf::Message& m, bool pretty) {
  google::protobuf::util::JsonPrintOptions opt;
  opt.preserve_proto_field_names = true;
  opt.always_print_primitive_fields = true;
  opt.add_whitespace = pretty;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, opt);
  if (out.empty() || out.back() != '\n') out.push_back('\n');
  return out;
}

Status ParseJson(const std::string& text, const std::string& path, google::protobuf::Message* m) {
  google::protobuf::util::JsonParseOptions opt;
  opt.ignore_unknown_fields = true;  // newer writers may add fields
  auto s = google::protobuf::util::JsonStringToMessage(text, m, opt);
  if (!s.ok()) return Status::Corruption(path + ": not a valid " + m->GetTypeName() + " record: " + std::string(s.message()));
  return Status::OK();
}

}  // namespace claimsweep
