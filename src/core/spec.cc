#include "core/spec.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <cmath>
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

// Where a field was written, for messages about values that parse but are wrong.
class Locator {
 public:
  Locator(std::string path, const TextFormat::ParseInfoTree* tree)
      : path_(std::move(path)), tree_(tree) {}

  // "path:line:col" of msg.field[index] found by walking `steps` from the root:
  // each step is (field name, index) of a nested message.
  std::string At(std::initializer_list<std::pair<const char*, int>> steps,
                 const Message& root) const {
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
      if (loc.line >= 0)
        where = path_ + ":" + std::to_string(loc.line + 1) + ":" + std::to_string(loc.column + 1);
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
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Combinations of representative values checked one by one; past this, each
// parameter's values are checked on their own (documented in the README).
constexpr uint64_t kMaxCheckedCombinations = 1000000;

// The values a parameter can take that decide whether a train config is
// valid: every grid value and choice, and the ends of a random range (every
// check is an interval test, so a draw between two valid ends is valid).
std::vector<std::string> RepresentativeValues(const RandomParam& p) {
  switch (p.distribution_case()) {
    case RandomParam::kUniform:
      return {FormatDouble(p.uniform().low()), FormatDouble(p.uniform().high())};
    case RandomParam::kLogUniform:
      return {FormatDouble(p.log_uniform().low()), FormatDouble(p.log_uniform().high())};
    case RandomParam::kIntUniform:
      return {std::to_string(p.int_uniform().low()), std::to_string(p.int_uniform().high())};
    case RandomParam::kChoice: return {p.choice().values().begin(), p.choice().values().end()};
    default: return {};
  }
}

// Every point's train task is checked as the trainer will build it: each
// value must have its field's type, and every combination of the
// parameters' representative values must give a valid config.
template <typename Err>
void ValidateTrain(const SweepSpec& spec, const Locator& loc, Err err) {
  struct Param {
    std::string name, where;
    std::vector<std::string> values;
  };
  std::vector<Param> params;
  bool typed = true;
  auto add = [&](const std::string& name, const std::string& where,
                 std::vector<std::string> values) {
    for (const auto& v : values) {
      TrainTask t;
      Status s = SetTrainField(&t, name, v);
      if (!s.ok()) {
        err(where, s.message());
        typed = false;
        return;
      }
    }
    if (!values.empty()) params.push_back({name, where, std::move(values)});
  };
  for (int i = 0; i < spec.grid().param_size(); ++i) {
    std::vector<std::string> vals;
    if (!ExpandGridParam(spec.grid().param(i), &vals).ok()) continue;  // reported by Validate
    add(spec.grid().param(i).name(), loc.At({{"grid", 0}, {"param", i}}, spec), std::move(vals));
  }
  for (int i = 0; i < spec.random().param_size(); ++i) {
    add(spec.random().param(i).name(), loc.At({{"random", 0}, {"param", i}}, spec),
        RepresentativeValues(spec.random().param(i)));
  }
  if (!typed) return;
  const std::string twhere = loc.At({{"train", 0}}, spec);
  // Blame the parameter whose field the message names, else the train block.
  auto where_for = [&](const std::string& message) {
    for (const Param& p : params) {
      if (message.rfind("train." + p.name + " ", 0) == 0) return p.where;
    }
    return twhere;
  };
  TrainConfigChecker checker(spec.train());
  long double combos = 1;
  for (const Param& p : params) combos *= static_cast<long double>(p.values.size());
  std::set<std::string> reported;
  auto check = [&](const std::vector<size_t>& digit) {
    std::vector<std::pair<std::string, std::string>> values;
    for (size_t k = 0; k < params.size(); ++k)
      values.emplace_back(params[k].name, params[k].values[digit[k]]);
    auto t = checker.For(values);
    if (t.ok() || !reported.insert(t.status().message()).second) return;
    std::string with;
    for (const auto& [k, v] : values) with += (with.empty() ? "" : ", ") + k + "=" + v;
    err(where_for(t.status().message()),
        (with.empty() ? "" : "points with " + with + ": ") + t.status().message());
  };
  std::vector<size_t> digit(params.size(), 0);
  if (combos <= static_cast<long double>(kMaxCheckedCombinations)) {
    for (;;) {
      check(digit);
      if (reported.size() >= 5) return;
      size_t k = params.size();
      while (k > 0 && ++digit[k - 1] == params[k - 1].values.size()) digit[--k] = 0;
      if (k == 0) break;
    }
  } else {
    check(digit);
    for (size_t k = 0; k < params.size() && reported.size() < 5; ++k) {
      for (size_t v = 1; v < params[k].values.size(); ++v) {
        digit[k] = v;
        check(digit);
      }
      digit[k] = 0;
    }
  }
}

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
  std::vector<std::string> names;
  std::set<std::string> seen;
  auto check_name = [&](const std::string& name, const std::string& where) {
    if (!IsIdentifier(name)) {
      err(where, "parameter name '" + name + "' must be an identifier ([A-Za-z_][A-Za-z0-9_]*)");
    } else if (!seen.insert(name).second) {
      err(where, "parameter '" + name + "' is defined twice");
    } else {
      for (const auto& b : BuiltinPlaceholders()) {
        if (name == b)
          err(where, "parameter name '" + name + "' is reserved (built-in placeholder)");
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
      err(where,
          "grid parameter '" + p.name() + "' needs values: \"...\" or range { start stop step }");
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
        if (!Finite(p.uniform().low()) || !Finite(p.uniform().high()) ||
            !Finite(p.uniform().high() - p.uniform().low())) {
          err(where, "uniform needs finite low and high (and a finite high - low)");
        } else if (!(p.uniform().low() < p.uniform().high())) {
          err(where, "uniform needs low < high");
        }
        break;
      case RandomParam::kLogUniform:
        if (!Finite(p.log_uniform().low()) || !Finite(p.log_uniform().high())) {
          err(where, "log_uniform needs finite low and high");
        } else if (!(p.log_uniform().low() > 0 && p.log_uniform().low() < p.log_uniform().high())) {
          err(where, "log_uniform needs 0 < low < high");
        }
        break;
      case RandomParam::kIntUniform:
        if (p.int_uniform().low() > p.int_uniform().high())
          err(where, "int_uniform needs low <= high");
        break;
      case RandomParam::kChoice:
        if (p.choice().values_size() == 0) err(where, "choice needs at least one value");
        break;
      case RandomParam::DISTRIBUTION_NOT_SET:
        err(where, "random parameter '" + p.name() +
                       "' needs a distribution: uniform, log_uniform, int_uniform or choice");
        break;
    }
  }

  std::set<std::string> known(names.begin(), names.end());
  for (const auto& b : BuiltinPlaceholders()) known.insert(b);
  auto check_text = [&](const std::string& text, const std::string& where,
                        const std::string& what) {
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
    err(loc.At({{"name", 0}}, spec),
        "the spec needs a task: command { argv: ... } or train { ... }");
  }
  if (spec.has_train() && check_every_point) ValidateTrain(spec, loc, err);
  if (spec.has_command()) {
    const CommandTask& c = spec.command();
    if (c.argv_size() == 0) err(loc.At({{"command", 0}}, spec), "command needs at least one argv");
    for (int i = 0; i < c.argv_size(); ++i) {
      check_text(c.argv(i), loc.At({{"command", 0}, {"argv", i}}, spec),
                 "command.argv[" + std::to_string(i) + "]");
    }
    for (const auto& [k, v] : c.env()) {
      if (!IsIdentifier(k))
        err(loc.At({{"command", 0}}, spec), "command.env key '" + k + "' is not a variable name");
      check_text(v, loc.At({{"command", 0}}, spec), "command.env[" + k + "]");
    }
  }
  ValidateClaim(spec, loc, err);
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
  Status s = Validate(spec, Locator(path, &tree), check_every_point);
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
}

std::string FreezeSpec(SweepSpec spec) {
  ApplyDefaults(&spec);
  spec.set_format_version(kSpecFormatVersion);
  std::string out;
  TextFormat::PrintToString(spec, &out);
  return "# Frozen by `sweep init`; do not edit (the sweep's points depend on it).\n" + out;
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
