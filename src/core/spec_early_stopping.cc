#include "core/spec_early_stopping.h"

#include <algorithm>
#include <set>

#include "core/catalogue.h"
#include "core/terminal_text.h"
#include "core/train_config.h"

namespace claimsweep {
namespace {

// The columns a train trial's metrics.csv has that can rank configurations:
// all but "epoch" (the budget itself, not a result).
std::vector<std::string> TrainRankableColumns() {
  std::vector<std::string> out;
  for (const std::string& c : TrainMetricsColumns()) {
    if (c != "epoch") out.push_back(c);
  }
  return out;
}

// A name a metrics.csv header can hold: no comma, quote or control
// character, no surrounding spaces (the reader trims them).
bool IsColumnName(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == ',' || c == '"' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

class AshaCheck {
 public:
  AshaCheck(const SweepSpec& spec, const Locator& loc, const std::vector<std::string>& names,
            const SpecError& err)
      : spec_(spec), loc_(loc), names_(names), err_(err), a_(spec.early_stopping().asha()) {}

  void Run() const {
    Budgets();
    Metric();
    if (spec_.has_train()) TrainBudget();
  }

 private:
  std::string At(const char* field) const {
    return loc_.At({{"early_stopping", 0}, {"asha", 0}, {field, 0}}, spec_);
  }
  void Err(const std::string& where, const std::string& what) const {
    err_(where, "early_stopping: " + what);
  }

  void Budgets() const {
    if (a_.min_epochs() < 1) {
      Err(At("min_epochs"), "asha.min_epochs " + std::to_string(a_.min_epochs()) +
                                " must be >= 1 (the bottom rung's budget in epochs), e.g. "
                                "min_epochs: 1");
    } else if (a_.min_epochs() > a_.max_epochs()) {
      Err(At("min_epochs"), "asha.min_epochs " + std::to_string(a_.min_epochs()) +
                                " is more than max_epochs " + std::to_string(a_.max_epochs()) +
                                "; the bottom rung's budget must be at most the top's (set "
                                "max_epochs: N, the whole training budget, N >= min_epochs)");
    }
    if (a_.reduction() < 2) {
      Err(At("reduction"), "asha.reduction " + std::to_string(a_.reduction()) +
                               " must be >= 2 (1/reduction of each rung is promoted), e.g. "
                               "reduction: 3");
    }
  }

  void Metric() const {
    const std::string& m = a_.metric();
    const std::string where = At("metric");
    if (m.empty()) {
      Err(where,
          "asha needs a metric: the metrics.csv column that ranks configurations, e.g. "
          "metric: \"val_acc\" maximize: true");
      return;
    }
    if (!spec_.has_train()) {
      // A command writes its own metrics.csv: any column it could have.
      if (!IsColumnName(m)) {
        Err(where, "asha.metric '" + TerminalSafe(m) +
                       "' cannot be a metrics.csv column (no comma, quote, control character "
                       "or surrounding space)");
      }
      return;
    }
    const std::vector<std::string> cols = TrainRankableColumns();
    if (std::find(cols.begin(), cols.end(), m) == cols.end()) {
      Err(where, "asha.metric '" + TerminalSafe(m) +
                     "' is not a metric the train task writes to metrics.csv; use one of: " +
                     JoinNames(cols));
    }
  }

  // The budget is max_epochs: nothing else may set a train trial's epochs.
  void TrainBudget() const {
    const std::string max_at = At("max_epochs");
    if (a_.max_epochs() > kMaxTrainEpochs) {
      Err(max_at, "asha.max_epochs " + std::to_string(a_.max_epochs()) + " must be at most " +
                      std::to_string(kMaxTrainEpochs) + " (the most epochs a train task runs)");
    }
    const TrainTask& t = spec_.train();
    if (t.has_epochs() && t.epochs() != a_.max_epochs()) {
      Err(loc_.At({{"train", 0}, {"epochs", 0}}, spec_),
          "train.epochs " + std::to_string(t.epochs()) + " differs from asha.max_epochs " +
              std::to_string(a_.max_epochs()) + " (at " + max_at +
              "); with early stopping the training budget is max_epochs: leave epochs out");
    }
    if (std::find(names_.begin(), names_.end(), "epochs") == names_.end()) return;
    std::vector<std::pair<std::string, std::string>> values;
    bool lacks = false;
    ParamValues(spec_, loc_, "epochs", &values, &lacks);
    std::set<std::string> told;
    for (const auto& [v, where] : values) {
      if (!told.insert(where).second) continue;
      Err(where,
          "a sweep parameter named 'epochs' would override the early-stopping budget "
          "(asha.max_epochs at " +
              max_at +
              "; each rung sets a trial's epochs); remove the parameter, or vary "
              "max_epochs in separate sweeps");
    }
  }

  const SweepSpec& spec_;
  const Locator& loc_;
  const std::vector<std::string>& names_;
  const SpecError& err_;
  const Asha& a_;
};

}  // namespace

void ValidateEarlyStopping(const SweepSpec& spec, const Locator& loc,
                           const std::vector<std::string>& names, const SpecError& err) {
  if (!spec.has_early_stopping()) return;
  const std::string where = loc.At({{"early_stopping", 0}}, spec);
  if (!spec.early_stopping().has_asha()) {
    err(where,
        "early_stopping: needs a rule: asha { metric: \"val_acc\" maximize: true min_epochs: 1 "
        "max_epochs: 9 reduction: 3 }");
    return;
  }
  if (spec.stage_size() > 0) {
    err(where, "early_stopping: not supported together with stages yet (the first stage is at " +
                   loc.At({{"stage", 0}}, spec) +
                   "); remove the stages or the early_stopping, or run them as two sweeps");
  }
  AshaCheck(spec, loc, names, err).Run();
}

}  // namespace claimsweep
