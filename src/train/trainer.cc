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
#include "data/dataset.h"
#include "core/rng.h"
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
  if (std::getenv("CLAIMSWEEP_GLIBC_MMAP") != nullptr) return;  // to measure the difference (bench/)
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

// Seconds since this process started (from /proc), so "time to the first
// resumed step" includes loading libtorch and the checkpoint.
double SecondsSinceProcessStart() {
  std::string stat, uptime;
  if (!Env::Default()->ReadFile("/proc/self/stat", &stat).ok() || !Env::Default()->ReadFile("/proc/uptime", &uptime).ok()) {
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
    std::snprintf(b, sizeof b, "%dh%02dm", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
  } else if (s >= 60) {
    std::snprintf(b, sizeof b, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  } else {
    std::snprintf(b, sizeof b, "%.1fs", s);
  }
  return b;
}

using OptimizerPtr = std::unique_ptr<torch::optim::Optimizer>;

// Every name of OptimizerNames() (core/catalogue.h); any other is an error,
// never a silent SGD.
Result<OptimizerPtr> MakeOptimizer(const TrainTask& t, std::vector<torch::Tensor> params) {
  if (t.optimizer() == "adam") {
    return OptimizerPtr(
        std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(t.lr()).weight_decay(t.weight_decay())));
  }
  if (t.optimizer() == "adamw") {
    return OptimizerPtr(
        std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(t.lr()).weight_decay(t.weight_decay())));
  }
  if (t.optimizer() == "sgd") {
    return OptimizerPtr(std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(t.lr()).momentum(t.momentum()).nesterov(t.nesterov()).weight_decay(
                    t.weight_decay())));
  }
  return Status::InvalidArgument("unknown optimizer '" + t.optimizer() + "'; one of: " + JoinNames(OptimizerNames()));
}

void SetLr(torch::optim::Optimizer* opt, double lr) {
  for (auto& g : opt->param_groups()) g.options().set_lr(lr);
}

struct EvalResult {
  double loss = 0, acc = 0;
};

Status Evaluate(ModelHandle& model, const DatasetManifest& m, const TrainRequest& req, const std::string& split,
                torch::Device device, EvalResult* out) {
  torch::NoGradGuard no_grad;
  model.module->eval();
  LoaderOptions lo;
  lo.dir = req.config.dataset();
  lo.split = split;
  lo.batch_size = std::max(256, req.config.batch_size());
  lo.threads = req.config.loader_threads();
  BatchLoader loader(m, lo);
  CS_RETURN_IF_ERROR(loader.Start());
  double loss_sum = 0;
  int64_t correct = 0, seen = 0;
  const int64_t C = m.channels(), H = m.height(), W = m.width();
  for (;;) {
    Batch b;
    bool done = false;
    CS_RETURN_IF_ERROR(loader.Next(&b, &done));
    if (done) break;
    auto x = torch::from_blob(b.data.data(), {b.n, C, H, W}).to(device);
    auto y = torch::from_blob(b.labels.data(), {b.n}, torch::kLong).to(device);
    auto logits = model.forward(x);
    loss_sum += F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
    correct += logits.argmax(1).eq(y).sum().item<int64_t>();
    seen += b.n;
  }
  model.module->train();
  out->loss = seen ? loss_sum / static_cast<double>(seen) : 0;
  out->acc = seen ? static_cast<double>(correct) / static_cast<double>(seen) : 0;
  return Status::OK();
}

std::string MetricsCsv(const TrainState& st) {
  std::string out = "epoch,train_loss,train_acc,val_loss,val_acc,lr,epoch_seconds,images_per_s\n";
  for (const auto& r : st.history()) {
    char line[512];
    std::snprintf(line, sizeof line, "%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.4f,%.1f\n", r.epoch(), r.train_loss(),
                  r.train_acc(), r.val_loss(), r.val_acc(), r.lr(), r.epoch_seconds(), r.images_per_s());
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

void LoadTensors(std::string_view bytes, ModelHandle& model, torch::optim::Optimizer& opt, torch::Device device) {
  torch::serialize::InputArchive root, m, o;
  ViewBuf buf(bytes);
  std::istream is(&buf);
  root.load_from(is, device);
  root.read("model", m);
  root.read("optimizer", o);
  model.module->load(m);
  opt.load(o);
}

// Writes one checkpoint at a time on a background thread. The destructor
// waits, so no write outlives the training call on any return path.
class CheckpointWriter {
 public:
  CheckpointWriter(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  ~CheckpointWriter() { Wait(); }
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

Status Train(const TrainRequest& req, TrainOutcome* out) {
  Env* env = req.env != nullptr ? req.env : Env::Default();
  const TrainTask& cfg = req.config;
  const auto t_start = Clock::now();
  if (req.threads > 0) torch::set_num_threads(req.threads);
  KeepActivationsOnTheHeap();
  const bool cuda = torch::cuda::is_available();
  torch::Device device(cuda ? torch::kCUDA : torch::kCPU);

  auto manifest = ReadManifest(env, cfg.dataset());
  if (!manifest.ok()) return manifest.status();
  const DatasetManifest& m = *manifest;
  const uint64_t seed = static_cast<uint64_t>(cfg.seed());

  torch::manual_seed(MixSeed(seed, 0));
  auto made = MakeModel(cfg.model(), cfg.depth(), static_cast<int>(m.channels()), m.classes_size());
  if (!made.ok()) return made.status();
  ModelHandle model = std::move(*made);
  model.module->to(device);
  model.module->train();
  auto made_opt = MakeOptimizer(cfg, model.module->parameters());
  if (!made_opt.ok()) return made_opt.status();
  std::unique_ptr<torch::optim::Optimizer> opt = std::move(*made_opt);
  const int64_t num_params = CountParameters(*model.module);

  const std::string& ckpt_dir = req.checkpoints_dir;
  TrainState st;
  st.set_format_version(kJsonRecordVersion);
  CheckpointData ck;
  bool resumed = false;
  const auto t_built = Clock::now();
  CS_RETURN_IF_ERROR(LoadLatestCheckpoint(env, ckpt_dir, &ck, &resumed, req.log));
  if (resumed) {
    const auto t_read = Clock::now();
    LoadTensors(ck.tensors, model, *opt, device);
    st = ck.state;
    auto secs = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); };
    const auto t_loaded = Clock::now();
    req.log("resuming from " + ck.path + " (epoch " + std::to_string(st.epoch() + 1) + ", step " +
            std::to_string(st.step()) + "); " + Fmt("%.2f", SecondsSinceProcessStart()) +
            " s after the process started (model built in " + Fmt("%.2f", secs(t_start, t_built)) +
            " s, checkpoint read in " + Fmt("%.2f", secs(t_built, t_read)) + " s, tensors loaded in " +
            Fmt("%.2f", secs(t_read, t_loaded)) + " s)");
    // metrics.csv gets exactly one row per finished epoch: the checkpoint's history.
    CS_RETURN_IF_ERROR(req.may_write());
    CS_RETURN_IF_ERROR(env->WriteFileAtomic(req.metrics_path, MetricsCsv(st)));
  } else {
    req.log(cfg.model() + " with " + std::to_string(num_params) + " parameters on " + (cuda ? "CUDA" : "CPU") +
            ", " + std::to_string(torch::get_num_threads()) + " threads, " + std::to_string(cfg.epochs()) + " epochs");
  }
  const double train_seconds_before = st.train_seconds();
  const auto attempt_start = Clock::now();
  // Checkpoints: the tensors are serialized into memory on the training
  // thread (training must not change them meanwhile), then written, fsync'ed
  // and renamed on a background thread while training goes on. The next save
  // first waits for the previous write; a stop waits for its own.
  double last_save_s = 0;
  CheckpointWriter writer(env, ckpt_dir);
  auto save = [&](bool wait) -> Status {
    CS_RETURN_IF_ERROR(writer.Wait());
    CS_RETURN_IF_ERROR(req.may_write());
    const auto t0 = Clock::now();
    st.set_train_seconds(train_seconds_before + std::chrono::duration<double>(t0 - attempt_start).count());
    writer.Start(st, SaveTensors(model, *opt));
    if (out->first_checkpoint_s < 0) out->first_checkpoint_s = std::chrono::duration<double>(t0 - t_start).count();
    last_save_s = std::chrono::duration<double>(Clock::now() - t0).count();
    return wait ? writer.Wait() : Status::OK();
  };
  bool first_step = resumed;

  const int64_t C = m.channels(), H = m.height(), W = m.width();
  const auto ckpt_every = std::chrono::duration<double>(cfg.checkpoint_minutes() * 60);
  auto last_ckpt = Clock::now();
  bool stop_early = false;
  while (st.epoch() < cfg.epochs() && !stop_early) {
    const int epoch = st.epoch();
    LoaderOptions lo;
    lo.dir = cfg.dataset();
    lo.split = "train";
    lo.batch_size = cfg.batch_size();
    lo.seed = seed;
    lo.epoch = epoch;
    lo.shuffle = true;
    lo.augment = !cfg.no_augment();
    lo.skip_batches = st.step();
    lo.threads = cfg.loader_threads();
    BatchLoader loader(m, lo);
    CS_RETURN_IF_ERROR(loader.Start());
    const int64_t spe = loader.batches_per_epoch();
    auto t_epoch = Clock::now();
    double data_wait = 0;  // time the GPU/CPU waited for input: a slow pipeline shows here
    double lr = LearningRateAt(cfg, epoch, st.step(), spe);
    for (;;) {
      if (req.lost()) {
        out->kind = TrainOutcome::Kind::kLost;
        return Status::OK();
      }
      Batch b;
      bool done = false;
      const auto t_wait = Clock::now();
      CS_RETURN_IF_ERROR(loader.Next(&b, &done));
      data_wait += std::chrono::duration<double>(Clock::now() - t_wait).count();
      if (done) break;
      lr = LearningRateAt(cfg, epoch, st.step(), spe);
      SetLr(opt.get(), lr);
      // Dropout draws from torch's generator: seed it per step so a resumed
      // epoch draws exactly what the uninterrupted one did.
      torch::manual_seed(MixSeed(seed, static_cast<uint64_t>(epoch) + 1, static_cast<uint64_t>(st.step())));
      auto x = torch::from_blob(b.data.data(), {b.n, C, H, W}).to(device);
      auto y = torch::from_blob(b.labels.data(), {b.n}, torch::kLong).to(device);
      opt->zero_grad();
      auto logits = model.forward(x);
      auto loss = F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().label_smoothing(cfg.label_smoothing()));
      // item() synchronises with the device, which the running sum below
      // needed anyway: checking every step costs nothing more.
      const double loss_v = loss.item<double>();
      if (!std::isfinite(loss_v)) {
        out->kind = TrainOutcome::Kind::kDiverged;
        out->message = std::string("diverged: loss became ") + (std::isnan(loss_v) ? "nan" : loss_v > 0 ? "inf" : "-inf") +
                       " at epoch " + std::to_string(epoch + 1) + " step " + std::to_string(st.step() + 1);
        req.log(out->message + "; stopping (a diverged run is not retried: the same config diverges again)");
        return Status::OK();
      }
      loss.backward();
      opt->step();
      st.set_loss_sum(st.loss_sum() + loss_v * b.n);
      st.set_correct(st.correct() + logits.argmax(1).eq(y).sum().item<int64_t>());
      st.set_seen(st.seen() + b.n);
      st.set_step(st.step() + 1);
      if (first_step) {
        first_step = false;
        req.log("first resumed step done " + Fmt("%.2f", SecondsSinceProcessStart()) + " s after the process started");
      }
      const bool stop = req.should_stop();
      const bool periodic = cfg.checkpoint_minutes() > 0 && Clock::now() - last_ckpt > ckpt_every;
      if (stop || periodic) {
        st.set_epoch_seconds(st.epoch_seconds() + std::chrono::duration<double>(Clock::now() - t_epoch).count());
        t_epoch = Clock::now();
        CS_RETURN_IF_ERROR(save(/*wait=*/stop));
        last_ckpt = Clock::now();
        if (stop) {
          req.log("stopping at epoch " + std::to_string(epoch + 1) + " step " + std::to_string(st.step()) + "/" +
                  std::to_string(spe) + "; checkpoint written");
          out->kind = TrainOutcome::Kind::kInterrupted;
          return Status::OK();
        }
      }
    }
    st.set_epoch_seconds(st.epoch_seconds() + std::chrono::duration<double>(Clock::now() - t_epoch).count());
    EvalResult val;
    CS_RETURN_IF_ERROR(Evaluate(model, m, req, "val", device, &val));
    EpochMetrics* row = st.add_history();
    row->set_epoch(epoch + 1);
    row->set_train_loss(st.seen() ? st.loss_sum() / static_cast<double>(st.seen()) : 0);
    row->set_train_acc(st.seen() ? static_cast<double>(st.correct()) / static_cast<double>(st.seen()) : 0);
    row->set_val_loss(val.loss);
    row->set_val_acc(val.acc);
    row->set_lr(lr);
    row->set_epoch_seconds(st.epoch_seconds());
    row->set_images_per_s(st.epoch_seconds() > 0 ? static_cast<double>(st.seen()) / st.epoch_seconds() : 0);
    if (st.history_size() == 1 || val.acc > st.best_val_acc()) {
      st.set_best_val_acc(val.acc);
      st.set_best_epoch(epoch + 1);
    }
    st.set_epoch(epoch + 1);
    st.set_step(0);
    st.set_loss_sum(0);
    st.set_correct(0);
    st.set_seen(0);
    st.set_epoch_seconds(0);
    CS_RETURN_IF_ERROR(req.may_write());
    CS_RETURN_IF_ERROR(env->WriteFileAtomic(req.metrics_path, MetricsCsv(st)));
    CS_RETURN_IF_ERROR(save(/*wait=*/false));
    last_ckpt = Clock::now();
    const double per_epoch = row->epoch_seconds();
    req.log("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(cfg.epochs()) + "  train_loss " +
            Fmt("%.4f", row->train_loss()) + "  train_acc " + Fmt("%.4f", row->train_acc()) + "  val_loss " +
            Fmt("%.4f", val.loss) + "  val_acc " + Fmt("%.4f", val.acc) + "  " + Duration(per_epoch) + " (" +
 Fmt("%.0f", row->images_per_s()) + " img/s, input wait " + Duration(data_wait) + ", checkpoint " +
            Fmt("%.3f", last_save_s) + "s)  ETA " + Duration(per_epoch * (cfg.epochs() - epoch - 1)));
    if (cfg.early_stopping_patience() > 0 && epoch + 1 - st.best_epoch() >= cfg.early_stopping_patience()) {
      req.log("early stopping: no val_acc improvement for " + std::to_string(cfg.early_stopping_patience()) +
              " epochs");
      stop_early = true;
    }
  }
  CS_RETURN_IF_ERROR(writer.Wait());
  EvalResult test;
  bool has_test = false;
  for (const auto& s : m.split()) has_test |= s.name() == "test";
  if (has_test) CS_RETURN_IF_ERROR(Evaluate(model, m, req, "test", device, &test));

  auto& f = *out->summary.mutable_fields();
  auto num = [&](const char* k, double v) { f[k].set_number_value(v); };
  const EpochMetrics last = st.history_size() ? st.history(st.history_size() - 1) : EpochMetrics();
  num("epochs", st.history_size());
  num("best_val_acc", st.best_val_acc());
  num("best_epoch", st.best_epoch());
  num("final_train_loss", last.train_loss());
  num("final_train_acc", last.train_acc());
  num("final_val_loss", last.val_loss());
  num("final_val_acc", last.val_acc());
  if (has_test) {
    num("test_loss", test.loss);
    num("test_acc", test.acc);
  }
  num("num_parameters", static_cast<double>(num_params));
  num("train_seconds", train_seconds_before + std::chrono::duration<double>(Clock::now() - attempt_start).count());
  f["model"].set_string_value(cfg.model());
  out->kind = TrainOutcome::Kind::kDone;
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

}  // namespace claimsweep

// The module's entry point, looked up by `trial` (src/trial/load_trainer.cc)
// with dlsym. Both sides are built together from the same headers.
extern "C" __attribute__((visibility("default"))) void claimsweep_run_training(const claimsweep::TrainRequest* req,
                                                                              claimsweep::TrainOutcome* out,
                                                                              claimsweep::Status* status) {
  *status = claimsweep::RunTraining(*req, out);
}
