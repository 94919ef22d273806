#include "data/dataset.h"

#include <fcntl.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace claimsweep {
namespace {

bool IsSplitName(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// train, val, test first (the order people read them in), then the rest by name.
int SplitRank(const std::string& s) {
  if (s == "train") return 0;
  if (s == "val") return 1;
  if (s == "test") return 2;
  return 3;
}

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  explicit CollectErrors(std::string path) : path_(std::move(path)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (out_.empty())
      out_ = path_ + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " +
             message;
  }
  const std::string& str() const { return out_; }

 private:
  std::string path_, out_;
};

// fsync on the directory makes the shards' renames durable before the
// manifest that names them is published.
Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL)
    return Status::FromErrno("fsync", dir, err);  // EINVAL: fs cannot sync dirs
  return Status::OK();
}

}  // namespace

std::string ShardFileName(const std::string& split, uint32_t index) {
  char n[16];
  std::snprintf(n, sizeof(n), "%05u", index);
  return split + "-" + n + ".csrec";
}

// --- DatasetWriter ------------------------------------------------------------

struct DatasetWriter::SplitState {
  SplitInfo info;
  std::unique_ptr<RecordWriter> shard;  // open shard, if any
};

DatasetWriter::DatasetWriter(std::string dir, std::string name, std::vector<std::string> classes,
                             uint32_t height, uint32_t width, uint32_t channels,
                             uint64_t records_per_shard)
    : dir_(std::move(dir)),
      name_(std::move(name)),
      classes_(std::move(classes)),
      height_(height),
      width_(width),
      channels_(channels),
      records_per_shard_(records_per_shard == 0 ? 1 : records_per_shard),
      sum_(channels, 0),
      sum_sq_(channels, 0) {}

DatasetWriter::~DatasetWriter() = default;  // open shards remove their temp files

Status DatasetWriter::Prepare() {
  if (prepared_) return Status::OK();
  if (classes_.empty())
    return Status::InvalidArgument(dir_ + ": a dataset needs at least one class");
  if (height_ == 0 || width_ == 0 || channels_ == 0) {
    return Status::InvalidArgument(dir_ + ": image shape " + std::to_string(height_) + "x" +
                                   std::to_string(width_) + "x" + std::to_string(channels_) +
                                   " has a zero dimension");
  }
  Env* env = Env::Default();
  CS_RETURN_IF_ERROR(env->CreateDirs(dir_));
  Status s = env->RemoveFile(dir_ + "/" + kManifestFileName);
  if (!s.ok() && !s.IsNotFound()) return s;
  prepared_ = true;
  return Status::OK();
}

Status DatasetWriter::CloseShard(SplitState* s) {
  if (!s->shard) return Status::OK();
  auto summary = s->shard->Finish();
  std::string path = s->shard->path();
  s->shard.reset();
  if (!summary.ok()) return summary.status();
  ShardInfo* si = s->info.add_shard();
  si->set_path(path.substr(dir_.size() + 1));
  si->set_records(summary->records);
  si->set_bytes(summary->bytes);
  si->set_crc32c(summary->crc32c);
  return Status::OK();
}

Status DatasetWriter::AddExample(const std::string& split, const uint8_t* image, size_t n,
                                 int label) {
  if (finished_) return Status::InvalidArgument(dir_ + ": AddExample after Finish");
  CS_RETURN_IF_ERROR(Prepare());
  if (!IsSplitName(split)) {
    return Status::InvalidArgument("split name '" + split +
                                   "' must be lowercase letters, digits and '_'");
  }
  const size_t want = size_t(height_) * width_ * channels_;
  if (n != want) {
    return Status::InvalidArgument(dir_ + ": image of " + std::to_string(n) + " bytes, expected " +
                                   std::to_string(want) + " (" + std::to_string(height_) + "x" +
                                   std::to_string(width_) + "x" + std::to_string(channels_) + ")");
  }
  if (label < 0 || size_t(label) >= classes_.size()) {
    return Status::InvalidArgument(dir_ + ": label " + std::to_string(label) + " outside [0, " +
                                   std::to_string(classes_.size()) + ")");
  }
  auto& slot = splits_[split];
  if (!slot) {
    slot = std::make_unique<SplitState>();
    slot->info.set_name(split);
  }
  SplitState* s = slot.get();
  if (!s->shard) {
    auto w =
        RecordWriter::Create(dir_ + "/" + ShardFileName(split, uint32_t(s->info.shard_size())));
    if (!w.ok()) return w.status();
    s->shard = std::move(*w);
  }
  Example ex;
  ex.set_image(image, n);
  ex.set_label(label);
  ex.SerializeToString(&scratch_);
  CS_RETURN_IF_ERROR(s->shard->Add(scratch_));
  s->info.set_count(s->info.count() + 1);
  if (s->shard->records() >= records_per_shard_) CS_RETURN_IF_ERROR(CloseShard(s));

  if (split == "train") {
    for (size_t i = 0; i < n; i += channels_) {
      for (uint32_t c = 0; c < channels_; ++c) {
        const uint64_t v = image[i + c];
        sum_[c] += v;
        sum_sq_[c] += v * v;
      }
    }
    train_pixels_ += n / channels_;
  }
  return Status::OK();
}

Status DatasetWriter::Finish() {
  if (finished_) return Status::InvalidArgument(dir_ + ": Finish called twice");
  CS_RETURN_IF_ERROR(Prepare());
  finished_ = true;
  std::vector<SplitState*> order;
  for (auto& [name, s] : splits_) {
    CS_RETURN_IF_ERROR(CloseShard(s.get()));
    order.push_back(s.get());
  }
  std::stable_sort(order.begin(), order.end(), [](SplitState* a, SplitState* b) {
    return SplitRank(a->info.name()) < SplitRank(b->info.name());
  });

  DatasetManifest& m = manifest_;
  m.set_format_version(kDatasetFormatVersion);
  m.set_name(name_);
  for (const auto& c : classes_) m.add_classes(c);
  m.set_height(height_);
  m.set_width(width_);
  m.set_channels(channels_);
  for (SplitState* s : order) *m.add_split() = s->info;
  if (train_pixels_ > 0) {
    const double n = double(train_pixels_);
    for (uint32_t c = 0; c < channels_; ++c) {
      const double mean = double(sum_[c]) / n / 255.0;
      const double var = double(sum_sq_[c]) / n / (255.0 * 255.0) - mean * mean;
      m.add_mean(mean);
      m.add_std(std::sqrt(std::max(0.0, var)));
    }
  }
  m.set_source(source_);

  std::string text;
  google::protobuf::TextFormat::PrintToString(m, &text);
  CS_RETURN_IF_ERROR(SyncDir(dir_));
  return Env::Default()->WriteFileAtomic(
      dir_ + "/" + kManifestFileName,
      "# claimsweep dataset manifest (see src/proto/dataset.proto)\n" + text);
}

// --- ReadManifest -------------------------------------------------------------

Result<DatasetManifest> ReadManifest(Env* env, const std::string& dir) {
  const std::string path = dir + "/" + kManifestFileName;
  std::string text;
  Status s = env->ReadFile(path, &text);
  if (s.IsNotFound())
    return Status::NotFound(path + ": no dataset manifest (is " + dir + " a dataset directory?)");
  if (!s.ok()) return s;

  DatasetManifest m;
  google::protobuf::TextFormat::Parser parser;
  CollectErrors errors(path);
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text, &m)) return Status::Corruption(errors.str());

  auto bad = [&](const std::string& what) { return Status::Corruption(path + ": " + what); };
  if (m.format_version() == 0) return bad("format_version is missing");
  if (m.format_version() > kDatasetFormatVersion) {
    return Status::Unsupported(path + ": dataset format_version " +
                               std::to_string(m.format_version()) +
                               " is newer than this claimsweep (it reads " +
                               std::to_string(kDatasetFormatVersion) + "); use a newer claimsweep");
  }
  if (m.classes_size() == 0) return bad("no classes");
  if (m.height() == 0 || m.width() == 0 || m.channels() == 0)
    return bad("image height, width and channels must be > 0");
  if (m.mean_size() != m.std_size() || (m.mean_size() != 0 && m.mean_size() != int(m.channels()))) {
    return bad("mean and std must have one value per channel");
  }
  for (const auto& sp : m.split()) {
    if (!IsSplitName(sp.name())) return bad("split name '" + sp.name() + "' is not valid");
    uint64_t total = 0;
    for (const auto& sh : sp.shard()) {
      // Shards live in the dataset directory: a manifest must not point elsewhere.
      if (sh.path().empty() || sh.path().find('/') != std::string::npos || sh.path()[0] == '.') {
        return bad("shard path '" + sh.path() +
                   "' must be a plain file name in the dataset directory");
      }
      total += sh.records();
    }
    if (total != sp.count()) {
      return bad("split " + sp.name() + " has count " + std::to_string(sp.count()) +
                 " but its shards hold " + std::to_string(total) + " records");
    }
  }
  return m;
}

// --- SplitReader --------------------------------------------------------------

SplitReader::SplitReader(std::string dir, const DatasetManifest& m, SplitInfo split)
    : dir_(std::move(dir)),
      image_bytes_(size_t(m.height()) * m.width() * m.channels()),
      classes_(m.classes_size()),
      split_(std::move(split)) {}

Result<std::unique_ptr<SplitReader>> SplitReader::Open(const std::string& dir,
                                                       const DatasetManifest& manifest,
                                                       const std::string& split) {
  for (const auto& sp : manifest.split()) {
    if (sp.name() == split) return std::unique_ptr<SplitReader>(new SplitReader(dir, manifest, sp));
  }
  return Status::NotFound(dir + ": dataset has no split '" + split + "'");
}

Status SplitReader::CheckShardEnd() {
  const ShardInfo& sh = split_.shard(shard_);
  const RecordReader& r = *reader_;
  auto bad = [&](const std::string& what) { return Status::Corruption(r.path() + ": " + what); };
  if (r.records_read() != sh.records()) {
    return bad("holds " + std::to_string(r.records_read()) + " records, the manifest says " +
               std::to_string(sh.records()));
  }
  if (r.bytes_read() != sh.bytes()) {
    return bad("is " + std::to_string(r.bytes_read()) + " bytes, the manifest says " +
               std::to_string(sh.bytes()));
  }
  if (r.file_crc32c() != sh.crc32c()) return bad("whole-file checksum does not match the manifest");
  return Status::OK();
}

Status SplitReader::Next(Example* example, bool* eof) {
  *eof = false;
  for (;;) {
    if (!reader_) {
      if (shard_ + 1 >= split_.shard_size()) {
        *eof = true;
        return Status::OK();
      }
      ++shard_;
      auto r = RecordReader::Open(dir_ + "/" + split_.shard(shard_).path());
      if (!r.ok()) return r.status();
      reader_ = std::move(*r);
      // A size mismatch is caught here, before reading a shard that cannot match.
      if (reader_->file_size() != split_.shard(shard_).bytes()) {
        return Status::Corruption(reader_->path() + ": is " + std::to_string(reader_->file_size()) +
                                  " bytes, the manifest says " +
                                  std::to_string(split_.shard(shard_).bytes()) +
                                  " (truncated or replaced?)");
      }
    }
    bool shard_eof = false;
    CS_RETURN_IF_ERROR(reader_->Next(&payload_, &shard_eof));
    if (shard_eof) {
      CS_RETURN_IF_ERROR(CheckShardEnd());
      reader_.reset();
      continue;
    }
    auto bad = [&](const std::string& what) {
      return Status::Corruption(reader_->path() + ": record at offset " +
                                std::to_string(reader_->record_offset()) + ": " + what);
    };
    if (!example->ParseFromString(payload_)) return bad("does not decode as an Example");
    if (example->image().size() != image_bytes_) {
      return bad("image of " + std::to_string(example->image().size()) + " bytes, expected " +
                 std::to_string(image_bytes_));
    }
    if (example->label() < 0 || example->label() >= classes_) {
      return bad("label " + std::to_string(example->label()) + " outside [0, " +
                 std::to_string(classes_) + ")");
    }
    return Status::OK();
  }
}

// --- VerifyDataset ------------------------------------------------------------

Status VerifyDataset(Env* env, const std::string& dir, const VerifyProgress& progress,
                     uint64_t* records) {
  auto m = ReadManifest(env, dir);
  if (!m.ok()) return m.status();
  uint64_t total = 0, done = 0;
  for (const auto& sp : m->split()) total += sp.count();
  Example ex;
  for (const auto& sp : m->split()) {
    auto r = SplitReader::Open(dir, *m, sp.name());
    if (!r.ok()) return r.status();
    for (;;) {
      bool eof = false;
      CS_RETURN_IF_ERROR((*r)->Next(&ex, &eof));
      if (eof) break;
      ++done;
      if (progress && (done % 1024) == 0) progress(done, total);
    }
  }
  if (progress) progress(done, total);
  if (records != nullptr) *records = done;
  return Status::OK();
}

}  // namespace claimsweep
