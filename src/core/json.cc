#include "core/json.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver_util.h>

#include <google/protobuf/type.pb.h>

#include <cmath>
#include <map>
#include <memory>
#include <mutex>

namespace claimsweep {
namespace {

namespace pb = google::protobuf;

constexpr char kTypeUrlPrefix[] = "type.googleapis.com/";

// The generated pool's types, as the printer asks for them: converted from
// their descriptors once, not at every print (the printer asks afresh each
// time, and the conversion costs more than printing a small message).
class GeneratedTypes final : public pb::util::TypeResolver {
 public:
  static GeneratedTypes* Get() {
    static GeneratedTypes* const r = new GeneratedTypes;
    return r;
  }
  pb::util::Status ResolveMessageType(const std::string& url, pb::Type* type) override {
    return Resolve(&types_, &pb::util::TypeResolver::ResolveMessageType, url, type);
  }
  pb::util::Status ResolveEnumType(const std::string& url, pb::Enum* e) override {
    return Resolve(&enums_, &pb::util::TypeResolver::ResolveEnumType, url, e);  // NullValue
  }

 private:
  GeneratedTypes()
      : pool_(pb::util::NewTypeResolverForDescriptorPool("type.googleapis.com",
                                                         pb::DescriptorPool::generated_pool())) {}
  template <typename T>
  pb::util::Status Resolve(std::map<std::string, T>* cache,
                           pb::util::Status (pb::util::TypeResolver::*resolve)(const std::string&,
                                                                               T*),
                           const std::string& url, T* out) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache->find(url);
    if (it == cache->end()) {
      T t;
      pb::util::Status s = (pool_.get()->*resolve)(url, &t);
      if (!s.ok()) return s;
      it = cache->emplace(url, std::move(t)).first;
    }
    *out = it->second;
    return pb::util::Status();
  }
  std::unique_ptr<pb::util::TypeResolver> pool_;
  std::mutex mu_;
  std::map<std::string, pb::Type> types_;
  std::map<std::string, pb::Enum> enums_;
};

// What MessageToJsonString does, with the message serialized deterministically
// (a map's entries sorted by key) so that the same message prints the same
// bytes in every process. Appends to *out.
void Print(const pb::Message& m, bool pretty, std::string* out) {
  std::string wire;
  {
    pb::io::StringOutputStream stream(&wire);
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.ByteSizeLong();  // SerializeWithCachedSizes needs the sizes
    m.SerializeWithCachedSizes(&coded);
  }
  const bool ordered = m.GetDescriptor() == OrderedStruct::descriptor();
  const std::string& type =
      ordered ? pb::Struct::descriptor()->full_name() : m.GetDescriptor()->full_name();
  pb::util::JsonPrintOptions opt;
  opt.preserve_proto_field_names = true;
  // A Struct has no field at a default value to show: the printer's pass that
  // adds those (an eighth of the cost of a small one) is skipped.
  opt.always_print_primitive_fields = !ordered;
  opt.add_whitespace = pretty;
  // Into a string of its own: a StringOutputStream on *out would fill all of
  // its capacity at every call (slow when *out is a 1 MiB buffer).
  std::string json;
  // Fails only for a type the generated pool lacks: none of ours.
  (void)pb::util::BinaryToJsonString(GeneratedTypes::Get(), kTypeUrlPrefix + type, wire, &json,
                                     opt);
  out->append(json);
}

// The length of the well-formed UTF-8 sequence at s[i] (shortest form, no
// surrogates, at most U+10FFFF), or 0.
size_t Utf8SequenceAt(const std::string& s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size() || b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  }
  return n;
}

pb::Value* Add(OrderedStruct* o, const std::string& key) {
  OrderedStructEntry* e = o->add_fields();
  e->set_key(ValidUtf8(key));
  return e->mutable_value();
}

}  // namespace

std::string ToJson(const pb::Message& m, bool pretty) {
  std::string out;
  Print(m, pretty, &out);
  if (out.empty() || out.back() != '\n') out.push_back('\n');
  return out;
}

void AppendJson(const pb::Message& m, std::string* out) { Print(m, /*pretty=*/false, out); }

std::string ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = Utf8SequenceAt(s, i);
    if (n == 0) break;
    i += n;
  }
  if (i == s.size()) return s;  // the common case: no copy to build
  std::string out = s.substr(0, i);
  while (i < s.size()) {
    const size_t n = Utf8SequenceAt(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD, for one byte
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

void AddString(OrderedStruct* o, const std::string& key, const std::string& value) {
  Add(o, key)->set_string_value(ValidUtf8(value));
}

void AddNumber(OrderedStruct* o, const std::string& key, double value) {
  pb::Value* v = Add(o, key);
  if (std::isfinite(value)) {
    v->set_number_value(value);
  } else {
    v->set_null_value(pb::NULL_VALUE);  // JSON has no NaN or infinity
  }
}

void AddNull(OrderedStruct* o, const std::string& key) {
  Add(o, key)->set_null_value(pb::NULL_VALUE);
}

Status ParseJson(const std::string& text, const std::string& path, pb::Message* m) {
  pb::util::JsonParseOptions opt;
  opt.ignore_unknown_fields = true;  // newer writers may add fields
  auto s = pb::util::JsonStringToMessage(text, m, opt);
  if (!s.ok())
    return Status::Corruption(path + ": not a valid " + m->GetTypeName() +
                              " record: " + std::string(s.message()));
  return Status::OK();
}

Status CheckRecordVersion(uint32_t format_version, const std::string& path, uint32_t known) {
  if (format_version <= known) return Status::OK();
  return Status::Unsupported(path + " has format_version " + std::to_string(format_version) +
                             "; this claimsweep reads up to " + std::to_string(known) +
                             ": use a newer claimsweep");
}

Status ParseRecord(const std::string& text, const std::string& path, pb::Message* m) {
  CS_RETURN_IF_ERROR(ParseJson(text, path, m));
  const pb::FieldDescriptor* f = m->GetDescriptor()->FindFieldByName("format_version");
  if (f == nullptr || f->cpp_type() != pb::FieldDescriptor::CPPTYPE_UINT32) return Status::OK();
  return CheckRecordVersion(m->GetReflection()->GetUInt32(*m, f), path);
}

}  // namespace claimsweep
