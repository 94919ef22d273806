// The training loop, built as the module libclaimsweep_trainer.so that
// `trial` loads for train tasks; with models/models.cc the only translation
// units that include libtorch (through the shared precompiled header).
#include <torch/torch.h>

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <sstream>
#include <thread>

#include "core/catalogue.h"
#include "core/env.h"
#include "core/json.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "models/models.h"
#include "train/batch_loader.h"
#include "train/checkpoint_file.h"
#include "train/train_task.h"

namespace claimsweep {
namespace {

using Clock = std::chrono::steady_clock;
namespace F = torch::nn::functional;

std::string Fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// A training step allocates and frees the same few-megabyte activation and
// gradient buffers every step. glibc serves anything above its mmap threshold
// (128 KiB at start) with a fresh mmap, so each step page-faults and zeroes
// all of them again: that halved SqueezeNet's images/s here. (Python peers
// often escape it by accident: freeing a large loading buffer first raises
// glibc's dynamic threshold.) Keep buffers up to 32 MiB, glibc's maximum, on
// the heap and do not trim it between steps; memory stays at the step's peak.
void KeepActivationsOnTheHeap() {
  if (std::getenv("CLAIMSWEEP_GLIBC_MMAP") != nullptr)
    return;  // to measure the difference (bench/)
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

// Seconds since this process started (from /proc), so "time to the first
// resumed step" includes loading libtorch and the checkpoint.
double SecondsSinceProcessStart() {
  std::string stat, uptime;
  if (!Env::Default()->ReadFile("/proc/self/stat", &stat).ok() ||
      !Env::Default()->ReadFile("/proc/uptime", &uptime).ok()) {
    return -1;
  }
  // Field 22 (starttime, in clock ticks) follows the ')' that ends field 2.
  std::istringstream in(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 22 && in >> field; ++i) {
  }
  return std::stod(uptime) - std::stod(field) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string Duration(double s) {
  char b[32];
  if (s >= 3600) {
    std::snprintf(b, sizeof b, "%dh%02dm", static_cast<int>(s / 3600),
                  static_cast<int>(s / 60) % 60);
  } else if (s >= 60) {
    std::snprintf(b, sizeof b, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  } else {
    std::snprintf(b, sizeof b, "%.1fs", s);
  }
  return b;
}

// oneDNN's CPU convolutions work on NHWC ("channels last") tensors directly;
// given NCHW ones they reorder every input, weight and gradient to a blocked
// layout and back, each step. On the CPU the trainer keeps the convolution
// weights channels-last and the loader writes its batches NHWC: the same
// values in another memory layout (the same model and training; the float
// results differ from NCHW's in the last bits, as any change of kernel does,
// and are as reproducible). CLAIMSWEEP_NCHW=1 keeps NCHW, to measure it (bench/).
bool UseChannelsLast(torch::Device device) {
  return device.is_cpu() && std::getenv("CLAIMSWEEP_NCHW") == nullptr;
}

// After building or loading: the 4-D parameters (convolution weights) in
// channels-last layout, in place, so the optimizer's references stay valid.
void ToChannelsLast(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  for (auto& p : m.parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

// A batch's images as a tensor over its memory (no copy on the CPU).
torch::Tensor Images(Batch& b, const DatasetManifest& m, bool channels_last, torch::Device device) {
  const int64_t C = m.channels(), H = m.height(), W = m.width();
  if (channels_last)
    return torch::from_blob(b.data.data(), {b.n, C, H, W}, {H * W * C, 1, W * C, C}).to(device);
  return torch::from_blob(b.data.data(), {b.n, C, H, W}).to(device);
}

using OptimizerPtr = std::unique_ptr<torch::optim::Optimizer>;

// Every name of OptimizerNames() (core/catalogue.h); any other is an error,
// never a silent SGD.
Result<OptimizerPtr> MakeOptimizer(const TrainTask& t, std::vector<torch::Tensor> params) {
  if (t.optimizer() == "adam") {
    return OptimizerPtr(std::make_unique<torch::optim::Adam>(
        params, torch::optim::AdamOptions(t.lr()).weight_decay(t.weight_decay())));
  }
  if (t.optimizer() == "adamw") {
    return OptimizerPtr(std::make_unique<torch::optim::AdamW>(
        params, torch::optim::AdamWOptions(t.lr()).weight_decay(t.weight_decay())));
  }
  if (t.optimizer() == "sgd") {
    return OptimizerPtr(
        std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(t.lr())
                                                        .momentum(t.momentum())
                                                        .nesterov(t.nesterov())
                                                        .weight_decay(t.weight_decay())));
  }
  return Status::InvalidArgument("unknown optimizer '" + t.optimizer() +
                                 "'; one of: " + JoinNames(OptimizerNames()));
}

void SetLr(torch::optim::Optimizer* opt, double lr) {
  for (auto& g : opt->param_groups()) g.options().set_lr(lr);
}

struct EvalResult {
  double loss = 0, acc = 0;
  int64_t images = 0;
  bool stopped = false;  // should_stop: the rest was not evaluated
};

// `split` of the dataset, no augmentation. should_stop (may be null) is
// checked between batches.
Status Evaluate(ModelHandle& model, const DatasetManifest& m, const TrainTask& cfg,
                const std::string& split, torch::Device device, EvalResult* out,
                const std::function<bool()>& should_stop = nullptr) {
  torch::NoGradGuard no_grad;
  model.module->eval();
  LoaderOptions lo;
  lo.dir = cfg.dataset();
  lo.split = split;
  lo.batch_size = std::max(256, cfg.batch_size());
  lo.threads = cfg.loader_threads();
  lo.channels_last = UseChannelsLast(device);
  BatchLoader loader(m, lo);
  CS_RETURN_IF_ERROR(loader.Start());
  double loss_sum = 0;
  int64_t correct = 0, seen = 0;
  for (;;) {
    Batch b;
    bool done = false;
    CS_RETURN_IF_ERROR(loader.Next(&b, &done));
    if (done) break;
    if (should_stop && should_stop()) {
      out->stopped = true;
      break;
    }
    auto x = Images(b, m, lo.channels_last, device);
    auto y = torch::from_blob(b.labels.data(), {b.n}, torch::kLong).to(device);
    auto logits = model.forward(x);
    loss_sum += F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += logits.argmax(1).eq(y).sum().item<int64_t>();
    seen += b.n;
  }
  model.module->train();
  out->loss = seen ? loss_sum / static_cast<double>(seen) : 0;
  out->acc = seen ? static_cast<double>(correct) / static_cast<double>(seen) : 0;
  out->images = seen;
  return Status::OK();
}

// The columns are TrainMetricsColumns(), in that order.
std::string MetricsCsv(const TrainState& st) {
  std::string out;
  for (const std::string& c : TrainMetricsColumns()) out += (out.empty() ? "" : ",") + c;
  out += "\n";
  for (const auto& r : st.history()) {
    char line[512];
    std::snprintf(line, sizeof line, "%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.4f,%.1f\n", r.epoch(),
                  r.train_loss(), r.train_acc(), r.val_loss(), r.val_acc(), r.lr(),
                  r.epoch_seconds(), r.images_per_s());
    out += line;
  }
  return out;
}

std::string SaveTensors(ModelHandle& model, torch::optim::Optimizer& opt) {
  torch::serialize::OutputArchive root, m, o;
  model.module->save(m);
  opt.save(o);
  root.write("model", m);
  root.write("optimizer", o);
  std::ostringstream os;
  root.save_to(os);
  return os.str();
}

// An istream over bytes already in memory (std::istringstream would copy
// them), seekable because libtorch's archive reader seeks.
class ViewBuf : public std::streambuf {
 public:
  explicit ViewBuf(std::string_view v) {
    char* b = const_cast<char*>(v.data());  // read-only: the get area is never written
    setg(b, b, b + v.size());
  }

 protected:
  pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode) override {
    char* base = dir == std::ios_base::beg ? eback() : dir == std::ios_base::cur ? gptr() : egptr();
    if (base + off < eback() || base + off > egptr()) return pos_type(off_type(-1));
    setg(eback(), base + off, egptr());
    return pos_type(gptr() - eback());
  }
  pos_type seekpos(pos_type pos, std::ios_base::openmode which) override {
    return seekoff(off_type(pos), std::ios_base::beg, which);
  }
};

void LoadTensors(std::string_view bytes, ModelHandle& model, torch::optim::Optimizer& opt,
                 torch::Device device) {
  torch::serialize::InputArchive root, m, o;
  ViewBuf buf(bytes);
  std::istream is(&buf);
  root.load_from(is, device);
  root.read("model", m);
  root.read("optimizer", o);
  model.module->load(m);
  opt.load(o);
}

// The model's half of a checkpoint's tensors (the eval task has no optimizer).
void LoadModelTensors(std::string_view bytes, ModelHandle& model, torch::Device device) {
  torch::serialize::InputArchive root, m;
  ViewBuf buf(bytes);
  std::istream is(&buf);
  root.load_from(is, device);
  root.read("model", m);
  model.module->load(m);
}

// Writes one checkpoint at a time on a background thread. The destructor
// waits, so no write outlives the training call on any return path.
class CheckpointWriter {
 public:
  CheckpointWriter(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  ~CheckpointWriter() { Wait().IgnoreError(); }  // a path that returns early has its error already
  void Start(TrainState state, std::string tensors) {
    thread_ = std::thread([this, state = std::move(state), tensors = std::move(tensors)] {
      status_ = WriteCheckpoint(env_, dir_, state, tensors);
    });
  }
  Status Wait() {
    if (thread_.joinable()) thread_.join();
    Status s = status_;
    status_ = Status::OK();
    return s;
  }

 private:
  Env* env_;
  std::string dir_;
  std::thread thread_;
  Status status_;
};

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One attempt of a train task. Run() reads as its steps: build, resume, then
// for each epoch train, evaluate and checkpoint, stopping when asked.
class TrainingRun {
 public:
  TrainingRun(const TrainRequest& req, TrainOutcome* out)
      : req_(req),
        cfg_(req.config),
        out_(out),
        env_(req.env != nullptr ? req.env : Env::Default()),
        device_(torch::cuda::is_available() ? torch::kCUDA : torch::kCPU),
        writer_(env_, req.checkpoints_dir) {}

  Status Run() {
    CS_RETURN_IF_ERROR(Build());
    bool stop_early = false;
    CS_RETURN_IF_ERROR(Resume(&stop_early));
    attempt_start_ = Clock::now();
    train_seconds_before_ = st_.train_seconds();
    last_ckpt_ = Clock::now();
    const int until = req_.until_epoch > 0 ? std::min(req_.until_epoch, cfg_.epochs()) : cfg_.epochs();
    while (st_.epoch() < until && !stop_early) {
      bool epoch_done = false;
      CS_RETURN_IF_ERROR(TrainEpoch(&epoch_done));
      if (!epoch_done) return Status::OK();  // stopped, lost or diverged: out_ says which
      CS_RETURN_IF_ERROR(EndEpoch(&stop_early));
    }
    CS_RETURN_IF_ERROR(writer_.Wait());
    return Summarize();
  }

 private:
  // The dataset, the model (initialised from the seed) and its optimizer.
  Status Build() {
    if (req_.threads > 0) torch::set_num_threads(req_.threads);
    KeepActivationsOnTheHeap();
    auto manifest = ReadManifest(env_, cfg_.dataset());
    if (!manifest.ok()) return manifest.status();
    m_ = *manifest;
    seed_ = static_cast<uint64_t>(cfg_.seed());
    torch::manual_seed(MixSeed(seed_, 0));
    auto made =
        MakeModel(cfg_.model(), cfg_.depth(), static_cast<int>(m_.channels()), m_.classes_size());
    if (!made.ok()) return made.status();
    model_ = std::move(*made);
    model_.module->to(device_);
    if (UseChannelsLast(device_)) ToChannelsLast(*model_.module);
    model_.module->train();
    auto made_opt = MakeOptimizer(cfg_, model_.module->parameters());
    if (!made_opt.ok()) return made_opt.status();
    opt_ = std::move(*made_opt);
    num_params_ = CountParameters(*model_.module);
    t_built_ = Clock::now();
    return Status::OK();
  }

  // The newest good checkpoint, if any: model, optimizer and TrainState.
  // *stop_early: it ends the epoch at which early stopping stopped the run.
  Status Resume(bool* stop_early) {
    st_.set_format_version(kJsonRecordVersion);
    CheckpointData ck;
    CS_RETURN_IF_ERROR(LoadLatestCheckpoint(env_, req_.checkpoints_dir, &ck, &resumed_,
                                            req_.warn ? req_.warn : req_.log));
    first_step_ = resumed_;
    if (!resumed_) {
      req_.log(cfg_.model() + " with " + std::to_string(num_params_) + " parameters on " +
               (device_.is_cuda() ? "CUDA" : "CPU") + ", " +
               std::to_string(torch::get_num_threads()) + " threads, " +
               std::to_string(cfg_.epochs()) + " epochs");
      return Status::OK();
    }
    const auto t_read = Clock::now();
    LoadTensors(ck.tensors, model_, *opt_, device_);
    if (UseChannelsLast(device_))
      ToChannelsLast(*model_.module);  // whatever layout the checkpoint kept
    st_ = ck.state;
    auto secs = [](Clock::time_point a, Clock::time_point b) {
      return std::chrono::duration<double>(b - a).count();
    };
    req_.log("resuming from " + ck.path + " (epoch " + std::to_string(st_.epoch() + 1) + ", step " +
             std::to_string(st_.step()) + "); " + Fmt("%.2f", SecondsSinceProcessStart()) +
             " s after the process started (model built in " +
             Fmt("%.2f", secs(t_start_, t_built_)) + " s, checkpoint read in " +
             Fmt("%.2f", secs(t_built_, t_read)) + " s, tensors loaded in " +
             Fmt("%.2f", Since(t_read)) + " s)");
    // metrics.csv gets exactly one row per finished epoch: the checkpoint's history.
    CS_RETURN_IF_ERROR(req_.may_write());
    CS_RETURN_IF_ERROR(env_->WriteFileAtomic(req_.metrics_path, MetricsCsv(st_)));
    if (st_.step() != 0 || st_.epoch() == 0) return Status::OK();  // inside an epoch
    // An epoch-end checkpoint. If early stopping ended the run there, it
    // trains no further, as the uninterrupted run did not. If its epoch is
    // kept and kept/ lacks it, the attempt that wrote it died before keeping
    // it: keep it now, before any newer checkpoint can prune it.
    *stop_early = PatienceHit();
    const int e = st_.epoch();
    if (!IsKeptEpoch(cfg_.keep_checkpoints_every(), e, e >= cfg_.epochs() || *stop_early))
      return Status::OK();
    CS_RETURN_IF_ERROR(CheckKeptDir());
    bool kept_now = false;
    CS_RETURN_IF_ERROR(KeepCheckpointIfMissing(env_, ck.path, req_.kept_dir, e, req_.before_keep,
                                               req_.may_write, &kept_now));
    if (kept_now) req_.log("kept the checkpoint of epoch " + std::to_string(e) + " on resume");
    return Status::OK();
  }

  // Early stopping: no val_acc improvement for `patience` epochs by the end of st_.epoch().
  bool PatienceHit() const {
    return cfg_.early_stopping_patience() > 0 &&
           st_.epoch() - st_.best_epoch() >= cfg_.early_stopping_patience();
  }

  Status CheckKeptDir() const {
    if (req_.kept_dir.empty())
      return Status::InvalidArgument("keep_checkpoints_every is set, but no kept_dir was given");
    return Status::OK();
  }

  // The end of kept epoch `epoch`: its checkpoint written in full, then
  // before_keep and the link (KeepCheckpoint; fenced by may_write).
  Status Keep(int epoch) {
    CS_RETURN_IF_ERROR(CheckKeptDir());
    CS_RETURN_IF_ERROR(writer_.Wait());
    return KeepCheckpoint(env_, EpochEndCheckpointPath(req_.checkpoints_dir, epoch), req_.kept_dir,
                          epoch, req_.before_keep, req_.may_write);
  }

  // Checkpoints: the tensors are serialized into memory on the training
  // thread (training must not change them meanwhile), then written, fsync'ed
  // and renamed on a background thread while training goes on. The next save
  // first waits for the previous write; a stop waits for its own.
  Status Save(bool wait) {
    CS_RETURN_IF_ERROR(writer_.Wait());
    CS_RETURN_IF_ERROR(req_.may_write());
    const auto t0 = Clock::now();
    st_.set_train_seconds(train_seconds_before_ +
                          std::chrono::duration<double>(t0 - attempt_start_).count());
    writer_.Start(st_, SaveTensors(model_, *opt_));
    if (out_->first_checkpoint_s < 0)
      out_->first_checkpoint_s = std::chrono::duration<double>(t0 - t_start_).count();
    last_save_s_ = Since(t0);
    last_ckpt_ = Clock::now();
    return wait ? writer_.Wait() : Status::OK();
  }

  // The rest of the epoch in progress (from st_.step()). *done is false when
  // the attempt ends inside it: a stop (checkpoint written), a lost claim, a
  // diverged loss; out_ says which.
  Status TrainEpoch(bool* done) {
    *done = false;
    const int epoch = st_.epoch();
    LoaderOptions lo;
    lo.dir = cfg_.dataset();
    lo.split = "train";
    lo.batch_size = cfg_.batch_size();
    lo.seed = seed_;
    lo.epoch = epoch;
    lo.shuffle = true;
    lo.augment = !cfg_.no_augment();
    lo.skip_batches = st_.step();
    lo.threads = cfg_.loader_threads();
    lo.channels_last = UseChannelsLast(device_);
    BatchLoader loader(m_, lo);
    CS_RETURN_IF_ERROR(loader.Start());
    const int64_t spe = loader.batches_per_epoch();
    const auto ckpt_every = std::chrono::duration<double>(cfg_.checkpoint_minutes() * 60);
    auto t_epoch = Clock::now();
    data_wait_ = 0;
    lr_ = LearningRateAt(cfg_, epoch, st_.step(), spe);
    for (;;) {
      if (req_.lost()) {
        out_->kind = TrainOutcome::Kind::kLost;
        return Status::OK();
      }
      Batch b;
      bool end = false;
      const auto t_wait = Clock::now();
      CS_RETURN_IF_ERROR(loader.Next(&b, &end));
      data_wait_ += Since(t_wait);
      if (end) break;
      lr_ = LearningRateAt(cfg_, epoch, st_.step(), spe);
      SetLr(opt_.get(), lr_);
      // Dropout draws from torch's generator: seed it per step so a resumed
      // epoch draws exactly what the uninterrupted one did.
      torch::manual_seed(
          MixSeed(seed_, static_cast<uint64_t>(epoch) + 1, static_cast<uint64_t>(st_.step())));
      auto x = Images(b, m_, lo.channels_last, device_);
      auto y = torch::from_blob(b.labels.data(), {b.n}, torch::kLong).to(device_);
      opt_->zero_grad();
      auto logits = model_.forward(x);
      auto loss = F::cross_entropy(
          logits, y, F::CrossEntropyFuncOptions().label_smoothing(cfg_.label_smoothing()));
      // item() synchronises with the device, which the running sum below
      // needed anyway: checking every step costs nothing more.
      const double loss_v = loss.item<double>();
      if (!std::isfinite(loss_v)) {
        out_->kind = TrainOutcome::Kind::kDiverged;
        out_->message = std::string("diverged: loss became ") +
                        (std::isnan(loss_v) ? "nan"
                         : loss_v > 0       ? "inf"
                                            : "-inf") +
                        " at epoch " + std::to_string(epoch + 1) + " step " +
                        std::to_string(st_.step() + 1);
        req_.log(out_->message +
                 "; stopping (a diverged run is not retried: the same config diverges again)");
        return Status::OK();
      }
      loss.backward();
      opt_->step();
      st_.set_loss_sum(st_.loss_sum() + loss_v * b.n);
      st_.set_correct(st_.correct() + logits.argmax(1).eq(y).sum().item<int64_t>());
      st_.set_seen(st_.seen() + b.n);
      st_.set_step(st_.step() + 1);
      if (first_step_) {
        first_step_ = false;
        req_.log("first resumed step done " + Fmt("%.2f", SecondsSinceProcessStart()) +
                 " s after the process started");
      }
      const bool stop = req_.should_stop();
      const bool periodic = cfg_.checkpoint_minutes() > 0 && Clock::now() - last_ckpt_ > ckpt_every;
      if (stop || periodic) {
        st_.set_epoch_seconds(st_.epoch_seconds() + Since(t_epoch));
        t_epoch = Clock::now();
        CS_RETURN_IF_ERROR(Save(/*wait=*/stop));
        if (stop) {
          req_.log("stopping at epoch " + std::to_string(epoch + 1) + " step " +
                   std::to_string(st_.step()) + "/" + std::to_string(spe) + "; checkpoint written");
          out_->kind = TrainOutcome::Kind::kInterrupted;
          return Status::OK();
        }
      }
    }
    st_.set_epoch_seconds(st_.epoch_seconds() + Since(t_epoch));
    *done = true;
    return Status::OK();
  }

  // After the epoch's last step: validation, its metrics row, metrics.csv, a
  // checkpoint, the log line; early stopping.
  Status EndEpoch(bool* stop_early) {
    const int epoch = st_.epoch();
    EvalResult val;
    CS_RETURN_IF_ERROR(Evaluate(model_, m_, cfg_, "val", device_, &val));
    EpochMetrics* row = st_.add_history();
    row->set_epoch(epoch + 1);
    row->set_train_loss(st_.seen() ? st_.loss_sum() / static_cast<double>(st_.seen()) : 0);
    row->set_train_acc(
        st_.seen() ? static_cast<double>(st_.correct()) / static_cast<double>(st_.seen()) : 0);
    row->set_val_loss(val.loss);
    row->set_val_acc(val.acc);
    row->set_lr(lr_);
    row->set_epoch_seconds(st_.epoch_seconds());
    row->set_images_per_s(
        st_.epoch_seconds() > 0 ? static_cast<double>(st_.seen()) / st_.epoch_seconds() : 0);
    if (st_.history_size() == 1 || val.acc > st_.best_val_acc()) {
      st_.set_best_val_acc(val.acc);
      st_.set_best_epoch(epoch + 1);
    }
    st_.set_epoch(epoch + 1);
    st_.set_step(0);
    st_.set_loss_sum(0);
    st_.set_correct(0);
    st_.set_seen(0);
    st_.set_epoch_seconds(0);
    CS_RETURN_IF_ERROR(req_.may_write());
    CS_RETURN_IF_ERROR(env_->WriteFileAtomic(req_.metrics_path, MetricsCsv(st_)));
    CS_RETURN_IF_ERROR(Save(/*wait=*/false));
    *stop_early = PatienceHit();
    const bool kept = IsKeptEpoch(cfg_.keep_checkpoints_every(), epoch + 1,
                                  epoch + 1 >= cfg_.epochs() || *stop_early);
    if (kept) CS_RETURN_IF_ERROR(Keep(epoch + 1));
    const double per_epoch = row->epoch_seconds();
    req_.log("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(cfg_.epochs()) +
             "  train_loss " + Fmt("%.4f", row->train_loss()) + "  train_acc " +
             Fmt("%.4f", row->train_acc()) + "  val_loss " + Fmt("%.4f", val.loss) + "  val_acc " +
             Fmt("%.4f", val.acc) + "  " + Duration(per_epoch) + " (" +
             Fmt("%.0f", row->images_per_s()) + " img/s, input wait " + Duration(data_wait_) +
             ", checkpoint " + Fmt("%.3f", last_save_s_) + "s" + (kept ? ", kept" : "") +
             ")  ETA " + Duration(per_epoch * (cfg_.epochs() - epoch - 1)));
    if (*stop_early) {
      req_.log("early stopping: no val_acc improvement for " +
               std::to_string(cfg_.early_stopping_patience()) + " epochs");
    }
    return Status::OK();
  }

  // The test split (if any) and the summary `trial` puts into result.json.
  Status Summarize() {
    EvalResult test;
    bool has_test = false;
    for (const auto& s : m_.split()) has_test |= s.name() == "test";
    if (has_test) CS_RETURN_IF_ERROR(Evaluate(model_, m_, cfg_, "test", device_, &test));
    auto& f = *out_->summary.mutable_fields();
    auto num = [&](const char* k, double v) { f[k].set_number_value(v); };
    const EpochMetrics last =
        st_.history_size() ? st_.history(st_.history_size() - 1) : EpochMetrics();
    num("epochs", st_.history_size());
    num("best_val_acc", st_.best_val_acc());
    num("best_epoch", st_.best_epoch());
    num("final_train_loss", last.train_loss());
    num("final_train_acc", last.train_acc());
    num("final_val_loss", last.val_loss());
    num("final_val_acc", last.val_acc());
    if (has_test) {
      num("test_loss", test.loss);
      num("test_acc", test.acc);
    }
    num("num_parameters", static_cast<double>(num_params_));
    num("train_seconds", train_seconds_before_ + Since(attempt_start_));
    f["model"].set_string_value(cfg_.model());
    out_->kind = TrainOutcome::Kind::kDone;
    return Status::OK();
  }

  const TrainRequest& req_;
  const TrainTask& cfg_;
  TrainOutcome* out_;
  Env* env_;
  torch::Device device_;
  const Clock::time_point t_start_ = Clock::now();
  Clock::time_point t_built_, attempt_start_, last_ckpt_;
  DatasetManifest m_;
  uint64_t seed_ = 0;
  ModelHandle model_;
  OptimizerPtr opt_;
  int64_t num_params_ = 0;
  TrainState st_;
  bool resumed_ = false, first_step_ = false;
  double train_seconds_before_ = 0, last_save_s_ = 0, data_wait_ = 0, lr_ = 0;
  // Declared last: destroyed first, so no write outlives the state it reads.
  CheckpointWriter writer_;
};

Status Train(const TrainRequest& req, TrainOutcome* out) { return TrainingRun(req, out).Run(); }

Status Evaluation(const EvalRequest& req, google::protobuf::Struct* metrics, bool* interrupted) {
  const auto t0 = Clock::now();
  *interrupted = false;
  Env* env = req.env != nullptr ? req.env : Env::Default();
  const TrainTask& cfg = req.config;
  const std::string split = req.split.empty() ? "test" : req.split;
  if (req.threads > 0) torch::set_num_threads(req.threads);
  auto manifest = ReadManifest(env, cfg.dataset());
  if (!manifest.ok()) return manifest.status();
  const DatasetManifest& m = *manifest;
  std::vector<std::string> splits;
  for (const auto& sp : m.split()) splits.push_back(sp.name());
  if (std::find(splits.begin(), splits.end(), split) == splits.end()) {
    return Status::InvalidArgument("dataset " + cfg.dataset() + " has no split '" + split +
                                   "'; it has: " + JoinNames(splits));
  }
  std::string_view bytes;
  std::shared_ptr<const void> keep;
  CS_RETURN_IF_ERROR(env->ReadFileShared(req.checkpoint_path, &bytes, &keep));
  CheckpointData ck;
  CS_RETURN_IF_ERROR(DecodeCheckpoint(bytes, req.checkpoint_path, &ck));
  const torch::Device device(torch::cuda::is_available() ? torch::kCUDA : torch::kCPU);
  auto made = MakeModel(cfg.model(), cfg.depth(), static_cast<int>(m.channels()), m.classes_size());
  if (!made.ok()) return made.status();
  ModelHandle model = std::move(*made);
  model.module->to(device);
  try {
    LoadModelTensors(ck.tensors, model, device);
  } catch (const c10::Error& e) {
    return Status::Corruption(req.checkpoint_path + ": its tensors do not load into " +
                              cfg.model() + " (" + e.what_without_backtrace() + ")");
  }
  if (UseChannelsLast(device)) ToChannelsLast(*model.module);
  EvalResult r;
  CS_RETURN_IF_ERROR(Evaluate(model, m, cfg, split, device, &r, req.should_stop));
  if (r.stopped) {
    *interrupted = true;
    return Status::OK();
  }
  auto& f = *metrics->mutable_fields();
  f["loss"].set_number_value(r.loss);
  f["acc"].set_number_value(r.acc);
  f["epoch"].set_number_value(ck.state.epoch());
  f["images"].set_number_value(static_cast<double>(r.images));
  f["seconds"].set_number_value(Since(t0));
  if (req.log) {
    req.log("evaluated " + req.checkpoint_path + " (epoch " + std::to_string(ck.state.epoch()) +
            ") on " + split + ": loss " + Fmt("%.4f", r.loss) + "  acc " + Fmt("%.4f", r.acc) +
            "  " + std::to_string(r.images) + " images in " + Duration(Since(t0)));
  }
  return Status::OK();
}

}  // namespace

Status RunTraining(const TrainRequest& req, TrainOutcome* out) {
  try {
    return Train(req, out);
  } catch (const c10::Error& e) {
    return Status::IOError(std::string("libtorch: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return Status::IOError(std::string("training failed: ") + e.what());
  }
}

Status RunEvaluation(const EvalRequest& req, google::protobuf::Struct* metrics, bool* interrupted) {
  try {
    return Evaluation(req, metrics, interrupted);
  } catch (const c10::Error& e) {
    return Status::IOError(std::string("libtorch: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return Status::IOError(std::string("evaluation failed: ") + e.what());
  }
}

}  // namespace claimsweep

// The module's entry point, looked up by `trial` (src/trial/load_trainer.cc)
// with dlsym. Both sides are built together from the same headers.
extern "C" __attribute__((visibility("default"))) void claimsweep_run_training(
    const claimsweep::TrainRequest* req, claimsweep::TrainOutcome* out,
    claimsweep::Status* status) {
  *status = claimsweep::RunTraining(*req, out);
}

extern "C" __attribute__((visibility("default"))) void claimsweep_run_evaluation(
    const claimsweep::EvalRequest* req, google::protobuf::Struct* metrics, bool* interrupted,
    claimsweep::Status* status) {
  *status = claimsweep::RunEvaluation(*req, metrics, interrupted);
}
