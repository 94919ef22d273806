#include "core/spec.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <cmath>
#include <sstream>

#include "core/layout.h"
#include "core/points.h"
#include "core/slurm.h"
#include "core/spec_digest.h"
#include "core/spec_early_stopping.h"
#include "core/spec_locator.h"
#include "core/spec_params.h"
#include "core/spec_stages.h"

namespace claimsweep {
namespace {

using google::protobuf::TextFormat;

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  explicit CollectErrors(std::string path) : path_(std::move(path)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    out_ << path_ << ":" << line + 1 << ":" << column + 1 << ": " << message << "\n";
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
    AddError(line, column, "warning: " + message);
  }
  std::string str() const { return out_.str(); }

 private:
  std::string path_;
  std::ostringstream out_;
};

bool Finite(double v) { return std::isfinite(v); }

// Claim settings as `trial` will use them (after defaults).
template <typename Err>
void ValidateClaim(const SweepSpec& spec, const Locator& loc, Err err) {
  const ClaimPolicy& cp = spec.claim();
  auto at = [&](const char* field) { return loc.At({{"claim", 0}, {field, 0}}, spec); };
  if (cp.has_lease_seconds() &&
      (!Finite(cp.lease_seconds()) || cp.lease_seconds() <= 0 || cp.lease_seconds() > 30 * 86400)) {
    err(at("lease_seconds"),
        "lease_seconds " + FormatDouble(cp.lease_seconds()) +
            " must be a finite number of seconds in (0, 2592000] (30 days); default 300");
  }
  if (cp.has_heartbeat_seconds() &&
      (!Finite(cp.heartbeat_seconds()) || cp.heartbeat_seconds() < 0.05)) {
    err(at("heartbeat_seconds"),
        "heartbeat_seconds " + FormatDouble(cp.heartbeat_seconds()) +
            " must be a finite number of seconds >= 0.05; default min(15, lease/3)");
  }
  const double lease = cp.has_lease_seconds() ? cp.lease_seconds() : 300;
  const double beat =
      cp.has_heartbeat_seconds() ? cp.heartbeat_seconds() : std::min(15.0, lease / 3);
  if (Finite(lease) && Finite(beat) && beat * 3 > lease + 1e-9) {
    err(at(cp.has_heartbeat_seconds() ? "heartbeat_seconds" : "lease_seconds"),
        "heartbeat_seconds (" + FormatDouble(beat) +
            ") must be at most a third of lease_seconds (" + FormatDouble(lease) +
            ") so that one late beat does not lose the lease");
  }
  if (cp.has_max_attempts() && (cp.max_attempts() < 1 || cp.max_attempts() > 10000)) {
    err(at("max_attempts"),
        "max_attempts " + std::to_string(cp.max_attempts()) +
            " must be in [1, 10000] (a trial needs at least one attempt; default 3)");
  }
  if (!Finite(cp.min_seconds_left()) || cp.min_seconds_left() < 0 || cp.min_seconds_left() > 1e8) {
    err(at("min_seconds_left"),
        "min_seconds_left " + FormatDouble(cp.min_seconds_left()) +
            " must be a finite number of seconds >= 0 (0: learned from the first trial)");
  }
}

Status Validate(const SweepSpec& spec, const Locator& loc, bool check_every_point) {
  std::ostringstream errs;
  auto err = [&](const std::string& where, const std::string& what) {
    errs << where << ": " << what << "\n";
  };

  if (spec.format_version() > kSpecFormatVersion) {
    err(loc.At({{"format_version", 0}}, spec),
        "format_version " + std::to_string(spec.format_version()) +
            " is newer than this claimsweep (knows " + std::to_string(kSpecFormatVersion) +
            "); use a newer claimsweep");
  }
  const std::vector<std::string> names = ValidateParams(spec, loc, err);
  if (spec.task_case() == SweepSpec::TASK_NOT_SET) {
    err(loc.At({{"name", 0}}, spec),
        "the spec needs a task: command { argv: ... } or train { ... }");
  }
  if (spec.has_train()) ValidateTrainCoverage(spec, loc, names, err);
  if (spec.has_train() && check_every_point) ValidateTrain(spec, loc, err);
  if (spec.has_command()) ValidateCommand(spec, loc, names, err);
  ValidateClaim(spec, loc, err);
  ValidateStages(spec, loc, names, err);
  if (spec.stage_size() > 0 && spec.format_version() != 0 &&
      spec.format_version() < kStagesFormatVersion) {
    err(loc.At({{"format_version", 0}}, spec),
        "format_version " + std::to_string(spec.format_version()) + " has no stages (they need " +
            std::to_string(kStagesFormatVersion) + "); this file was not frozen by `sweep init`");
  }
  ValidateEarlyStopping(spec, loc, names, err);
  if (spec.has_early_stopping() && spec.format_version() != 0 &&
      spec.format_version() < kEarlyStoppingFormatVersion) {
    err(loc.At({{"format_version", 0}}, spec),
        "format_version " + std::to_string(spec.format_version()) +
            " has no early_stopping (it needs " + std::to_string(kEarlyStoppingFormatVersion) +
            "); this file was not frozen by `sweep init`");
  }
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
  if (!ps.ok())
    return Status::InvalidArgument(loc.At({{"grid", 0}}, spec) + ": " + ps.status().message() +
                                   "\n");
  return Status::OK();
}

}  // namespace

Result<SweepSpec> ParseSpec(const std::string& text, const std::string& path,
                            bool check_every_point) {
  SweepSpec spec;
  TextFormat::Parser parser;
  CollectErrors errors(path);
  parser.RecordErrorsTo(&errors);
  TextFormat::ParseInfoTree tree;
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(text, &spec)) return Status::InvalidArgument(errors.str());
  Status s = Validate(spec, Locator(path, &tree, &text), check_every_point);
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
  if (!cp->has_trials_per_job()) cp->set_trials_per_job(1);
  if (!cp->has_lease_seconds()) cp->set_lease_seconds(300);
  if (!cp->has_heartbeat_seconds())
    cp->set_heartbeat_seconds(std::min(15.0, cp->lease_seconds() / 3));
  if (!cp->has_max_attempts()) cp->set_max_attempts(3);
  // With early stopping a train task's budget is max_epochs (validation
  // refuses any other train.epochs): the trainer's schedule spans it.
  if (spec->has_train() && spec->early_stopping().has_asha())
    spec->mutable_train()->set_epochs(spec->early_stopping().asha().max_epochs());
}

std::string FreezeSpec(SweepSpec spec) {
  ApplyDefaults(&spec);
  spec.set_format_version(FrozenFormatVersion(spec));
  std::string out;
  TextFormat::PrintToString(spec, &out);
  return "# Frozen by `sweep init`; do not edit (the sweep's points depend on it).\n" + out;
}

uint32_t FrozenFormatVersion(const SweepSpec& spec) {
  if (spec.stage_size() > 0) return kStagesFormatVersion;
  return spec.has_early_stopping() ? kEarlyStoppingFormatVersion : 3;
}

namespace {
bool InWorkDir(const SweepSpec& spec) { return spec.has_command() && spec.format_version() >= 2; }
}  // namespace

std::string TaskDir(const SweepSpec& spec, const SweepLayout& layout, uint64_t index) {
  return layout.task_dir(index, InWorkDir(spec));
}

std::string MetricsCsvPath(const SweepSpec& spec, const SweepLayout& layout, uint64_t index) {
  return layout.metrics_csv_path(index, InWorkDir(spec));
}

Result<SweepSpec> ReadFrozenSpec(Env* env, const std::string& sweep_dir, std::string* text_out) {
  std::string path = SweepLayout(sweep_dir).spec_path();
  std::string text;
  Status s = env->ReadFile(path, &text);
  if (s.IsNotFound()) {
    return Status::NotFound(sweep_dir + " is not a sweep directory (no " + kSpecFileName +
                            "); create one with `sweep init SPEC DIR`");
  }
  if (!s.ok()) return s;
  // The digest first: an edited spec is refused as edited, even when the
  // edit also broke it (or changed its format_version).
  const SweepLayout layout(sweep_dir);
  bool has_digest = false;
  CS_RETURN_IF_ERROR(CheckSpecDigest(env, layout, text, &has_digest));
  auto spec = ParseSpec(text, path, /*check_every_point=*/false);
  if (!spec.ok()) return spec;
  if (spec->format_version() == 0) {
    return Status::Corruption(path + " has no format_version: it was not written by `sweep init`");
  }
  if (spec->format_version() >= 2 && !has_digest) {
    return Status::Corruption(
        layout.spec_digest_path() + " is missing: `sweep init` records the SHA-256 of " + path +
        " there (format_version " + std::to_string(spec->format_version()) +
        "), and without it the spec, on which the sweep's points depend, cannot be checked; "
        "restore it, or start a new sweep (a running sweep grows with `sweep extend`)");
  }
  ApplyDefaults(&spec.value());
  if (text_out != nullptr) *text_out = std::move(text);
  return spec;
}

}  // namespace claimsweep
