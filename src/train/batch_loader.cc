#include "train/batch_loader.h"

#include <algorithm>
#include <cmath>

#include "core/rng.h"
#include "data/record_io.h"

namespace claimsweep {
BatchLoader::BatchLoader(const DatasetManifest& manifest, LoaderOptions opt)
    : manifest_(manifest), opt_(std::move(opt)) {}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

int64_t BatchLoader::batches_per_epoch() const {
  return static_cast<int64_t>((split_.count() + opt_.batch_size - 1) / opt_.batch_size);
}

Status BatchLoader::Start() {
  bool found = false;
  for (const auto& s : manifest_.split()) {
    if (s.name() == opt_.split) {
      split_ = s;
      found = true;
    }
  }
  if (!found) return Status::NotFound(opt_.dir + ": the dataset has no '" + opt_.split + "' split");
  const uint32_t c = manifest_.channels();
  image_bytes_ = static_cast<size_t>(manifest_.height()) * manifest_.width() * c;
  for (uint32_t k = 0; k < c; ++k) {
    double m = k < static_cast<uint32_t>(manifest_.mean_size()) ? manifest_.mean(k) : 0.5;
    double sd = k < static_cast<uint32_t>(manifest_.std_size()) && manifest_.std(k) > 0
                    ? manifest_.std(k)
                    : 0.25;
    mean_.push_back(static_cast<float>(m));
    inv_std_.push_back(static_cast<float>(1.0 / sd));
  }
  produced_ = next_out_ = opt_.skip_batches;
  threads_.emplace_back([this] { ReadLoop(); });
  for (int i = 0; i < std::max(1, opt_.threads); ++i)
    threads_.emplace_back([this] { DecodeLoop(); });
  return Status::OK();
}

void BatchLoader::SetError(const Status& s) {
  std::lock_guard<std::mutex> l(mu_);
  if (error_.ok()) error_ = s;
  cv_.notify_all();
}

void BatchLoader::ReadLoop() {
  SplitMix64 rng(MixSeed(opt_.seed, 0x5eed0000 + static_cast<uint64_t>(opt_.epoch)));
  std::vector<int> order(static_cast<size_t>(split_.shard_size()));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  if (opt_.shuffle) {
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Uniform(i)]);
  }
  const uint64_t skip = static_cast<uint64_t>(opt_.skip_batches) * opt_.batch_size;
  const int64_t max_in_flight = 2 * std::max(1, opt_.threads) + 2;
  uint64_t position = 0;
  Job job{produced_, skip, {}, {}};

  auto push_job = [&]() -> bool {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return stop_ || produced_ - next_out_ < max_in_flight; });
    if (stop_) return false;
    jobs_.push_back(std::move(job));
    ++produced_;
    job = Job{produced_, position, {}, {}};
    cv_.notify_all();
    return true;
  };
  // Hands a record to the current batch (or drops it while skipping).
  auto emit = [&](std::string&& payload, std::pair<int, uint64_t> origin) -> bool {
    if (position++ < skip) return true;
    job.payloads.push_back(std::move(payload));
    job.origin.push_back(origin);
    if (static_cast<int>(job.payloads.size()) == opt_.batch_size) return push_job();
    return true;
  };

  struct Held {
    std::string payload;
    std::pair<int, uint64_t> origin;
  };
  std::vector<Held> buffer;
  const size_t cap = opt_.shuffle ? std::max<size_t>(1, opt_.shuffle_buffer) : 0;
  for (int shard : order) {
    auto reader = RecordReader::Open(opt_.dir + "/" + split_.shard(shard).path());
    if (!reader.ok()) return SetError(reader.status());
    for (;;) {
      std::string payload;
      bool eof = false;
      Status s = (*reader)->Next(&payload, &eof);
      if (!s.ok()) return SetError(s);
      if (eof) break;
      std::pair<int, uint64_t> origin{shard, (*reader)->record_offset()};
      if (cap == 0) {
        if (!emit(std::move(payload), origin)) return;
      } else if (buffer.size() < cap) {
        buffer.push_back({std::move(payload), origin});
      } else {
        size_t j = rng.Uniform(cap);
        if (!emit(std::move(buffer[j].payload), buffer[j].origin)) return;
        buffer[j] = {std::move(payload), origin};
      }
    }
  }
  while (!buffer.empty()) {
    size_t j = rng.Uniform(buffer.size());
    if (!emit(std::move(buffer[j].payload), buffer[j].origin)) return;
    buffer[j] = std::move(buffer.back());
    buffer.pop_back();
  }
  if (!job.payloads.empty() && !push_job()) return;
  std::lock_guard<std::mutex> l(mu_);
  read_done_ = true;
  end_ = produced_;
  cv_.notify_all();
}

void BatchLoader::DecodeLoop() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || !jobs_.empty() || read_done_ || !error_.ok(); });
      if (stop_ || !error_.ok()) return;
      if (jobs_.empty()) {
        if (read_done_) return;
        continue;
      }
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Batch b;
    Status s = Decode(job, &b);
    if (!s.ok()) return SetError(s);
    std::lock_guard<std::mutex> l(mu_);
    ready_.emplace(b.index, std::move(b));
    cv_.notify_all();
  }
}

Status BatchLoader::Decode(const Job& job, Batch* out) const {
  const int H = static_cast<int>(manifest_.height()), W = static_cast<int>(manifest_.width());
  const int C = static_cast<int>(manifest_.channels());
  const int n = static_cast<int>(job.payloads.size());
  out->index = job.index;
  out->n = n;
  out->data.resize(static_cast<size_t>(n) * C * H * W);
  out->labels.resize(static_cast<size_t>(n));
  Example ex;
  for (int k = 0; k < n; ++k) {
    const auto& [shard, offset] = job.origin[static_cast<size_t>(k)];
    const std::string where = opt_.dir + "/" + split_.shard(shard).path() + ": record at offset " +
                              std::to_string(offset);
    if (!ex.ParseFromString(job.payloads[static_cast<size_t>(k)]))
      return Status::Corruption(where + ": not an Example");
    if (ex.image().size() != image_bytes_) {
      return Status::Corruption(where + ": image has " + std::to_string(ex.image().size()) +
                                " bytes, expected " + std::to_string(image_bytes_));
    }
    if (ex.label() < 0 || ex.label() >= manifest_.classes_size()) {
      return Status::Corruption(where + ": label " + std::to_string(ex.label()) + " out of range");
    }
    out->labels[static_cast<size_t>(k)] = ex.label();
    int oy = 0, ox = 0;
    bool flip = false;
    if (opt_.augment) {
      const uint64_t position = job.first_position + static_cast<uint64_t>(k);
      SplitMix64 r(MixSeed(opt_.seed, static_cast<uint64_t>(opt_.epoch) + 1, position));
      oy = static_cast<int>(r.Uniform(9)) - 4;
      ox = static_cast<int>(r.Uniform(9)) - 4;
      flip = r.Next() & 1;
    }
    const auto* px = reinterpret_cast<const uint8_t*>(ex.image().data());
    float* dst = out->data.data() + static_cast<size_t>(k) * C * H * W;
    // Element (c, y, x) of the image is at dst[c * cs + (y * W + x) * ps].
    const size_t cs = opt_.channels_last ? 1 : static_cast<size_t>(H) * W;
    const size_t ps = opt_.channels_last ? static_cast<size_t>(C) : 1;
    for (int c = 0; c < C; ++c) {
      const float m = mean_[static_cast<size_t>(c)], is = inv_std_[static_cast<size_t>(c)];
      const float pad = -m * is;
      for (int y = 0; y < H; ++y) {
        const int sy = y + oy;
        for (int x = 0; x < W; ++x) {
          const int sx = (flip ? W - 1 - x : x) + ox;
          float v = pad;
          if (sy >= 0 && sy < H && sx >= 0 && sx < W) {
            v = (static_cast<float>(px[(static_cast<size_t>(sy) * W + sx) * C + c]) *
                     (1.0f / 255.0f) -
                 m) *
                is;
          }
          dst[c * cs + (static_cast<size_t>(y) * W + x) * ps] = v;
        }
      }
    }
  }
  return Status::OK();
}

Status BatchLoader::Next(Batch* batch, bool* done) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] {
    return !error_.ok() || ready_.count(next_out_) || (read_done_ && next_out_ >= end_);
  });
  if (!error_.ok()) return error_;
  if (read_done_ && next_out_ >= end_ && !ready_.count(next_out_)) {
    *done = true;
    return Status::OK();
  }
  auto it = ready_.find(next_out_);
  *batch = std::move(it->second);
  ready_.erase(it);
  ++next_out_;
  *done = false;
  cv_.notify_all();
  return Status::OK();
}

}  // namespace claimsweep
