#include "data/import_mnist.h"

#include <zlib.h>

#include <vector>

#include "core/env.h"
#include "core/number_format.h"
#include "data/dataset.h"

namespace claimsweep {
namespace {

constexpr uint32_t kImagesMagic = 2051, kLabelsMagic = 2049;

uint32_t GetBE32(const std::string& d, size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(d.data()) + at;
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// `base` or `base.gz`, whichever exists (plain first).
Status FindFile(Env* env, const std::string& base, std::string* path) {
  for (const std::string& p : {base, base + ".gz"}) {
    if (env->Exists(p)) {
      *path = p;
      return Status::OK();
    }
  }
  return Status::NotFound(base + "[.gz]: missing (MNIST IDX file expected)");
}

// Reads a whole file through zlib, which passes plain files through as is.
// A gzip stream that ends early is Corruption, not a short read.
Status ReadMaybeGz(const std::string& path, std::string* out) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return Status::FromErrno("open", path, errno);
  out->clear();
  std::vector<char> buf(1 << 20);
  for (;;) {
    int n = gzread(f, buf.data(), unsigned(buf.size()));
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      return Status::Corruption(path + ": " + msg);
    }
    if (n == 0) break;
    out->append(buf.data(), size_t(n));
  }
  int rc = gzclose(f);
  if (rc == Z_BUF_ERROR) return Status::Corruption(path + ": gzip stream is truncated");
  if (rc != Z_OK) return Status::IOError(path + ": gzclose failed (" + std::to_string(rc) + ")");
  return Status::OK();
}

struct Idx {
  std::string path, data;
  uint32_t count = 0, rows = 0, cols = 0;
  size_t body = 0;  // offset of the first item
};

Status ReadIdx(Env* env, const std::string& base, bool images, Idx* idx) {
  CS_RETURN_IF_ERROR(FindFile(env, base, &idx->path));
  CS_RETURN_IF_ERROR(ReadMaybeGz(idx->path, &idx->data));
  const std::string& d = idx->data;
  const size_t header = images ? 16 : 8;
  auto truncated = [&] {
    return Status::Corruption(idx->path + ": truncated IDX header (" + std::to_string(d.size()) +
                              " bytes)");
  };
  if (d.size() < 4) return truncated();
  // The magic number first: a labels file where images belong says so.
  const uint32_t magic = GetBE32(d, 0), want = images ? kImagesMagic : kLabelsMagic;
  if (magic != want) {
    return Status::Corruption(idx->path + ": magic number " + std::to_string(magic) +
                              ", expected " + std::to_string(want) +
                              (images ? " (IDX images)" : " (IDX labels)"));
  }
  if (d.size() < header) return truncated();
  idx->count = GetBE32(d, 4);
  idx->rows = images ? GetBE32(d, 8) : 1;
  idx->cols = images ? GetBE32(d, 12) : 1;
  idx->body = header;
  if (idx->rows == 0 || idx->cols == 0 || idx->rows > 4096 || idx->cols > 4096) {
    return Status::Corruption(idx->path + ": image size " + std::to_string(idx->rows) + "x" +
                              std::to_string(idx->cols) + " is not plausible");
  }
  const uint64_t need = uint64_t(idx->count) * idx->rows * idx->cols;
  if (d.size() - header != need) {
    return Status::Corruption(idx->path + ": header says " + std::to_string(idx->count) +
                              " items (" + std::to_string(need) + " bytes) but the file holds " +
                              std::to_string(d.size() - header) + " bytes" +
                              (d.size() - header < need ? " (truncated?)" : ""));
  }
  return Status::OK();
}

Status ReadPair(Env* env, const std::string& dir, const std::string& prefix, Idx* images,
                Idx* labels) {
  CS_RETURN_IF_ERROR(ReadIdx(env, dir + "/" + prefix + "-images-idx3-ubyte", true, images));
  CS_RETURN_IF_ERROR(ReadIdx(env, dir + "/" + prefix + "-labels-idx1-ubyte", false, labels));
  if (images->count != labels->count) {
    return Status::Corruption(images->path + " holds " + std::to_string(images->count) +
                              " images but " + labels->path + " holds " +
                              std::to_string(labels->count) + " labels");
  }
  for (uint32_t i = 0; i < labels->count; ++i) {
    const uint8_t l = uint8_t(labels->data[labels->body + i]);
    if (l > 9) {
      return Status::Corruption(labels->path + ": label " + std::to_string(i) + " is " +
                                std::to_string(l) + ", expected 0..9");
    }
  }
  return Status::OK();
}

}  // namespace

Status ImportMnist(const std::string& src, const std::string& out_dir, const ImportOptions& o) {
  CS_RETURN_IF_ERROR(CheckImportOptions(o));
  Env* env = Env::Default();
  Idx train_x, train_y, test_x, test_y;
  CS_RETURN_IF_ERROR(ReadPair(env, src, "train", &train_x, &train_y));
  CS_RETURN_IF_ERROR(ReadPair(env, src, "t10k", &test_x, &test_y));
  if (test_x.rows != train_x.rows || test_x.cols != train_x.cols) {
    return Status::Corruption(test_x.path + ": images are " + std::to_string(test_x.rows) + "x" +
                              std::to_string(test_x.cols) + ", the training images " +
                              std::to_string(train_x.rows) + "x" + std::to_string(train_x.cols));
  }

  std::vector<std::string> classes;
  for (int k = 0; k < 10; ++k) classes.push_back(std::to_string(k));
  DatasetWriter w(out_dir, "mnist", classes, train_x.rows, train_x.cols, 1, o.records_per_shard);
  w.set_source("mnist " + src + " val_fraction=" + FormatDouble(o.val_fraction) +
               " seed=" + std::to_string(o.seed));
  std::vector<bool> is_val;
  CarveValidation(train_x.count, o.val_fraction, o.seed, &is_val);

  const size_t pixels = size_t(train_x.rows) * train_x.cols;
  auto add = [&](const Idx& x, const Idx& y, uint32_t i, const std::string& split) {
    const auto* img = reinterpret_cast<const uint8_t*>(x.data.data()) + x.body + size_t(i) * pixels;
    return w.AddExample(split, img, pixels, uint8_t(y.data[y.body + i]));
  };
  for (uint32_t i = 0; i < train_x.count; ++i)
    CS_RETURN_IF_ERROR(add(train_x, train_y, i, is_val[i] ? "val" : "train"));
  for (uint32_t i = 0; i < test_x.count; ++i) CS_RETURN_IF_ERROR(add(test_x, test_y, i, "test"));
  return w.Finish();
}

}  // namespace claimsweep
