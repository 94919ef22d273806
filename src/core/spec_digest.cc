#include "core/spec_digest.h"

#include "core/sha256.h"

namespace claimsweep {
namespace {

constexpr uint64_t kMaxDigestFileBytes = 4096;

// What to do instead of editing a sweep's spec.
const char* kInsteadOfEditing =
    "the sweep's points depend on it, so it must not be edited; restore it, or grow the sweep "
    "with `sweep extend`, which keeps every point, or start a new sweep";

bool IsLowerHex(const std::string& s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string SpecDigestLine(const std::string& frozen_text) {
  return "sha256 " + Sha256Hex(frozen_text) + "  " + kSpecFileName + "\n";
}

Status WriteFrozenSpec(Env* env, const SweepLayout& layout, const std::string& frozen_text) {
  CS_RETURN_IF_ERROR(env->WriteFileAtomic(layout.spec_digest_path(), SpecDigestLine(frozen_text)));
  return env->WriteFileAtomic(layout.spec_path(), frozen_text);
}

Status CheckSpecDigest(Env* env, const SweepLayout& layout, const std::string& spec_text,
                       bool* present) {
  *present = false;
  const std::string path = layout.spec_digest_path();
  FileInfo info;
  Status s = env->Stat(path, &info);
  if (s.IsNotFound()) return Status::OK();
  if (!s.ok()) return s;
  *present = true;
  const std::string malformed = path + " is not a digest line (\"sha256 <64 hex digits>  " +
                                kSpecFileName +
                                "\") as `sweep init` writes it; restore it, or start a new sweep";
  if (info.is_dir || info.is_symlink || info.size > kMaxDigestFileBytes)
    return Status::Corruption(malformed);
  std::string line;
  CS_RETURN_IF_ERROR(env->ReadFile(path, &line));
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' '))
    line.pop_back();
  const std::string prefix = "sha256 ", suffix = std::string("  ") + kSpecFileName;
  if (line.size() != prefix.size() + 64 + suffix.size() ||
      line.compare(0, prefix.size(), prefix) != 0 ||
      line.compare(prefix.size() + 64, suffix.size(), suffix) != 0 ||
      !IsLowerHex(line.substr(prefix.size(), 64))) {
    return Status::Corruption(malformed);
  }
  if (line.substr(prefix.size(), 64) != Sha256Hex(spec_text)) {
    return Status::Corruption(layout.spec_path() +
                              " was changed after `sweep init` (its SHA-256 no longer matches " +
                              path + "): " + kInsteadOfEditing);
  }
  return Status::OK();
}

}  // namespace claimsweep
