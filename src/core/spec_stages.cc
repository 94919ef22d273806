#include "core/spec_stages.h"

#include <algorithm>
#include <sstream>

#include "core/slurm.h"
#include "core/train_config.h"

namespace claimsweep {
namespace {

constexpr const char* kInputRule =
    "a stage may only take as input the sweep's trials (\"trials\") or a stage written before it";

bool IsStageName(const std::string& s) {
  if (s.empty() || s.size() > 32 || s[0] < 'a' || s[0] > 'z') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string Join(const std::vector<std::string>& v, const std::string& before = "") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + before + s;
  return out;
}

const char* InputName(const Stage& s) {
  switch (s.input_case()) {
    case Stage::kEachTrial: return "each_trial";
    case Stage::kEachCheckpoint: return "each_checkpoint";
    case Stage::kAfterAll: return "after_all";
    default: return "no input";
  }
}

// Checks one stage; `k` is its index in spec.stage().
class StageCheck {
 public:
  StageCheck(const SweepSpec& spec, const Locator& loc, const std::vector<std::string>& names,
             const SpecError& err, int k)
      : spec_(spec), loc_(loc), names_(names), err_(err), k_(k), st_(spec.stage(k)) {}

  void Run() {
    Name();
    Input();
    Task();
    if (st_.has_resources()) Resources();
  }

 private:
  std::string At(const char* field) const { return loc_.At({{"stage", k_}, {field, 0}}, spec_); }
  void Err(const std::string& where, const std::string& what) const {
    err_(where, "stage '" + st_.name() + "': " + what);
  }
  // The index of the first stage called `name`, or -1.
  int Find(const std::string& name) const {
    for (int j = 0; j < spec_.stage_size(); ++j) {
      if (spec_.stage(j).name() == name) return j;
    }
    return -1;
  }

  void Name() const {
    const std::string& n = st_.name();
    if (!IsStageName(n)) {
      Err(At("name"),
          "a stage's name must match [a-z][a-z0-9_]{0,31} (it names the folder "
          "stages/<name>/), e.g. name: \"eval\"");
    } else if (n == kTrialsStageName) {
      Err(At("name"),
          "\"trials\" is reserved (it names the sweep's own trials as an input); "
          "choose another name");
    } else if (Find(n) < k_) {
      Err(At("name"), "two stages are named '" + n + "' (the first at " +
                          loc_.At({{"stage", Find(n)}, {"name", 0}}, spec_) +
                          "); give each stage its own name");
    }
  }

  void Input() const {
    switch (st_.input_case()) {
      case Stage::INPUT_NOT_SET:
        Err(loc_.At({{"stage", k_}}, spec_),
            "needs an input: each_trial: true (one item per done trial), each_checkpoint: true "
            "(one per kept checkpoint) or after_all: \"STAGE\" (one item once all of STAGE is "
            "done)");
        break;
      case Stage::kEachTrial:
        if (!st_.each_trial()) Err(At("each_trial"), "write each_trial: true (or leave it out)");
        break;
      case Stage::kEachCheckpoint:
        if (!st_.each_checkpoint())
          Err(At("each_checkpoint"), "write each_checkpoint: true (or leave it out)");
        EachCheckpoint();
        break;
      case Stage::kAfterAll: AfterAll(); break;
    }
  }

  // Every point's trial must keep checkpoints for there to be items.
  void EachCheckpoint() const {
    const std::string where = At("each_checkpoint");
    if (!spec_.has_train()) {
      Err(where, "each_checkpoint needs a train task that keeps checkpoints; the sweep's " +
                     std::string(spec_.has_command() ? "command task" : "task") +
                     " keeps none (use each_trial: true)");
      return;
    }
    std::vector<std::pair<std::string, std::string>> values;
    bool lacks = false;
    ParamValues(spec_, loc_, "keep_checkpoints_every", &values, &lacks);
    if (lacks && spec_.train().keep_checkpoints_every() <= 0) {
      Err(where, "each_checkpoint needs kept checkpoints, and train.keep_checkpoints_every is " +
                     std::to_string(spec_.train().keep_checkpoints_every()) +
                     " (off); set train { keep_checkpoints_every: N } with N > 0, e.g. 2 keeps "
                     "every second epoch's checkpoint (and the last)");
    }
    for (const auto& [v, at] : values) {
      TrainTask t;
      if (!SetTrainField(&t, "keep_checkpoints_every", v).ok()) continue;  // reported at the param
      if (t.keep_checkpoints_every() <= 0) {
        Err(where,
            "each_checkpoint needs kept checkpoints, and points with "
            "keep_checkpoints_every=" +
                v + " (the parameter at " + at + ") keep none; give it values > 0");
        return;
      }
    }
  }

  void AfterAll() const {
    const std::string& in = st_.after_all();
    const std::string where = At("after_all");
    if (in == kTrialsStageName) return;
    const int j = Find(in);
    if (in.empty()) {
      Err(where, "after_all needs a stage name; " + std::string(kInputRule));
    } else if (j < 0) {
      std::vector<std::string> before;
      for (int i = 0; i < k_; ++i) before.push_back("\"" + spec_.stage(i).name() + "\"");
      Err(where, "after_all: \"" + in + "\" names no stage; " + kInputRule +
                     (before.empty() ? "" : " (here: \"trials\", " + Join(before) + ")"));
    } else if (j == k_) {
      Err(where, "after_all: \"" + in + "\" names this stage itself, a cycle; " + kInputRule);
    } else if (j > k_) {
      // A later stage reaches back here only through after_all inputs.
      std::string chain = st_.name() + " -> " + in;
      bool cycle = false;
      for (int cur = j, steps = 0; steps < spec_.stage_size(); ++steps) {
        const Stage& c = spec_.stage(cur);
        if (c.input_case() != Stage::kAfterAll || c.after_all() == kTrialsStageName) break;
        chain += " -> " + c.after_all();
        cur = Find(c.after_all());
        if (cur < 0) break;
        if (cur == k_) {
          cycle = true;
          break;
        }
      }
      Err(where, "after_all: \"" + in + "\" is written later (at " +
                     loc_.At({{"stage", j}, {"name", 0}}, spec_) + ")" +
                     (cycle ? ", and takes this stage's output: a cycle (" + chain + ")" : "") +
                     "; " + kInputRule);
    } else if (spec_.stage(j).input_case() == Stage::kAfterAll) {
      Err(where, "after_all: \"" + in +
                     "\" is itself an after_all stage; after_all of an after_all stage is not "
                     "supported: take as input \"trials\" or an each_trial or each_checkpoint "
                     "stage");
    }
  }

  void Task() const {
    switch (st_.task_case()) {
      case Stage::TASK_NOT_SET:
        Err(loc_.At({{"stage", k_}}, spec_),
            "needs a task: command { argv: ... } or eval { split: \"test\" }");
        break;
      case Stage::kCommand: Command(); break;
      case Stage::kEval: Eval(); break;
    }
  }

  void Eval() const {
    const std::string where = At("eval");
    if (!spec_.has_train()) {
      Err(where,
          "eval evaluates a train checkpoint on the sweep's dataset; it needs a sweep "
          "whose task is train { ... } (use a command stage here)");
    }
    if (st_.input_case() == Stage::kAfterAll) {
      Err(where,
          "eval evaluates one trial's checkpoint; give it each_checkpoint: true or "
          "each_trial: true, not after_all (use a command stage to aggregate)");
    }
    const std::string& split = st_.eval().split();
    if (!split.empty() && split != "test" && split != "train") {
      Err(loc_.At({{"stage", k_}, {"eval", 0}, {"split", 0}}, spec_),
          "eval.split '" + split + "' must be \"test\" (the default) or \"train\"");
    }
  }

  void Command() const {
    CommandScope scope;
    scope.at = {{"stage", k_}, {"command", 0}};
    scope.label = "command";
    const bool per_point = st_.input_case() != Stage::kAfterAll;
    if (per_point) scope.params = names_;
    scope.builtins = StagePlaceholders(st_);
    const std::string kind = InputName(st_);
    scope.unknown = [&, kind, per_point](const std::string& u) {
      const bool is_param = std::find(names_.begin(), names_.end(), u) != names_.end();
      std::string why = "is not offered to an " + kind + " stage";
      if (!per_point && (is_param || u == "index"))
        why += " (its one item runs for no single point: no parameters, no {index})";
      else if (!is_param)
        why = "names no parameter and is not offered to an " + kind + " stage";
      std::vector<std::string> offered = scope.builtins;
      if (per_point) offered.insert(offered.begin(), names_.begin(), names_.end());
      return why + "; it offers " + Join(offered);
    };
    // A parameter with a stage's own placeholder name would be ambiguous.
    if (per_point) {
      for (const std::string& b : scope.builtins) {
        if (std::find(names_.begin(), names_.end(), b) != names_.end()) {
          Err(At("command"), "the sweep has a parameter named '" + b + "', which " + kind +
                                 " stages offer as the built-in {" + b + "}; rename the parameter");
        }
      }
    }
    auto err = [&](const std::string& where, const std::string& what) { Err(where, what); };
    ValidateCommandTask(spec_, loc_, st_.command(), scope, err);
  }

  void Resources() const {
    Status rs = ValidateResources(st_.resources());
    if (rs.ok()) return;
    std::istringstream lines(rs.message());
    for (std::string l; std::getline(lines, l);) Err(At("resources"), l);
  }

  const SweepSpec& spec_;
  const Locator& loc_;
  const std::vector<std::string>& names_;
  const SpecError& err_;
  const int k_;
  const Stage& st_;
};

}  // namespace

std::vector<std::string> StagePlaceholders(const Stage& stage) {
  std::vector<std::string> out = {"trial_dir", "sweep_dir", "spec_dir", "attempt", "stage"};
  switch (stage.input_case()) {
    case Stage::kEachCheckpoint:
      out.insert(out.end(), {"index", "upstream_dir", "checkpoint", "epoch"});
      break;
    case Stage::kEachTrial: out.insert(out.end(), {"index", "upstream_dir"}); break;
    case Stage::kAfterAll: out.push_back("inputs"); break;
    default: break;
  }
  return out;
}

void ValidateStages(const SweepSpec& spec, const Locator& loc,
                    const std::vector<std::string>& names, const SpecError& err) {
  for (int k = 0; k < spec.stage_size(); ++k) StageCheck(spec, loc, names, err, k).Run();
}

}  // namespace claimsweep
