#include "core/train_config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <set>

namespace claimsweep {
namespace {

using google::protobuf::FieldDescriptor;

const std::set<std::string>& Models() {
  static const std::set<std::string> m = {"squeezenet1_0", "squeezenet1_1", "resnet_cifar",
                                          "resnet18",      "resnet34",      "resnet50"};
  return m;
}

std::string JoinSet(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
  return out;
}

}  // namespace

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
    return Status::InvalidArgument("parameter '" + field + "' is not a field of the train task; valid fields: " + valid);
  }
  std::string text = field + ": ";
  if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
    std::string quoted;
    for (char c : value) quoted += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
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
    return Status::InvalidArgument("value '" + value + "' of parameter '" + field + "' is not a valid " +
                                   f->cpp_type_name() + " for train." + field);
  }
  task->MergeFrom(one);
  // MergeFrom skips proto3 scalars equal to their default (e.g. 0, false):
  // set those explicitly so an override to zero wins.
  const auto* r = TrainTask::GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: r->SetInt32(task, f, r->GetInt32(one, f)); break;
    case FieldDescriptor::CPPTYPE_INT64: r->SetInt64(task, f, r->GetInt64(one, f)); break;
    case FieldDescriptor::CPPTYPE_DOUBLE: r->SetDouble(task, f, r->GetDouble(one, f)); break;
    case FieldDescriptor::CPPTYPE_BOOL: r->SetBool(task, f, r->GetBool(one, f)); break;
    case FieldDescriptor::CPPTYPE_STRING: r->SetString(task, f, r->GetString(one, f)); break;
    default: break;
  }
  return Status::OK();
}

void ApplyTrainDefaults(TrainTask* t) {
  if (t->depth() == 0) t->set_depth(20);
  if (t->epochs() == 0) t->set_epochs(10);
  if (t->batch_size() == 0) t->set_batch_size(128);
  if (t->optimizer().empty()) t->set_optimizer("sgd");
  if (t->lr() == 0) t->set_lr(0.1);
  if (t->optimizer() == "sgd" && t->momentum() == 0) t->set_momentum(0.9);
  if (t->weight_decay() == 0) t->set_weight_decay(5e-4);
  if (t->schedule().empty()) t->set_schedule("cosine");
  if (t->step_size() == 0) t->set_step_size(30);
  if (t->gamma() == 0) t->set_gamma(0.1);
  if (t->loader_threads() == 0) t->set_loader_threads(2);
}

Status CheckTrainTask(const TrainTask& t) {
  if (!Models().count(t.model())) {
    return Status::InvalidArgument("train.model '" + t.model() + "' is not one of: " + JoinSet(Models()));
  }
  if (t.model() == "resnet_cifar" && (t.depth() < 8 || (t.depth() - 2) % 6 != 0)) {
    return Status::InvalidArgument("train.depth " + std::to_string(t.depth()) +
                                   " is not 6n+2 (20, 32, 44, 56, 110, ...) as resnet_cifar needs");
  }
  if (t.dataset().empty()) return Status::InvalidArgument("train.dataset is required (a directory made by `sweep data`)");
  if (t.epochs() < 1 || t.batch_size() < 1) return Status::InvalidArgument("train.epochs and train.batch_size must be >= 1");
  static const std::set<std::string> opts = {"sgd", "adam", "adamw"}, scheds = {"constant", "step", "cosine"};
  if (!opts.count(t.optimizer())) return Status::InvalidArgument("train.optimizer must be one of: " + JoinSet(opts));
  if (!scheds.count(t.schedule())) return Status::InvalidArgument("train.schedule must be one of: " + JoinSet(scheds));
  if (t.lr() <= 0) return Status::InvalidArgument("train.lr must be > 0");
  if (t.label_smoothing() < 0 || t.label_smoothing() >= 1) {
    return Status::InvalidArgument("train.label_smoothing must be in [0, 1)");
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

}  // namespace claimsweep
