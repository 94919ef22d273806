#include "core/spec_params.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/catalogue.h"
#include "core/points.h"
#include "core/template.h"
#include "core/train_config.h"

namespace claimsweep {
namespace {

using google::protobuf::FieldDescriptor;

bool Finite(double v) { return std::isfinite(v); }

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
  const GridParam* first = b.param_size() > 0                              ? &b.param(0)
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

// The values of one grid, zipped or random parameter are well formed.
void CheckParamValues(const ScopeParam& sp, const SpecError& err) {
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
void CheckZips(const SweepSpec& spec, const Locator& loc, int branch, const SpecError& err) {
  const auto& zips = branch < 0 ? spec.grid().zip() : spec.grid().branch(branch).zip();
  for (int z = 0; z < zips.size(); ++z) {
    const std::string where = branch < 0
                                  ? loc.At({{"grid", 0}, {"zip", z}}, spec)
                                  : loc.At({{"grid", 0}, {"branch", branch}, {"zip", z}}, spec);
    const std::string what =
        "zip " + std::to_string(z + 1) + (branch < 0 ? "" : " of " + BranchLabel(spec, branch));
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
      lengths += (i ? ", " : "") + zips[z].param(i).name() + " has " + std::to_string(vals.size());
    }
    if (!equal) {
      err(where, what + ": its params have unequal lengths (" + lengths +
                     " values); the k-th values of a zip go together, so give each as many");
    }
  }
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

}  // namespace

// Names unique within every point's scope (the shared part's plus its
// branch's), values well formed, zips of equal lengths, no empty branch.
// Returns every name in first-appearance order (as PointSpace::names()).
std::vector<std::string> ValidateParams(const SweepSpec& spec, const Locator& loc,
                                        const SpecError& err) {
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

// Every point's train task is checked as the trainer will build it: each
// value must have its field's type, and every combination of the
// parameters' representative values must give a valid config, within each
// branch (a zip's tuples go together).
void ValidateTrain(const SweepSpec& spec, const Locator& loc, const SpecError& err) {
  // One digit of the combinations: a parameter, or a zip (its tuples).
  struct Axis {
    std::vector<std::string> names, wheres;
    std::vector<std::vector<std::string>> rows;
  };
  bool typed = true;
  std::set<std::string> typechecked;  // by where: a shared parameter is in every scope
  const std::vector<ScopeParam> shared = PartParams(spec, loc, -1);
  auto axes_of = [&](const std::vector<ScopeParam>& params, std::vector<Axis>* axes) {
    std::map<int, size_t> zip_axis;
    for (const ScopeParam& p : params) {
      std::vector<std::string> values = ValuesOf(p);
      for (const auto& v :
           (typechecked.insert(p.where).second ? values : std::vector<std::string>{})) {
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
  // One scope per branch (its parameters, then the shared ones); without
  // branches, the shared part alone.
  std::vector<std::vector<Axis>> scopes(std::max(1, spec.grid().branch_size()));
  for (int b = 0; b < spec.grid().branch_size(); ++b) axes_of(PartParams(spec, loc, b), &scopes[b]);
  for (auto& axes : scopes) axes_of(shared, &axes);
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

// A train field that some branch sets and another lacks would silently take
// its default there: refused unless the base `train {}` sets it (the value for
// branches without it), or it cannot matter for that branch (depth, for a
// branch none of whose models takes a depth).
void ValidateTrainCoverage(const SweepSpec& spec, const Locator& loc,
                           const std::vector<std::string>& names, const SpecError& err) {
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
              "default " +
              name + "; give that branch a '" + name + "' param, or set train { " + name +
              ": ... } for the branches without one");
    }
  }
}

// Placeholders in the command's argv and env: each names a parameter every
// point has, or a built-in.
void ValidateCommand(const SweepSpec& spec, const Locator& loc,
                     const std::vector<std::string>& names, const SpecError& err) {
  CommandScope scope;
  scope.at = {{"command", 0}};
  scope.label = "command";
  scope.params = names;
  scope.builtins = BuiltinPlaceholders();
  // Early stopping: the epochs of the rung being run.
  if (spec.has_early_stopping()) scope.builtins.push_back("budget");
  scope.unknown = [&](const std::string&) {
    return "names no parameter; known: " + Join(names) + (names.empty() ? "" : ", ") +
           Join(scope.builtins);
  };
  ValidateCommandTask(spec, loc, spec.command(), scope, err);
}

void ValidateCommandTask(const SweepSpec& spec, const Locator& loc, const CommandTask& c,
                         const CommandScope& scope, const SpecError& err) {
  std::set<std::string> known(scope.params.begin(), scope.params.end());
  const std::set<std::string> params = known;
  for (const auto& b : scope.builtins) known.insert(b);
  auto steps = [&](const char* field, int index) {
    Locator::Steps s = scope.at;
    s.emplace_back(field, index);
    return s;
  };
  // `where(u)`: where placeholder {u} is written.
  auto check_text = [&](const std::string& text, const std::string& where, const std::string& what,
                        auto placeholder_at) {
    std::vector<std::string> used;
    Status s = CollectPlaceholders(text, &used);
    if (!s.ok()) {
      err(where, what + ": " + s.message());
      return;
    }
    for (const auto& u : used) {
      if (!known.count(u)) {
        err(where, what + ": placeholder {" + u + "} " + scope.unknown(u));
        continue;
      }
      if (!params.count(u)) continue;  // a built-in: every point has it
      for (int b : BranchesLacking(spec, loc, u)) {
        err(placeholder_at("{" + u + "}"),
            what + ": placeholder {" + u + "}: " + BranchLabel(spec, b) + " has no parameter '" +
                u + "'; give that branch a '" + u +
                "' param, make it shared (outside the branches), or leave {" + u + "} out");
      }
    }
  };
  const std::string label = scope.label;
  if (c.argv_size() == 0) err(loc.At(scope.at, spec), label + " needs at least one argv");
  for (int i = 0; i < c.argv_size(); ++i) {
    check_text(
        c.argv(i), loc.At(steps("argv", i), spec), label + ".argv[" + std::to_string(i) + "]",
        [&](const std::string& needle) { return loc.FindIn(steps("argv", i), spec, needle); });
  }
  for (const auto& [k, v] : c.env()) {
    if (!IsIdentifier(k))
      err(loc.At(scope.at, spec), label + ".env key '" + k + "' is not a variable name");
    const std::string key = k;
    check_text(v, loc.At(scope.at, spec), label + ".env[" + k + "]",
               [&](const std::string& needle) {
                 // The entry of this key that holds the placeholder.
                 for (int j = 0; j < c.env_size(); ++j) {
                   if (loc.Holds(steps("env", j), spec, "\"" + key + "\"") &&
                       loc.Holds(steps("env", j), spec, needle))
                     return loc.FindIn(steps("env", j), spec, needle);
                 }
                 return loc.FindIn(scope.at, spec, needle);
               });
  }
}

void ParamValues(const SweepSpec& spec, const Locator& loc, const std::string& name,
                 std::vector<std::pair<std::string, std::string>>* values, bool* some_point_lacks) {
  bool shared = false;
  for (int part = -1; part < spec.grid().branch_size(); ++part) {
    for (const ScopeParam& p : PartParams(spec, loc, part)) {
      if (p.name != name) continue;
      shared |= part < 0;
      for (const std::string& v : ValuesOf(p)) values->emplace_back(v, p.where);
    }
  }
  *some_point_lacks = !shared && (spec.grid().branch_size() == 0 ||
                                  !BranchesLacking(spec, loc, name).empty() || values->empty());
}

}  // namespace claimsweep
