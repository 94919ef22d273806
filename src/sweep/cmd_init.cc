// `sweep validate SPEC` and `sweep init SPEC DIR`.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include <google/protobuf/util/message_differencer.h>

#include "core/asha_spec.h"
#include "core/rungs.h"
#include "core/exit_codes.h"
#include "core/extend.h"
#include "core/layout.h"
#include "core/points.h"
#include "core/security.h"
#include "core/spec.h"
#include "core/spec_digest.h"
#include "core/terminal_text.h"
#include "core/token.h"
#include "sweep/commands.h"

namespace claimsweep {

int UsageError(const std::string& message) {
  std::fprintf(stderr, "sweep: %s\n", message.c_str());
  return kExitUsage;
}

int Failure(const std::string& message) {
  std::fprintf(stderr, "sweep: %s\n", message.c_str());
  return kExitFailed;
}

namespace {

std::string Describe(const SweepSpec& spec, const PointSpace& ps) {
  std::string d = std::to_string(ps.size()) + " points";
  if (spec.random().param_size() > 0) {
    d += " (grid " + std::to_string(ps.grid_size()) + " x " + std::to_string(ps.samples()) +
         " random samples)";
  }
  return d;
}

// "stage eval: each_checkpoint, eval (split test)": its name, input and task.
std::string DescribeStage(const Stage& st) {
  std::string input = st.has_after_all()         ? "after_all " + st.after_all()
                      : st.has_each_checkpoint() ? "each_checkpoint"
                                                 : "each_trial";
  std::string task = "command";
  if (st.has_eval())
    task = "eval (split " + (st.eval().split().empty() ? std::string("test") : st.eval().split()) +
           ")";
  return TerminalSafe("stage " + st.name() + ": " + input + ", " + task);
}

// Reads and validates SPEC; prints errors (file:line:col) itself.
bool LoadSpec(const std::string& path, SweepSpec* spec, PointSpace* ps) {
  auto s = ReadSpecFile(Env::Default(), path);
  if (!s.ok()) {
    std::string m = s.status().message();
    if (!m.empty() && m.back() == '\n') m.pop_back();
    std::fprintf(stderr, "%s\n", m.c_str());
    return false;
  }
  // The points as `sweep init` freezes them (draws keyed as in its format_version).
  SweepSpec as_frozen = *s;
  as_frozen.set_format_version(FrozenFormatVersion(*s));
  auto p = PointSpace::Create(as_frozen);
  if (!p.ok()) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), p.status().message().c_str());
    return false;
  }
  *spec = std::move(*s);
  *ps = std::move(*p);
  if (spec->has_train()) {
    // The dataset is named relative to the spec file; freeze it absolute so
    // jobs find it from any working directory. Checked by validate too:
    // nothing is created for a sweep whose trials could not start.
    std::filesystem::path ds = spec->train().dataset();
    if (ds.is_relative())
      ds = std::filesystem::absolute(std::filesystem::path(path).parent_path() / ds);
    ds = ds.lexically_normal();
    std::string d = ds.string();
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    spec->mutable_train()->set_dataset(d);
    if (!Env::Default()->Exists(d + "/manifest.textproto")) {
      UsageError(path + ": train.dataset " + d +
                 " holds no dataset (no manifest.textproto); make one with " +
                 "`sweep data synth --out " + d + "` or `sweep data import`");
      return false;
    }
  }
  return true;
}

// {spec_dir}, and what a relative argv[0] is resolved against: the spec's
// own directory, absolute, as it was at init.
std::string SpecDirOf(const std::string& spec_path) {
  // A bare file name ("spec.textproto") has an empty parent: the working directory.
  std::filesystem::path parent = std::filesystem::path(spec_path).parent_path();
  if (parent.empty()) parent = ".";
  std::string spec_dir = std::filesystem::absolute(parent).lexically_normal().string();
  while (spec_dir.size() > 1 && spec_dir.back() == '/') spec_dir.pop_back();
  return spec_dir;
}

}  // namespace

int CmdValidate(const std::string& spec_path) {
  SweepSpec spec;
  PointSpace ps = *PointSpace::Create(SweepSpec());
  if (!LoadSpec(spec_path, &spec, &ps)) return 2;
  std::printf("%s: ok, %s\n", spec_path.c_str(), Describe(spec, ps).c_str());
  if (spec.has_early_stopping())
    std::printf("  early stopping: %s\n",
                TerminalSafe(DescribeEarlyStopping(spec.early_stopping())).c_str());
  for (const Stage& st : spec.stage()) std::printf("  %s\n", DescribeStage(st).c_str());
  return 0;
}

int CmdInit(const std::string& spec_path, const std::string& dir) {
  std::unique_ptr<Env> sweep_env = NewSweepEnv(dir);
  Env* env = sweep_env.get();
  SweepSpec spec;
  PointSpace ps = *PointSpace::Create(SweepSpec());
  if (!LoadSpec(spec_path, &spec, &ps)) return 2;
  spec.set_spec_dir(SpecDirOf(spec_path));
  const std::string frozen = FreezeSpec(spec);
  SweepLayout layout(dir);

  std::string existing;
  Status s = env->ReadFile(layout.spec_path(), &existing);
  if (s.ok()) {
    // The same sweep whatever directory the spec is read from now (or a sweep
    // frozen before spec_dir existed): the frozen spec_dir stays.
    // Likewise a sweep frozen by an earlier format version: it keeps running
    // and being read as it was made (see "Frozen" in the README).
    auto old_spec = ReadFrozenSpec(env, dir);
    if (old_spec.ok() && (old_spec->spec_dir() != spec.spec_dir() ||
                          old_spec->format_version() != FrozenFormatVersion(spec))) {
      SweepSpec a = *old_spec, b = spec;
      ApplyDefaults(&b);
      for (SweepSpec* x : {&a, &b}) {
        x->clear_spec_dir();
        x->clear_format_version();
      }
      if (google::protobuf::util::MessageDifferencer::Equals(a, b)) {
        std::printf("%s already holds this sweep: %s (its spec_dir stays '%s')\n", dir.c_str(),
                    Describe(spec, ps).c_str(), old_spec->spec_dir().c_str());
        return 0;
      }
    }
    if (existing == frozen) {
      std::printf("%s already holds this sweep: %s\n", dir.c_str(), Describe(spec, ps).c_str());
      return 0;
    }
    return UsageError(
        dir + " already holds a different sweep (its " + kSpecFileName + " differs from " +
        spec_path +
        "); a sweep's points depend on its spec, so it cannot change. Use a new directory.");
  }
  std::vector<std::string> names;
  if (env->ListDir(dir, &names).ok() && !names.empty()) {
    return UsageError(dir +
                      " is not empty and holds no sweep; refusing to initialize a sweep there");
  }
  std::vector<std::string> dirs = {dir, layout.trials_dir(), layout.leases_dir(), layout.tmp_dir()};
  for (const std::string& name : StageNames(spec)) {
    const SweepLayout queue = SweepLayout::ForStage(dir, name);
    dirs.insert(dirs.end(), {queue.trials_dir(), queue.leases_dir()});
  }
  if (spec.early_stopping().has_asha()) {
    const size_t rungs = AshaRungBudgets(spec.early_stopping().asha()).size();
    for (uint32_t k = 0; k < rungs; ++k) dirs.push_back(RungScoresDir(layout, k));
  }
  for (const std::string& d : dirs) {
    s = env->CreateDirs(d);
    if (!s.ok()) return Failure(s.ToString());
  }
  // The spec goes in last (after its digest): a directory counts as a sweep
  // only once it is complete.
  s = WriteFrozenSpec(env, layout, frozen);
  if (!s.ok()) return Failure(s.ToString());
  std::printf("initialized sweep '%s' in %s: %s\n", TerminalSafe(spec.name()).c_str(), dir.c_str(),
              Describe(spec, ps).c_str());
  s = CheckSweepSafety(env, layout, spec.security().allow_shared(), ::geteuid(), StageNames(spec));
  if (!s.ok()) {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    char why[160] = "";
    if (mask & 022) {
      std::snprintf(why, sizeof why,
                    " (your umask %04o made them so; `umask 022` before `sweep init` avoids this)",
                    static_cast<unsigned>(mask));
    }
    std::fprintf(stderr, "sweep: warning: `trial` will refuse this sweep: %s%s\n",
                 s.message().c_str(), why);
  }
  return 0;
}

int CmdExtend(const std::string& dir, const std::string& spec_path) {
  OpenedSweep sw;
  if (!OpenSweep(dir, &sw)) return kExitUsage;
  const SweepPoints& current = *sw.points;
  SweepSpec next;
  PointSpace ps = *PointSpace::Create(SweepSpec());
  if (!LoadSpec(spec_path, &next, &ps)) return kExitUsage;
  // Frozen as the sweep was: its format_version decides how points are
  // drawn, and its spec_dir stays wherever NEWSPEC is read from (as `sweep
  // init` of the same sweep keeps it): every trial sees the same {spec_dir}.
  ApplyDefaults(&next);
  next.set_format_version(current.version_spec(1).format_version());
  next.set_spec_dir(current.version_spec(1).spec_dir());
  ExtendPlan plan;
  const bool tty = ::isatty(2);
  Status s = PlanExtension(current, next, &plan, [&](uint64_t done, uint64_t total) {
    if (tty && total > (uint64_t{1} << 20))
      std::fprintf(stderr, "\rsweep: comparing points: %llu of %llu",
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(total));
    if (tty && total > (uint64_t{1} << 20) && done == total) std::fputs("\n", stderr);
  });
  if (!s.ok()) {
    return UsageError(spec_path + ": not an extension of " + dir + ": " + s.message() +
                      "; nothing was changed");
  }
  if (plan.unchanged) {
    std::printf("%s already holds this spec as version %u: %llu points\n", dir.c_str(),
                current.version(), static_cast<unsigned long long>(current.size()));
    return kExitOk;
  }
  s = PublishExtension(sw.env.get(), SweepLayout(dir), plan, ProcessToken());
  if (!s.ok()) return Failure(s.ToString());
  const SpecVersion& r = plan.record;
  if (plan.added == 0) {
    std::printf(
        "sweep '%s' in %s: version %u changes settings only (claim, resources); still "
        "%llu points\n",
        TerminalSafe(next.name()).c_str(), dir.c_str(), r.version(),
        static_cast<unsigned long long>(r.points()));
  } else {
    std::printf(
        "extended sweep '%s' in %s to version %u: %llu -> %llu points (%llu new: "
        "%llu to %llu); running workers claim them when they next find nothing to "
        "claim\n",
        TerminalSafe(next.name()).c_str(), dir.c_str(), r.version(),
        static_cast<unsigned long long>(r.first_index()),
        static_cast<unsigned long long>(r.points()), static_cast<unsigned long long>(plan.added),
        static_cast<unsigned long long>(r.first_index()),
        static_cast<unsigned long long>(r.points() - 1));
  }
  return kExitOk;
}

}  // namespace claimsweep
