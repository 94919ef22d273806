#include "core/train_config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/text_format.h>

#include <cmath>

#include "core/catalogue.h"
#include "core/json.h"

namespace claimsweep {
namespace {

using google::protobuf::FieldDescriptor;

std::string Num(double v) { return FormatDouble(v); }

}  // namespace

const std::vector<TrainDefault>& TrainDefaultsTable() {
  // The one home of the train task's defaults. SGD's are the CIFAR ResNet
  // recipe (He et al. 2016) the models here are usually trained with, not
  // torch.optim.SGD's (lr required, momentum 0, weight decay 0); Adam's and
  // AdamW's are PyTorch's own.
  static const std::vector<TrainDefault> t = {
      {"optimizer", "sgd", "", "", "sgd | adam | adamw"},
      {"lr", "0.1", "0.001", "0.001", "must be > 0"},
      {"momentum", "0.9", "", "", "sgd only; Adam's betas are PyTorch's (0.9, 0.999)"},
      {"nesterov", "false", "", "", "sgd only; needs momentum > 0"},
      {"weight_decay", "0.0005", "0", "0.01", ">= 0; AdamW's is decoupled"},
      {"epochs", "10", "10", "10", ">= 1"},
      {"batch_size", "128", "128", "128", ">= 1"},
      {"schedule", "cosine", "cosine", "cosine", "constant | step | cosine"},
      {"warmup_epochs", "0", "0", "0", ">= 0, fractions allowed"},
      {"step_size", "30", "30", "30", "schedule step only, >= 1"},
      {"gamma", "0.1", "0.1", "0.1", "schedule step only, > 0"},
      {"depth", "20", "20", "20", "resnet_cifar only, 6n+2"},
      {"label_smoothing", "0", "0", "0", "in [0, 1)"},
      {"early_stopping_patience", "0", "0", "0", "epochs; 0 = off"},
      {"seed", "0", "0", "0", ""},
      {"no_augment", "false", "false", "false", ""},
      {"loader_threads", "2", "2", "2", "1 to 256"},
      {"checkpoint_minutes", "0", "0", "0", "0 = at epoch ends only"},
  };
  return t;
}

std::vector<std::string> TrainFieldNames() {
  std::vector<std::string> names;
  const auto* d = TrainTask::descriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->name() != "dataset") names.push_back(d->field(i)->name());
  }
  return names;
}

Status SetTrainField(TrainTask* task, const std::string& field, const std::string& value) {
  const FieldDescriptor* f = TrainTask::descriptor()->FindFieldByName(field);
  if (f == nullptr || field == "dataset") {
    std::string valid;
    for (const auto& n : TrainFieldNames()) valid += (valid.empty() ? "" : ", ") + n;
    return Status::InvalidArgument("parameter '" + field +
                                   "' is not a field of the train task; valid fields: " + valid);
  }
  std::string text = field + ": ";
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    std::string quoted;
    for (char c : value)
      quoted += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
    text += "\"" + quoted + "\"";
  } else {
    text += value;
  }
  TrainTask one;
  google::protobuf::TextFormat::Parser parser;
  struct Quiet : google::protobuf::io::ErrorCollector {
    void AddError(int, int, const std::string&) override {}
  } quiet;
  parser.RecordErrorsTo(&quiet);
  if (value.empty() || !parser.ParseFromString(text, &one)) {
    return Status::InvalidArgument("value '" + value + "' of parameter '" + field +
                                   "' is not a valid " + f->cpp_type_name() + " for train." +
                                   field);
  }
  // Every field has presence: MergeFrom copies it even when it is 0 or false.
  task->MergeFrom(one);
  return Status::OK();
}

void ApplyTrainDefaults(TrainTask* t) {
  if (!t->has_optimizer()) t->set_optimizer("sgd");
  const std::string& opt = t->optimizer();
  const int col = opt == "adam" ? 1 : opt == "adamw" ? 2 : opt == "sgd" ? 0 : -1;
  if (col < 0) return;  // CheckTrainTask names the bad optimizer
  if (!t->has_schedule()) t->set_schedule("cosine");
  const auto* d = TrainTask::descriptor();
  for (const TrainDefault& row : TrainDefaultsTable()) {
    const char* v = col == 0 ? row.sgd : col == 1 ? row.adam : row.adamw;
    const std::string field = row.field;
    if (*v == 0) continue;  // does not apply to this optimizer
    if ((field == "step_size" || field == "gamma") && t->schedule() != "step") continue;
    if (field == "depth" && !ModelTakesDepth(t->model())) continue;
    if (t->GetReflection()->HasField(*t, d->FindFieldByName(field))) continue;
    SetTrainField(t, field, v).IgnoreError();  // the table's values parse by construction
  }
}

Status CheckTrainTask(const TrainTask& t) {
  auto bad = [](const std::string& m) { return Status::InvalidArgument(m); };
  if (!t.has_model() || !IsModel(t.model())) {
    return bad("train.model '" + t.model() + "' is not one of: " + ModelNamesList());
  }
  if (ModelTakesDepth(t.model()) &&
      (t.depth() < 8 || (t.depth() - 2) % 6 != 0 || t.depth() > 1202)) {
    return bad("train.depth " + std::to_string(t.depth()) +
               " is not 6n+2 (20, 32, 44, 56, 110, ... up to 1202) as resnet_cifar needs");
  }
  if (!ModelTakesDepth(t.model()) && t.has_depth()) {
    return bad("train.depth applies to resnet_cifar only (this point's model is " + t.model() +
               "); remove it for this model");
  }
  if (!t.has_dataset() || t.dataset().empty()) {
    return bad("train.dataset is required (a directory made by `sweep data`)");
  }
  if (!IsOptimizer(t.optimizer())) {
    return bad("train.optimizer '" + t.optimizer() +
               "' is not one of: " + JoinNames(OptimizerNames()));
  }
  if (!IsSchedule(t.schedule())) {
    return bad("train.schedule '" + t.schedule() +
               "' is not one of: " + JoinNames(ScheduleNames()));
  }
  if (t.epochs() < 1 || t.epochs() > kMaxTrainEpochs)
    return bad("train.epochs " + std::to_string(t.epochs()) + " must be in [1, " +
               std::to_string(kMaxTrainEpochs) + "]");
  if (t.batch_size() < 1 || t.batch_size() > (1 << 20)) {
    return bad("train.batch_size " + std::to_string(t.batch_size()) + " must be in [1, 1048576]");
  }
  if (!std::isfinite(t.lr()) || t.lr() <= 0)
    return bad("train.lr " + Num(t.lr()) + " must be a finite number > 0");
  if (t.optimizer() != "sgd" && (t.has_momentum() || t.has_nesterov())) {
    return bad(std::string("train.") + (t.has_momentum() ? "momentum" : "nesterov") +
               " applies to sgd only (this point's optimizer is " + t.optimizer() +
               ", whose betas are PyTorch's 0.9, 0.999); remove it for this optimizer");
  }
  if (!std::isfinite(t.momentum()) || t.momentum() < 0 || t.momentum() >= 1) {
    return bad("train.momentum " + Num(t.momentum()) + " must be in [0, 1)");
  }
  if (t.nesterov() && t.momentum() <= 0) return bad("train.nesterov needs momentum > 0");
  if (!std::isfinite(t.weight_decay()) || t.weight_decay() < 0) {
    return bad("train.weight_decay " + Num(t.weight_decay()) + " must be a finite number >= 0");
  }
  if (t.schedule() != "step" && (t.has_step_size() || t.has_gamma())) {
    return bad(std::string("train.") + (t.has_step_size() ? "step_size" : "gamma") +
               " applies to schedule \"step\" only (this point's schedule is " + t.schedule() +
               ")");
  }
  if (t.schedule() == "step" && t.step_size() < 1) return bad("train.step_size must be >= 1");
  if (t.schedule() == "step" && (!std::isfinite(t.gamma()) || t.gamma() <= 0)) {
    return bad("train.gamma " + Num(t.gamma()) + " must be a finite number > 0");
  }
  if (!std::isfinite(t.warmup_epochs()) || t.warmup_epochs() < 0) {
    return bad("train.warmup_epochs " + Num(t.warmup_epochs()) + " must be a finite number >= 0");
  }
  if (!std::isfinite(t.label_smoothing()) || t.label_smoothing() < 0 || t.label_smoothing() >= 1) {
    return bad("train.label_smoothing " + Num(t.label_smoothing()) + " must be in [0, 1)");
  }
  if (t.early_stopping_patience() < 0)
    return bad("train.early_stopping_patience must be >= 0 (0 = off)");
  if (t.loader_threads() < 1 || t.loader_threads() > 256) {
    return bad("train.loader_threads " + std::to_string(t.loader_threads()) +
               " must be in [1, 256]");
  }
  if (!std::isfinite(t.checkpoint_minutes()) || t.checkpoint_minutes() < 0) {
    return bad("train.checkpoint_minutes " + Num(t.checkpoint_minutes()) +
               " must be a finite number >= 0");
  }
  if (t.keep_checkpoints_every() < 0) {
    return bad("train.keep_checkpoints_every " + std::to_string(t.keep_checkpoints_every()) +
               " must be >= 0 (0 = off; N keeps every N-th epoch's checkpoint)");
  }
  return Status::OK();
}

Result<TrainTask> TrainTaskForPoint(const TrainTask& base, const Point& point) {
  TrainTask t = base;
  for (const auto& [k, v] : point.values) CS_RETURN_IF_ERROR(SetTrainField(&t, k, v));
  ApplyTrainDefaults(&t);
  CS_RETURN_IF_ERROR(CheckTrainTask(t));
  return t;
}

std::string TrainConfigJson(const TrainTask& t) {
  google::protobuf::Struct s;
  const auto* d = TrainTask::descriptor();
  const auto* r = TrainTask::GetReflection();
  auto& f = *s.mutable_fields();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* fd = d->field(i);
    if (!r->HasField(t, fd)) continue;
    auto& v = f[fd->name()];
    switch (fd->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: v.set_number_value(r->GetInt32(t, fd)); break;
      case FieldDescriptor::CPPTYPE_INT64:
        v.set_number_value(static_cast<double>(r->GetInt64(t, fd)));
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE: v.set_number_value(r->GetDouble(t, fd)); break;
      case FieldDescriptor::CPPTYPE_BOOL: v.set_bool_value(r->GetBool(t, fd)); break;
      case FieldDescriptor::CPPTYPE_STRING: v.set_string_value(r->GetString(t, fd)); break;
      default: break;
    }
  }
  return ToJson(s, /*pretty=*/false);
}

Result<TrainTask> TrainConfigChecker::For(
    const std::vector<std::pair<std::string, std::string>>& values) {
  TrainTask t = base_;
  for (const auto& kv : values) {
    auto it = parsed_.find(kv);
    if (it == parsed_.end()) {
      TrainTask one;
      Status s = SetTrainField(&one, kv.first, kv.second);
      it = parsed_.emplace(kv, s.ok() ? Result<TrainTask>(std::move(one)) : Result<TrainTask>(s))
               .first;
    }
    if (!it->second.ok()) return it->second.status();
    t.MergeFrom(*it->second);
  }
  ApplyTrainDefaults(&t);
  CS_RETURN_IF_ERROR(CheckTrainTask(t));
  return t;
}

}  // namespace claimsweep
