#include "train/checkpoint_file.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/json.h"
#include "core/layout.h"
#include "data/crc32c.h"

namespace claimsweep {
namespace {

constexpr char kMagic[8] = {'C', 'S', 'C', 'K', 'P', 'T', 0, 0};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeader = 8 + 4 + 4 + 8;

void Put32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void Put64(std::string* s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t Get(std::string_view s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<uint8_t>(s[pos + i])) << (8 * i);
  return v;
}

std::string FileName(int epoch, int64_t step) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "ckpt-%04d-%06lld.csckpt", epoch, static_cast<long long>(step));
  return buf;
}

bool IsCheckpointName(const std::string& n) {
  return n.size() == std::strlen("ckpt-0000-000000.csckpt") && n.compare(0, 5, "ckpt-") == 0 &&
         n.compare(n.size() - 7, 7, ".csckpt") == 0;
}

}  // namespace

Status DecodeCheckpoint(std::string_view bytes, const std::string& path, CheckpointData* out) {
  if (bytes.size() < kHeader || std::memcmp(bytes.data(), kMagic, 8) != 0) {
    return Status::Corruption(path + ": not a claimsweep checkpoint (bad header or truncated)");
  }
  uint32_t version = static_cast<uint32_t>(Get(bytes, 8, 4));
  if (version != kVersion) {
    // The header is outside the checksum: an unknown version is as likely a
    // damaged header as a newer writer, so it falls back like any corrupt
    // checkpoint. A newer writer is recognised by the TrainState's
    // format_version, inside the checksummed body (refused below).
    return Status::Corruption(
        path + ": unknown checkpoint header version " + std::to_string(version) +
        " (damaged, or written by a newer claimsweep; this one reads version 1)");
  }
  uint32_t crc = static_cast<uint32_t>(Get(bytes, 12, 4));
  uint64_t len = Get(bytes, 16, 8);
  if (len != bytes.size() - kHeader) {
    return Status::Corruption(path + ": truncated (" + std::to_string(bytes.size() - kHeader) +
                              " of " + std::to_string(len) + " body bytes)");
  }
  if (crc32c::Value(bytes.data() + kHeader, len) != crc)
    return Status::Corruption(path + ": checksum mismatch");
  if (len < 4) return Status::Corruption(path + ": empty body");
  uint64_t state_len = Get(bytes, kHeader, 4);
  if (state_len > len - 4) return Status::Corruption(path + ": bad state length");
  if (!out->state.ParseFromArray(bytes.data() + kHeader + 4, static_cast<int>(state_len))) {
    return Status::Corruption(path + ": state does not parse");
  }
  CS_RETURN_IF_ERROR(CheckRecordVersion(out->state.format_version(), path));
  out->tensors = bytes.substr(kHeader + 4 + state_len);
  out->path = path;
  return Status::OK();
}

Status WriteCheckpoint(Env* env, const std::string& dir, const TrainState& state,
                       const std::string& tensors, int keep) {
  CS_RETURN_IF_ERROR(env->CreateDir(dir));
  std::string body;
  std::string st = state.SerializeAsString();
  Put32(&body, static_cast<uint32_t>(st.size()));
  body += st;
  body += tensors;
  std::string file(kMagic, 8);
  Put32(&file, kVersion);
  Put32(&file, crc32c::Value(body.data(), body.size()));
  Put64(&file, body.size());
  file += body;
  CS_RETURN_IF_ERROR(env->WriteFileAtomic(
      SweepLayout::checkpoint_path(dir, FileName(state.epoch(), state.step())), file));
  std::vector<std::string> names;
  CS_RETURN_IF_ERROR(env->ListDir(dir, &names));
  names.erase(std::remove_if(names.begin(), names.end(),
                             [](const std::string& n) { return !IsCheckpointName(n); }),
              names.end());
  std::sort(names.begin(), names.end());  // fixed-width names sort by (epoch, step)
  for (size_t i = 0; i + static_cast<size_t>(keep) < names.size(); ++i)
    env->RemoveFile(SweepLayout::checkpoint_path(dir, names[i])).IgnoreError();
  return Status::OK();
}

std::string EpochEndCheckpointPath(const std::string& dir, int epoch) {
  return SweepLayout::checkpoint_path(dir, FileName(epoch, 0));
}

bool IsKeptEpoch(int every, int epoch, bool last) {
  return every > 0 && epoch > 0 && (epoch % every == 0 || last);
}

Status KeepCheckpoint(Env* env, const std::string& checkpoint, const std::string& kept_dir,
                      int epoch, const std::function<Status(int)>& before_keep,
                      const std::function<Status()>& may_write) {
  if (may_write) CS_RETURN_IF_ERROR(may_write());
  if (before_keep) CS_RETURN_IF_ERROR(before_keep(epoch));
  if (may_write) CS_RETURN_IF_ERROR(may_write());
  CS_RETURN_IF_ERROR(env->CreateDir(kept_dir));
  Status s = env->LinkExclusive(
      checkpoint, SweepLayout::kept_file_path(kept_dir, static_cast<uint32_t>(epoch)));
  return s.IsAlreadyExists() ? Status::OK() : s;
}

Status KeepCheckpointIfMissing(Env* env, const std::string& checkpoint, const std::string& kept_dir,
                               int epoch, const std::function<Status(int)>& before_keep,
                               const std::function<Status()>& may_write, bool* kept_now) {
  *kept_now = false;
  FileInfo info;
  Status s = env->Stat(SweepLayout::kept_file_path(kept_dir, static_cast<uint32_t>(epoch)), &info);
  if (s.ok()) return s;
  if (!s.IsNotFound()) return s;
  CS_RETURN_IF_ERROR(KeepCheckpoint(env, checkpoint, kept_dir, epoch, before_keep, may_write));
  *kept_now = true;
  return Status::OK();
}

Status LoadLatestCheckpoint(Env* env, const std::string& dir, CheckpointData* out, bool* found,
                            const std::function<void(const std::string&)>& warn) {
  *found = false;
  std::vector<std::string> names;
  Status s = env->ListDir(dir, &names);
  if (s.IsNotFound()) return Status::OK();
  CS_RETURN_IF_ERROR(s);
  // The caller owns the trial, so a temp file here is a dead attempt's unfinished write.
  for (const auto& n : names) {
    if (n.compare(0, 5, "ckpt-") == 0 && n.find(".csckpt.tmp.") != std::string::npos)
      env->RemoveFile(SweepLayout::checkpoint_path(dir, n)).IgnoreError();
  }
  names.erase(std::remove_if(names.begin(), names.end(),
                             [](const std::string& n) { return !IsCheckpointName(n); }),
              names.end());
  std::sort(names.rbegin(), names.rend());
  for (const auto& n : names) {
    std::string_view bytes;
    std::shared_ptr<const void> keep;
    const std::string path = SweepLayout::checkpoint_path(dir, n);
    s = env->ReadFileShared(path, &bytes, &keep);
    if (s.ok()) s = DecodeCheckpoint(bytes, path, out);
    if (s.ok()) {
      out->keep = std::move(keep);
      *found = true;
      return s;
    }
    // A newer format is refused, not skipped: resuming from an older
    // checkpoint (or from scratch) would silently redo and overwrite its work.
    if (s.code() == Status::Code::kUnsupported) return s;
    if (warn) warn("skipping checkpoint: " + s.ToString());
  }
  return Status::OK();
}

}  // namespace claimsweep
