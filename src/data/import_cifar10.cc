#include "data/import_cifar10.h"

#include <vector>

#include "core/env.h"
#include "core/number_format.h"
#include "data/dataset.h"

namespace claimsweep {
namespace {

constexpr size_t kSide = 32, kPlane = kSide * kSide, kRecord = 1 + 3 * kPlane;
constexpr int kTrainBatches = 5;
const char* const kDefaultClasses[] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                       "dog",      "frog",       "horse", "ship", "truck"};

std::string TrainBatch(int i) { return "data_batch_" + std::to_string(i) + ".bin"; }

// The directory that holds the .bin files: src itself or the folder the
// tarball unpacks to.
std::string FindBatchDir(Env* env, const std::string& src) {
  if (!env->Exists(src + "/" + TrainBatch(1)) &&
      env->Exists(src + "/cifar-10-batches-bin/" + TrainBatch(1))) {
    return src + "/cifar-10-batches-bin";
  }
  return src;
}

Status RecordCount(Env* env, const std::string& path, uint64_t* n) {
  FileInfo info;
  Status s = env->Stat(path, &info);
  if (s.IsNotFound())
    return Status::NotFound(path + ": missing (CIFAR-10 binary version expected)");
  if (!s.ok()) return s;
  if (info.size == 0 || info.size % kRecord != 0) {
    return Status::Corruption(path + ": " + std::to_string(info.size) +
                              " bytes is not a whole number of " + std::to_string(kRecord) +
                              "-byte CIFAR-10 records (truncated?)");
  }
  *n = info.size / kRecord;
  return Status::OK();
}

Status ReadClasses(Env* env, const std::string& dir, std::vector<std::string>* classes) {
  classes->assign(std::begin(kDefaultClasses), std::end(kDefaultClasses));
  std::string text;
  const std::string path = dir + "/batches.meta.txt";
  Status s = env->ReadFile(path, &text);
  if (s.IsNotFound()) return Status::OK();
  if (!s.ok()) return s;
  std::vector<std::string> names;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) names.push_back(line);
    start = end + 1;
  }
  if (names.size() != 10) {
    return Status::Corruption(path + ": lists " + std::to_string(names.size()) +
                              " class names, expected 10");
  }
  *classes = names;
  return Status::OK();
}

// Streams every record of one batch file into `split` (or, when is_val is
// given, into train/val by the carve, is_val indexed from `first`).
Status ImportBatch(Env* env, const std::string& path, const std::string& split,
                   const std::vector<bool>* is_val, uint64_t first, DatasetWriter* w,
                   uint64_t* records) {
  std::string data;
  CS_RETURN_IF_ERROR(env->ReadFile(path, &data));
  if (data.empty() || data.size() % kRecord != 0) {
    return Status::Corruption(path + ": " + std::to_string(data.size()) +
                              " bytes is not a whole number of " + std::to_string(kRecord) +
                              "-byte CIFAR-10 records (truncated?)");
  }
  std::vector<uint8_t> hwc(3 * kPlane);
  const uint64_t n = data.size() / kRecord;
  *records = n;
  if (is_val != nullptr && first + n > is_val->size()) {
    return Status::Corruption(path + ": grew while being imported");
  }
  for (uint64_t i = 0; i < n; ++i) {
    const auto* rec = reinterpret_cast<const uint8_t*>(data.data()) + i * kRecord;
    if (rec[0] > 9) {
      return Status::Corruption(path + ": record " + std::to_string(i) + " (offset " +
                                std::to_string(i * kRecord) + ") has label " +
                                std::to_string(rec[0]) + ", expected 0..9");
    }
    const uint8_t* planes = rec + 1;
    for (size_t p = 0; p < kPlane; ++p) {
      for (size_t c = 0; c < 3; ++c) hwc[p * 3 + c] = planes[c * kPlane + p];
    }
    const std::string& to = is_val != nullptr && (*is_val)[first + i] ? std::string("val") : split;
    CS_RETURN_IF_ERROR(w->AddExample(to, hwc.data(), hwc.size(), rec[0]));
  }
  return Status::OK();
}

}  // namespace

Status ImportCifar10(const std::string& src, const std::string& out_dir, const ImportOptions& o) {
  CS_RETURN_IF_ERROR(CheckImportOptions(o));
  Env* env = Env::Default();
  const std::string dir = FindBatchDir(env, src);

  // Count first (from file sizes) so the carve is known before streaming.
  uint64_t n_train = 0, n_test = 0;
  for (int b = 1; b <= kTrainBatches; ++b) {
    uint64_t n = 0;
    CS_RETURN_IF_ERROR(RecordCount(env, dir + "/" + TrainBatch(b), &n));
    n_train += n;
  }
  CS_RETURN_IF_ERROR(RecordCount(env, dir + "/test_batch.bin", &n_test));
  std::vector<std::string> classes;
  CS_RETURN_IF_ERROR(ReadClasses(env, dir, &classes));

  std::vector<bool> is_val;
  CarveValidation(n_train, o.val_fraction, o.seed, &is_val);
  DatasetWriter w(out_dir, "cifar10", classes, kSide, kSide, 3, o.records_per_shard);
  w.set_source("cifar10 " + dir + " val_fraction=" + FormatDouble(o.val_fraction) +
               " seed=" + std::to_string(o.seed));
  uint64_t first = 0;
  for (int b = 1; b <= kTrainBatches; ++b) {
    uint64_t n = 0;
    CS_RETURN_IF_ERROR(
        ImportBatch(env, dir + "/" + TrainBatch(b), "train", &is_val, first, &w, &n));
    first += n;
  }
  uint64_t n = 0;
  CS_RETURN_IF_ERROR(ImportBatch(env, dir + "/test_batch.bin", "test", nullptr, 0, &w, &n));
  return w.Finish();
}

}  // namespace claimsweep
