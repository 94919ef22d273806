#include "core/spec.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <set>
#include <sstream>

#include "core/layout.h"
#include "core/points.h"
#include "core/slurm.h"
#include "core/spec_digest.h"
#include "core/template.h"
#include "core/train_config.h"

namespace claimsweep {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::TextFormat;

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  explicit CollectErrors(std::string path) : path_(std::move(path)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    out_ << path_ << ":" << line + 1 << ":" << column + 1 << ": " << message << "\n";
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    AddError(line, column, "warning: " + message);
  }
  std::string str() const { return out_.str(); }

 private:
  std::string path_;
  std::ostringstream out_;
};

// Where a field was written, for messages about values that parse but are wrong.
class Locator {
 public:
  Locator(std::string path, const TextFormat::ParseInfoTree* tree) : path_(std::move(path)), tree_(tree) {}

  // "path:line:col" of msg.field[index] found by walking `steps` from the root:
  // each step is (field name, index) of a nested message.
  std::string At(std::initializer_list<std::pair<const char*, int>> steps, const Message& root) const {
    const TextFormat::ParseInfoTree* t = tree_;
    const google::protobuf::Descriptor* d = root.GetDescriptor();
    std::string where = path_;
    int n = 0;
    const int total = static_cast<int>(steps.size());
    for (const auto& [name, index] : steps) {
      ++n;
      if (t == nullptr || d == nullptr) break;
      const FieldDescriptor* f = d->FindFieldByName(name);
      if (f == nullptr) break;
      auto loc = t->GetLocation(f, f->is_repeated() ? index : -1);
      if (loc.line >= 0) where = path_ + ":" + std::to_string(loc.line + 1) + ":" + std::to_string(loc.column + 1);
      if (n == total) break;
      t = t->GetTreeForNested(f, f->is_repeated() ? index : -1);
      d = f->message_type();
    }
    return where;
  }

 private:
  std::string path_;
  const TextFormat::ParseInfoTree* tree_;
};

bool IsIdentifier(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Every sweep parameter of a train task must name a TrainTask field, and each
// of its values must have that field's type.
template <typename Err>
void ValidateTrain(const SweepSpec& spec, const Locator& loc, Err err) {
  TrainTask base = spec.train();
  const std::string twhere = loc.At({{"train", 0}}, spec);
  for (int i = 0; i < spec.grid().param_size(); ++i) {
    const GridParam& p = spec.grid().param(i);
    std::vector<std::string> vals;
    if (!ExpandGridParam(p, &vals).ok()) continue;
    for (const auto& v : vals) {
      TrainTask t = base;
      Status s = SetTrainField(&t, p.name(), v);
      if (!s.ok()) {
        err(loc.At({{"grid", 0}, {"param", i}}, spec), s.message());
        break;
      }
      if (p.name() == "model" || p.name() == "depth") {
        ApplyTrainDefaults(&t);
        if (t.dataset().empty()) t.set_dataset("-");
        s = CheckTrainTask(t);
        if (!s.ok()) {
          err(loc.At({{"grid", 0}, {"param", i}}, spec), "value " + v + ": " + s.message());
          break;
        }
      }
    }
  }
  for (int i = 0; i < spec.random().param_size(); ++i) {
    const RandomParam& p = spec.random().param(i);
    std::vector<std::string> samples;
    switch (p.distribution_case()) {
      case RandomParam::kUniform: samples = {FormatDouble(p.uniform().low() + 0.5)}; break;
      case RandomParam::kLogUniform: samples = {FormatDouble(p.log_uniform().low() * 1.5)}; break;
      case RandomParam::kIntUniform:
        samples = {std::to_string(p.int_uniform().low()), std::to_string(p.int_uniform().high())};
        break;
      case RandomParam::kChoice: samples.assign(p.choice().values().begin(), p.choice().values().end()); break;
      default: break;
    }
    for (const auto& v : samples) {
      TrainTask t = base;
      Status s = SetTrainField(&t, p.name(), v);
      if (!s.ok()) {
        err(loc.At({{"random", 0}, {"param", i}}, spec), s.message());
        break;
      }
    }
  }
  TrainTask t = base;
  ApplyTrainDefaults(&t);
  // The point values may still change model/depth; check the rest here.
  bool model_swept = false;
  for (const auto& p : spec.grid().param()) model_swept |= p.name() == "model" || p.name() == "depth";
  for (const auto& p : spec.random().param()) model_swept |= p.name() == "model" || p.name() == "depth";
  if (model_swept && t.model().empty()) t.set_model("resnet18");
  if (model_swept && t.model() == "resnet_cifar") t.set_depth(20);
  Status s = CheckTrainTask(t);
  if (!s.ok()) err(twhere, s.message());
}

Status Validate(const SweepSpec& spec, const Locator& loc) {
  std::ostringstream errs;
  auto err = [&](const std::string& where, const std::string& what) { errs << where << ": " << what << "\n"; };

  if (spec.format_version() > kSpecFormatVersion) {
    err(loc.At({{"format_version", 0}}, spec),
        "format_version " + std::to_string(spec.format_version()) + " is newer than this claimsweep (knows " +
            std::to_string(kSpecFormatVersion) + "); use a newer claimsweep");
  }
  std::vector<std::string> names;
  std::set<std::string> seen;
  auto check_name = [&](const std::string& name, const std::string& where) {
    if (!IsIdentifier(name)) {
      err(where, "parameter name '" + name + "' must be an identifier ([A-Za-z_][A-Za-z0-9_]*)");
    } else if (!seen.insert(name).second) {
      err(where, "parameter '" + name + "' is defined twice");
    } else {
      for (const auto& b : BuiltinPlaceholders()) {
        if (name == b) err(where, "parameter name '" + name + "' is reserved (built-in placeholder)");
      }
    }
    names.push_back(name);
  };
  for (int i = 0; i < spec.grid().param_size(); ++i) {
    const GridParam& p = spec.grid().param(i);
    std::string where = loc.At({{"grid", 0}, {"param", i}}, spec);
    check_name(p.name(), where);
    if (p.has_range() && p.values_size() > 0) {
      err(where, "grid parameter '" + p.name() + "' has both values and range; keep one");
    } else if (!p.has_range() && p.values_size() == 0) {
      err(where, "grid parameter '" + p.name() + "' needs values: \"...\" or range { start stop step }");
    }
    std::vector<std::string> vals;
    Status s = ExpandGridParam(p, &vals);
    if (!s.ok()) err(where, "grid parameter '" + p.name() + "': " + s.message());
  }
  if (spec.has_random() && spec.random().param_size() > 0 && spec.random().samples() == 0) {
    err(loc.At({{"random", 0}}, spec), "random needs samples: N (draws per grid point), N >= 1");
  }
  for (int i = 0; i < spec.random().param_size(); ++i) {
    const RandomParam& p = spec.random().param(i);
    std::string where = loc.At({{"random", 0}, {"param", i}}, spec);
    check_name(p.name(), where);
    switch (p.distribution_case()) {
      case RandomParam::kUniform:
        if (!(p.uniform().low() < p.uniform().high())) err(where, "uniform needs low < high");
        break;
      case RandomParam::kLogUniform:
        if (!(p.log_uniform().low() > 0 && p.log_uniform().low() < p.log_uniform().high())) {
          err(where, "log_uniform needs 0 < low < high");
        }
        break;
      case RandomParam::kIntUniform:
        if (p.int_uniform().low() > p.int_uniform().high()) err(where, "int_uniform needs low <= high");
        break;
      case RandomParam::kChoice:
        if (p.choice().values_size() == 0) err(where, "choice needs at least one value");
        break;
      case RandomParam::DISTRIBUTION_NOT_SET:
        err(where, "random parameter '" + p.name() + "' needs a distribution: uniform, log_uniform, int_uniform or choice");
        break;
    }
  }

  std::set<std::string> known(names.begin(), names.end());
  for (const auto& b : BuiltinPlaceholders()) known.insert(b);
  auto check_text = [&](const std::string& text, const std::string& where, const std::string& what) {
    std::vector<std::string> used;
    Status s = CollectPlaceholders(text, &used);
    if (!s.ok()) {
      err(where, what + ": " + s.message());
      return;
    }
    for (const auto& u : used) {
      if (!known.count(u)) {
        err(where, what + ": placeholder {" + u + "} names no parameter; known: " + Join(names) +
                       (names.empty() ? "" : ", ") + Join(BuiltinPlaceholders()));
      }
    }
  };
  if (spec.task_case() == SweepSpec::TASK_NOT_SET) {
    err(loc.At({{"name", 0}}, spec), "the spec needs a task: command { argv: ... } or train { ... }");
  }
  if (spec.has_train()) ValidateTrain(spec, loc, err);
  if (spec.has_command()) {
    const CommandTask& c = spec.command();
    if (c.argv_size() == 0) err(loc.At({{"command", 0}}, spec), "command needs at least one argv");
    for (int i = 0; i < c.argv_size(); ++i) {
      check_text(c.argv(i), loc.At({{"command", 0}, {"argv", i}}, spec), "command.argv[" + std::to_string(i) + "]");
    }
    for (const auto& [k, v] : c.env()) {
      if (!IsIdentifier(k)) err(loc.At({{"command", 0}}, spec), "command.env key '" + k + "' is not a variable name");
      check_text(v, loc.At({{"command", 0}}, spec), "command.env[" + k + "]");
    }
  }
  const ClaimPolicy& cp = spec.claim();
  std::string cwhere = loc.At({{"claim", 0}}, spec);
  if (cp.lease_seconds() < 0 || cp.heartbeat_seconds() < 0) err(cwhere, "lease_seconds and heartbeat_seconds must be >= 0");
  double lease = cp.lease_seconds() > 0 ? cp.lease_seconds() : 300;
  double beat = cp.heartbeat_seconds() > 0 ? cp.heartbeat_seconds() : std::min(15.0, lease / 3);
  if (beat * 3 > lease + 1e-9) {
    err(cwhere, "heartbeat_seconds (" + FormatDouble(beat) + ") must be at most a third of lease_seconds (" +
                    FormatDouble(lease) + ") so that one late beat does not lose the lease");
  }
  if (cp.min_seconds_left() < 0) err(cwhere, "min_seconds_left must be >= 0");
  if (spec.has_resources()) {
    Status rs = ValidateResources(spec.resources());
    if (!rs.ok()) {
      std::istringstream lines(rs.message());
      for (std::string l; std::getline(lines, l);) err(loc.At({{"resources", 0}}, spec), l);
    }
  }
  std::string e = errs.str();
  if (!e.empty()) return Status::InvalidArgument(e);
  auto ps = PointSpace::Create(spec);
  if (!ps.ok()) return Status::InvalidArgument(loc.At({{"grid", 0}}, spec) + ": " + ps.status().message() + "\n");
  return Status::OK();
}

}  // namespace

Result<SweepSpec> ParseSpec(const std::string& text, const std::string& path) {
  SweepSpec spec;
  TextFormat::Parser parser;
  CollectErrors errors(path);
  parser.RecordErrorsTo(&errors);
  TextFormat::ParseInfoTree tree;
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(text, &spec)) return Status::InvalidArgument(errors.str());
  Status s = Validate(spec, Locator(path, &tree));
  if (!s.ok()) return s;
  return spec;
}

Result<SweepSpec> ReadSpecFile(Env* env, const std::string& path) {
  std::string text;
  Status s = env->ReadFile(path, &text);
  if (!s.ok()) return s;
  return ParseSpec(text, path);
}

void ApplyDefaults(SweepSpec* spec) {
  ClaimPolicy* cp = spec->mutable_claim();
  if (cp->lease_seconds() <= 0) cp->set_lease_seconds(300);
  if (cp->heartbeat_seconds() <= 0) cp->set_heartbeat_seconds(std::min(15.0, cp->lease_seconds() / 3));
  if (cp->max_attempts() == 0) cp->set_max_attempts(3);
  if (!cp->has_trials_per_job()) cp->set_trials_per_job(1);
}

std::string FreezeSpec(SweepSpec spec) {
  ApplyDefaults(&spec);
  spec.set_format_version(kSpecFormatVersion);
  std::string out;
  TextFormat::PrintToString(spec, &out);
  return "# Frozen by `sweep init`; do not edit (the sweep's points depend on it).\n" + out;
}

std::string TaskDir(const SweepSpec& spec, const SweepLayout& layout, uint64_t index) {
  if (spec.has_command() && spec.format_version() >= 2) return layout.work_dir(index);
  return layout.trial_dir(index);
}

Result<SweepSpec> ReadFrozenSpec(Env* env, const std::string& sweep_dir) {
  std::string path = sweep_dir + "/" + kSpecFileName;
  std::string text;
  Status s = env->ReadFile(path, &text);
  if (s.IsNotFound()) {
    return Status::NotFound(sweep_dir + " is not a sweep directory (no " + kSpecFileName + "); create one with `sweep init SPEC DIR`");
  }
  if (!s.ok()) return s;
  // The digest first: an edited spec is refused as edited, even when the
  // edit also broke it (or changed its format_version).
  const SweepLayout layout(sweep_dir);
  bool has_digest = false;
  CS_RETURN_IF_ERROR(CheckSpecDigest(env, layout, text, &has_digest));
  auto spec = ParseSpec(text, path);
  if (!spec.ok()) return spec;
  if (spec->format_version() == 0) {
    return Status::Corruption(path + " has no format_version: it was not written by `sweep init`");
  }
  if (spec->format_version() >= 2 && !has_digest) {
    return Status::Corruption(layout.spec_digest_path() + " is missing: `sweep init` records the SHA-256 of " + path +
                              " there (format_version " + std::to_string(spec->format_version()) +
                              "), and without it the spec, on which the sweep's points depend, cannot be checked; "
                              "restore it, or start a new sweep (growing a running sweep will be `sweep extend`)");
  }
  ApplyDefaults(&spec.value());
  return spec;
}

}  // namespace claimsweep
