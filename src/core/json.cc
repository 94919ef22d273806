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

namespace claimsweep {

Status CheckRecordVersion(uint32_t format_version, const std::string& path, uint32_t known) {
  if (format_version <= known) return Status::OK();
  return Status::Unsupported(path + " has format_version " + std::to_string(format_version) +
                             "; this claimsweep reads up to " + std::to_string(known) + ": use a newer claimsweep");
}

Status ParseRecord(const std::string& text, const std::string& path, google::protobuf::Message* m) {
  CS_RETURN_IF_ERROR(ParseJson(text, path, m));
  const google::protobuf::FieldDescriptor* f = m->GetDescriptor()->FindFieldByName("format_version");
  if (f == nullptr || f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_UINT32) return Status::OK();
  return CheckRecordVersion(m->GetReflection()->GetUInt32(*m, f), path);
}

}  // namespace claimsweep
