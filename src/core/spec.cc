#include "core/spec.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "core/catalogue.h"
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
  using Steps = std::initializer_list<std::pair<const char*, int>>;
  Locator(std::string path, const TextFormat::ParseInfoTree* tree, const std::string* text)
      : path_(std::move(path)), tree_(tree), text_(text) {}

  // "path:line:col" of msg.field[index] found by walking `steps` from the root:
  // each step is (field name, index) of a nested message.
  std::string At(Steps steps, const Message& root) const {
    TextFormat::ParseLocationRange r;
    return Where(Range(steps, root, &r) ? r.start : TextFormat::ParseLocation());
  }

  // Where `needle` is first written inside the field's text (e.g. a
  // placeholder inside an argv string), else where the field is.
  std::string FindIn(Steps steps, const Message& root, const std::string& needle) const {
    TextFormat::ParseLocationRange r;
    if (!Range(steps, root, &r)) return path_;
    const size_t from = Offset(r.start), to = Offset(r.end);
    const size_t at = text_ == nullptr ? std::string::npos : text_->find(needle, from);
    if (at == std::string::npos || at >= to) return Where(r.start);
    return Where(LocationOf(at));
  }

  // Whether the field's text holds `needle`.
  bool Holds(Steps steps, const Message& root, const std::string& needle) const {
    TextFormat::ParseLocationRange r;
    if (text_ == nullptr || !Range(steps, root, &r)) return false;
    const size_t at = text_->find(needle, Offset(r.start));
    return at != std::string::npos && at < Offset(r.end);
  }

 private:
  // The text range of the field the steps name (false: not written).
  bool Range(Steps steps, const Message& root, TextFormat::ParseLocationRange* out) const {
    const TextFormat::ParseInfoTree* t = tree_;
    const google::protobuf::Descriptor* d = root.GetDescriptor();
    bool found = false;
    int n = 0;
    const int total = static_cast<int>(steps.size());
    for (const auto& [name, index] : steps) {
      ++n;
      if (t == nullptr || d == nullptr) break;
      const FieldDescriptor* f = d->FindFieldByName(name);
      if (f == nullptr) break;
      auto range = t->GetLocationRange(f, f->is_repeated() ? index : -1);
      if (range.start.line >= 0) {
        *out = range;
        found = true;
      }
      if (n == total) break;
      t = t->GetTreeForNested(f, f->is_repeated() ? index : -1);
      d = f->message_type();
    }
    return found;
  }
  std::string Where(TextFormat::ParseLocation l) const {
    if (l.line < 0) return path_;
    return path_ + ":" + std::to_string(l.line + 1) + ":" + std::to_string(l.column + 1);
  }
  // The tokenizer's columns: a tab advances to the next multiple of 8.
  size_t Offset(TextFormat::ParseLocation l) const {
    if (text_ == nullptr || l.line < 0) return 0;
    size_t at = 0;
    for (int line = 0; line < l.line && at < text_->size(); ++line) {
      at = text_->find('\n', at);
      at = at == std::string::npos ? text_->size() : at + 1;
    }
    for (int col = 0; col < l.column && at < text_->size() && (*text_)[at] != '\n'; ++at)
      col = (*text_)[at] == '\t' ? col + 8 - col % 8 : col + 1;
    return at;
  }
  TextFormat::ParseLocation LocationOf(size_t offset) const {
    TextFormat::ParseLocation l(0, 0);
    for (size_t k = 0; k < offset && k < text_->size(); ++k) {
      if ((*text_)[k] == '\n') {
        ++l.line;
        l.column = 0;
      } else {
        l.column = (*text_)[k] == '\t' ? l.column + 8 - l.column % 8 : l.column + 1;
      }
    }
    return l;
  }

  std::string path_;
  const TextFormat::ParseInfoTree* tree_;
  const std::string* text_;
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

// One parameter as a point sees it: where it is written and what it is. A
// point's scope is the shared part's parameters plus its branch's.
struct ScopeParam {
  std::string name, where;
  const GridParam* grid = nullptr;      // a grid or zipped parameter
  int zip = -1;                         // zipped: which zip of its part
  const RandomParam* random = nullptr;  // a random parameter
};

// The parameters of the shared part (branch < 0: grid params, zips, global
// random) or of one branch (params, zips, random), in that order.
std::vector<ScopeParam> PartParams(const SweepSpec& spec, const Locator& loc, int branch) {
  std::vector<ScopeParam> out;
  const Grid& g = spec.grid();
  const bool shared = branch < 0;
  const auto& params = shared ? g.param() : g.branch(branch).param();
  const auto& zips = shared ? g.zip() : g.branch(branch).zip();
  for (int i = 0; i < params.size(); ++i) {
    out.push_back({params[i].name(),
                   shared ? loc.At({{"grid", 0}, {"param", i}}, spec)
                          : loc.At({{"grid", 0}, {"branch", branch}, {"param", i}}, spec),
                   &params[i]});
  }
  for (int z = 0; z < zips.size(); ++z) {
    for (int i = 0; i < zips[z].param_size(); ++i) {
      out.push_back(
          {zips[z].param(i).name(),
           shared ? loc.At({{"grid", 0}, {"zip", z}, {"param", i}}, spec)
                  : loc.At({{"grid", 0}, {"branch", branch}, {"zip", z}, {"param", i}}, spec),
           &zips[z].param(i), z});
    }
  }
  const auto& random = shared ? spec.random().param() : g.branch(branch).random();
  for (int i = 0; i < random.size(); ++i) {
    ScopeParam p{random[i].name(),
                 shared ? loc.At({{"random", 0}, {"param", i}}, spec)
                        : loc.At({{"grid", 0}, {"branch", branch}, {"random", i}}, spec)};
    p.random = &random[i];
    out.push_back(p);
  }
  return out;
}

// "branch 2 (model=resnet_cifar)": the branch by its number and first parameter.
std::string BranchLabel(const SweepSpec& spec, int branch) {
  const Branch& b = spec.grid().branch(branch);
  std::string label = "branch " + std::to_string(branch + 1);
  const GridParam* first = b.param_size() > 0 ? &b.param(0)
                           : b.zip_size() > 0 && b.zip(0).param_size() > 0 ? &b.zip(0).param(0)
                                                                           : nullptr;
  if (first == nullptr) return label;
  std::vector<std::string> vals;
  if (!ExpandGridParam(*first, &vals).ok() || vals.empty()) return label;
  std::string shown = vals[0];
  for (size_t k = 1; k < vals.size() && k < 3; ++k) shown += "|" + vals[k];
  if (vals.size() > 3) shown += "|...";
  return label + " (" + first->name() + "=" + shown + ")";
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

// Every value a scope parameter can take that matters to a check.
std::vector<std::string> ValuesOf(const ScopeParam& p) {
  if (p.random != nullptr) return RepresentativeValues(*p.random);
  std::vector<std::string> vals;
  if (!ExpandGridParam(*p.grid, &vals).ok()) vals.clear();  // reported by Validate
  return vals;
}

// Every point's train task is checked as the trainer will build it: each
// value must have its field's type, and every combination of the
// parameters' representative values must give a valid config, within each
// branch (a zip's tuples go together).
template <typename Err>
void ValidateTrain(const SweepSpec& spec, const Locator& loc, Err err) {
  // One digit of the combinations: a parameter, or a zip (its tuples).
  struct Axis {
    std::vector<std::string> names, wheres;
    std::vector<std::vector<std::string>> rows;
  };
  bool typed = true;
  const std::vector<ScopeParam> shared = PartParams(spec, loc, -1);
  auto axes_of = [&](const std::vector<ScopeParam>& params, std::vector<Axis>* axes) {
    std::map<int, size_t> zip_axis;
    for (const ScopeParam& p : params) {
      std::vector<std::string> values = ValuesOf(p);
      for (const auto& v : values) {
        TrainTask t;
        Status s = SetTrainField(&t, p.name, v);
        if (!s.ok()) {
          err(p.where, s.message());
          typed = false;
          break;
        }
      }
      if (values.empty()) continue;
      size_t a = axes->size();
      if (p.zip >= 0 && zip_axis.count(p.zip)) {
        a = zip_axis[p.zip];
        if ((*axes)[a].rows.size() != values.size()) continue;  // reported by Validate
      } else {
        if (p.zip >= 0) zip_axis[p.zip] = a;
        axes->push_back(Axis{});
        (*axes)[a].rows.resize(values.size());
      }
      (*axes)[a].names.push_back(p.name);
      (*axes)[a].wheres.push_back(p.where);
      for (size_t r = 0; r < values.size(); ++r) (*axes)[a].rows[r].push_back(values[r]);
    }
  };
  std::vector<std::vector<Axis>> scopes;
  for (int b = 0; b < spec.grid().branch_size() || (b == 0 && spec.grid().branch_size() == 0);
       ++b) {
    std::vector<Axis> axes;
    if (spec.grid().branch_size() > 0) axes_of(PartParams(spec, loc, b), &axes);
    axes_of(shared, &axes);
    scopes.push_back(std::move(axes));
  }
  if (!typed) return;
  const std::string twhere = loc.At({{"train", 0}}, spec);
  TrainConfigChecker checker(spec.train());
  std::set<std::string> reported;
  for (const std::vector<Axis>& axes : scopes) {
    // Blame the parameter whose field the message names, else the train block.
    auto where_for = [&](const std::string& message) {
      for (const Axis& a : axes) {
        for (size_t c = 0; c < a.names.size(); ++c) {
          if (message.rfind("train." + a.names[c] + " ", 0) == 0) return a.wheres[c];
        }
      }
      return twhere;
    };
    long double combos = 1;
    for (const Axis& a : axes) combos *= static_cast<long double>(a.rows.size());
    auto check = [&](const std::vector<size_t>& digit) {
      std::vector<std::pair<std::string, std::string>> values;
      for (size_t k = 0; k < axes.size(); ++k) {
        for (size_t c = 0; c < axes[k].names.size(); ++c)
          values.emplace_back(axes[k].names[c], axes[k].rows[digit[k]][c]);
      }
      auto t = checker.For(values);
      if (t.ok() || !reported.insert(t.status().message()).second) return;
      std::string with;
      for (const auto& [k, v] : values) with += (with.empty() ? "" : ", ") + k + "=" + v;
      err(where_for(t.status().message()),
          (with.empty() ? "" : "points with " + with + ": ") + t.status().message());
    };
    std::vector<size_t> digit(axes.size(), 0);
    if (combos <= static_cast<long double>(kMaxCheckedCombinations)) {
      for (;;) {
        check(digit);
        if (reported.size() >= 5) return;
        size_t k = axes.size();
        while (k > 0 && ++digit[k - 1] == axes[k - 1].rows.size()) digit[--k] = 0;
        if (k == 0) break;
      }
    } else {
      check(digit);
      for (size_t k = 0; k < axes.size() && reported.size() < 5; ++k) {
        for (size_t v = 1; v < axes[k].rows.size(); ++v) {
          digit[k] = v;
          check(digit);
        }
        digit[k] = 0;
      }
    }
    if (reported.size() >= 5) return;
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

// The values of one grid, zipped or random parameter are well formed.
template <typename Err>
void CheckParamValues(const ScopeParam& sp, Err err) {
  const std::string& where = sp.where;
  if (sp.grid != nullptr) {
    const GridParam& p = *sp.grid;
    if (p.has_range() && p.values_size() > 0) {
      err(where, "grid parameter '" + p.name() + "' has both values and range; keep one");
    } else if (!p.has_range() && p.values_size() == 0) {
      err(where,
          "grid parameter '" + p.name() + "' needs values: \"...\" or range { start stop step }");
    }
    std::vector<std::string> vals;
    Status s = ExpandGridParam(p, &vals);
    if (!s.ok()) err(where, "grid parameter '" + p.name() + "': " + s.message());
    return;
  }
  const RandomParam& p = *sp.random;
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

// Every zip of a part (branch < 0: the shared zips) has params, of one length.
template <typename Err>
void CheckZips(const SweepSpec& spec, const Locator& loc, int branch, Err err) {
  const auto& zips = branch < 0 ? spec.grid().zip() : spec.grid().branch(branch).zip();
  for (int z = 0; z < zips.size(); ++z) {
    const std::string where =
        branch < 0 ? loc.At({{"grid", 0}, {"zip", z}}, spec)
                   : loc.At({{"grid", 0}, {"branch", branch}, {"zip", z}}, spec);
    const std::string what = "zip " + std::to_string(z + 1) +
                             (branch < 0 ? "" : " of " + BranchLabel(spec, branch));
    if (zips[z].param_size() == 0) {
      err(where, what + " has no param; give it the params whose values go together");
      continue;
    }
    std::string lengths;
    bool equal = true;
    size_t first = 0;
    for (int i = 0; i < zips[z].param_size(); ++i) {
      std::vector<std::string> vals;
      if (!ExpandGridParam(zips[z].param(i), &vals).ok()) return;  // reported with the param
      if (i == 0) first = vals.size();
      equal &= vals.size() == first;
      lengths += (i ? ", " : "") + zips[z].param(i).name() + " has " +
                 std::to_string(vals.size());
    }
    if (!equal) {
      err(where, what + ": its params have unequal lengths (" + lengths +
                     " values); the k-th values of a zip go together, so give each as many");
    }
  }
}

// Names unique within every point's scope (the shared part's plus its
// branch's), values well formed, zips of equal lengths, no empty branch.
// Returns every name in first-appearance order (as PointSpace::names()).
template <typename Err>
std::vector<std::string> ValidateParams(const SweepSpec& spec, const Locator& loc, Err err) {
  std::vector<std::string> names;
  auto identifier = [&](const ScopeParam& p) {
    if (!IsIdentifier(p.name)) {
      err(p.where,
          "parameter name '" + p.name + "' must be an identifier ([A-Za-z_][A-Za-z0-9_]*)");
      return false;
    }
    for (const auto& b : BuiltinPlaceholders()) {
      if (p.name == b) {
        err(p.where, "parameter name '" + p.name + "' is reserved (built-in placeholder)");
        return false;
      }
    }
    if (std::find(names.begin(), names.end(), p.name) == names.end()) names.push_back(p.name);
    return true;
  };
  const Grid& g = spec.grid();
  std::vector<std::vector<ScopeParam>> branches;
  for (int b = 0; b < g.branch_size(); ++b) {
    branches.push_back(PartParams(spec, loc, b));
    const Branch& br = g.branch(b);
    if (br.param_size() == 0 && br.zip_size() == 0 && br.random_size() == 0) {
      err(loc.At({{"grid", 0}, {"branch", b}}, spec),
          BranchLabel(spec, b) + " is empty; give it a param, zip or random (or remove it)");
    }
    std::set<std::string> seen;
    for (const ScopeParam& p : branches.back()) {
      CheckParamValues(p, err);
      if (identifier(p) && !seen.insert(p.name).second)
        err(p.where, "parameter '" + p.name + "' is defined twice in " + BranchLabel(spec, b));
    }
    CheckZips(spec, loc, b, err);
    if (br.random_size() > 0 && spec.random().samples() == 0) {
      err(loc.At({{"grid", 0}, {"branch", b}, {"random", 0}}, spec),
          BranchLabel(spec, b) + " has random parameters: they need random { samples: N } " +
              "(draws per grid point), N >= 1");
    }
  }
  std::set<std::string> shared;
  for (const ScopeParam& p : PartParams(spec, loc, -1)) {
    CheckParamValues(p, err);
    if (identifier(p) && !shared.insert(p.name).second)
      err(p.where, "parameter '" + p.name + "' is defined twice");
  }
  CheckZips(spec, loc, -1, err);
  for (size_t b = 0; b < branches.size(); ++b) {
    for (const ScopeParam& p : branches[b]) {
      if (shared.count(p.name)) {
        err(p.where, "parameter '" + p.name + "' of " + BranchLabel(spec, static_cast<int>(b)) +
                         " is also defined outside the branches (shared by every point); a "
                         "point has each parameter once: keep one");
      }
    }
  }
  if (spec.has_random() && spec.random().param_size() > 0 && spec.random().samples() == 0) {
    err(loc.At({{"random", 0}}, spec), "random needs samples: N (draws per grid point), N >= 1");
  }
  return names;
}

// The branches (0-based) whose points lack parameter `name`: none when it is
// shared, or not a parameter at all.
std::vector<int> BranchesLacking(const SweepSpec& spec, const Locator& loc,
                                 const std::string& name) {
  std::vector<int> out;
  auto has = [&](int branch) {
    for (const ScopeParam& p : PartParams(spec, loc, branch)) {
      if (p.name == name) return true;
    }
    return false;
  };
  if (spec.grid().branch_size() == 0 || has(-1)) return out;
  for (int b = 0; b < spec.grid().branch_size(); ++b) {
    if (!has(b)) out.push_back(b);
  }
  if (out.size() == static_cast<size_t>(spec.grid().branch_size())) out.clear();  // no such name
  return out;
}

// A train field that some branch sets and another lacks would silently take
// its default there: refused unless the base `train {}` sets it (the value for
// branches without it), or it cannot matter for that branch (depth, for a
// branch none of whose models takes a depth).
template <typename Err>
void ValidateTrainCoverage(const SweepSpec& spec, const Locator& loc,
                           const std::vector<std::string>& names, Err err) {
  const auto* d = TrainTask::descriptor();
  for (const std::string& name : names) {
    const FieldDescriptor* f = d->FindFieldByName(name);
    if (f == nullptr || spec.train().GetReflection()->HasField(spec.train(), f)) continue;
    for (int b : BranchesLacking(spec, loc, name)) {
      if (name == "depth") {
        std::vector<std::string> models;
        for (int part : {b, -1}) {
          for (const ScopeParam& p : PartParams(spec, loc, part)) {
            if (p.name != "model") continue;
            for (const auto& m : ValuesOf(p)) models.push_back(m);
          }
        }
        if (models.empty()) models.push_back(spec.train().model());
        if (std::none_of(models.begin(), models.end(), ModelTakesDepth)) continue;
      }
      err(loc.At({{"grid", 0}, {"branch", b}}, spec),
          "train: " + BranchLabel(spec, b) + " has no parameter '" + name +
              "' (another branch sets it), so its points would silently train with the "
              "default " + name + "; give that branch a '" + name + "' param, or set train { " +
              name + ": ... } for the branches without one");
    }
  }
}

// Placeholders in the command's argv and env: each names a parameter every
// point has, or a built-in.
template <typename Err>
void ValidateCommand(const SweepSpec& spec, const Locator& loc,
                     const std::vector<std::string>& names, Err err) {
  std::set<std::string> known(names.begin(), names.end());
  for (const auto& b : BuiltinPlaceholders()) known.insert(b);
  // `where(u)`: where placeholder {u} is written.
  auto check_text = [&](const std::string& text, const std::string& where,
                        const std::string& what, auto placeholder_at) {
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
        continue;
      }
      for (int b : BranchesLacking(spec, loc, u)) {
        err(placeholder_at("{" + u + "}"),
            what + ": placeholder {" + u + "}: " + BranchLabel(spec, b) +
                " has no parameter '" + u + "'; give that branch a '" + u +
                "' param, make it shared (outside the branches), or leave {" + u + "} out");
      }
    }
  };
  const CommandTask& c = spec.command();
  if (c.argv_size() == 0) err(loc.At({{"command", 0}}, spec), "command needs at least one argv");
  for (int i = 0; i < c.argv_size(); ++i) {
    check_text(c.argv(i), loc.At({{"command", 0}, {"argv", i}}, spec),
               "command.argv[" + std::to_string(i) + "]", [&](const std::string& needle) {
                 return loc.FindIn({{"command", 0}, {"argv", i}}, spec, needle);
               });
  }
  for (const auto& [k, v] : c.env()) {
    if (!IsIdentifier(k))
      err(loc.At({{"command", 0}}, spec), "command.env key '" + k + "' is not a variable name");
    const std::string key = k;
    check_text(v, loc.At({{"command", 0}}, spec), "command.env[" + k + "]",
               [&](const std::string& needle) {
                 // The entry of this key that holds the placeholder.
                 for (int j = 0; j < c.env_size(); ++j) {
                   if (loc.Holds({{"command", 0}, {"env", j}}, spec, "\"" + key + "\"") &&
                       loc.Holds({{"command", 0}, {"env", j}}, spec, needle))
                     return loc.FindIn({{"command", 0}, {"env", j}}, spec, needle);
                 }
                 return loc.FindIn({{"command", 0}}, spec, needle);
               });
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

Result<SweepSpec> ReadFrozenSpec(Env* env, const std::string& sweep_dir) {
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
        "restore it, or start a new sweep (growing a running sweep will be `sweep extend`)");
  }
  ApplyDefaults(&spec.value());
  return spec;
}

}  // namespace claimsweep
