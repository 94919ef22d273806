// `sweep extend`'s core: planning a version (which points are new, what is
// refused), the version files (chain, digest, torn or edited files), and
// publishing it (one winner; a crash at any operation leaves the sweep
// whole at the old or the new version).
#include <gtest/gtest.h>

#include <set>

#include "core/extend.h"
#include "core/sweep_points.h"
#include "fault_env.h"
#include "test_util.h"

namespace claimsweep {
namespace {

using testing::InitedSweep;
using testing::IsOk;
using testing::MustParse;
using testing::ReadAll;
using testing::WriteRaw;

const char kBase[] = R"(
name: "grow"
seed: 7
grid {
  param { name: "lr" values: "0.1" values: "0.01" }
  param { name: "seed" values: "1" values: "2" }
}
command { argv: "true" }
claim { lease_seconds: 30 heartbeat_seconds: 5 }
)";

// kBase with `from` replaced by `to`.
std::string Edited(const std::string& from, const std::string& to) {
  std::string s = kBase;
  const size_t p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

SweepSpec Next(const InitedSweep& sweep, const std::string& text) {
  return testing::NextVersionSpec(sweep, text);
}

SweepPoints Points(const InitedSweep& sweep, Env* env = Env::Default()) {
  auto p = ReadSweepPoints(env, sweep.layout.root());
  EXPECT_OK(p);
  return std::move(*p);
}

std::vector<std::string> Values(const SweepPoints& ps) {
  std::vector<std::string> out;
  for (uint64_t i = 0; i < ps.size(); ++i) {
    std::string v;
    for (const auto& [k, x] : ps.At(i).values) v += k + "=" + x + " ";
    out.push_back(v);
  }
  return out;
}

// `token` names the temp file, as a process's token does (unique per process).
Status Extend(const InitedSweep& sweep, const std::string& text, ExtendPlan* plan = nullptr,
              Env* env = Env::Default(), const std::string& token = "test") {
  ExtendPlan local;
  ExtendPlan* p = plan ? plan : &local;
  SweepPoints cur = Points(sweep, env);
  CS_RETURN_IF_ERROR(PlanExtension(cur, Next(sweep, text), p));
  if (p->unchanged) return Status::OK();
  return PublishExtension(env, sweep.layout, *p, token);
}

TEST(Extend, NewValuesKeepEveryPointAndAppendTheNewOnesInTheNewSpecsOrder) {
  InitedSweep sweep(kBase);
  const std::vector<std::string> before = Values(Points(sweep));
  ExtendPlan plan;
  ASSERT_OK(Extend(sweep, Edited(R"(values: "2" })", R"(values: "2" values: "3" })"), &plan));
  EXPECT_EQ(plan.added, 2u);
  SweepPoints after = Points(sweep);
  ASSERT_EQ(after.size(), 6u);
  EXPECT_EQ(after.version(), 2u);
  for (uint64_t i = 0; i < 4; ++i) EXPECT_EQ(Values(after)[i], before[i]) << i;
  // The new spec's order: (0.1, 3) comes before (0.01, 3).
  EXPECT_EQ(Values(after)[4], "lr=0.1 seed=3 ");
  EXPECT_EQ(Values(after)[5], "lr=0.01 seed=3 ");
  EXPECT_EQ(after.At(5).index, 5u);
  EXPECT_EQ(after.version_of(3), 1u);
  EXPECT_EQ(after.version_of(4), 2u);
  // One strided run: the new spec's indices 2 and 5.
  ASSERT_EQ(plan.record.new_points_size(), 1);
  EXPECT_EQ(plan.record.new_points(0).start(), 2u);
  EXPECT_EQ(plan.record.new_points(0).stride(), 3u);
}

TEST(Extend, ASecondVersionStacksOnTheFirstAndTheSameSpecChangesNothing) {
  InitedSweep sweep(kBase);
  std::string v2 = Edited(R"(values: "2" })", R"(values: "2" values: "3" })");
  ASSERT_OK(Extend(sweep, v2));
  std::string v3 = v2;
  v3.replace(v3.find(R"(values: "0.01" })"), 16, R"(values: "0.01" values: "0.001" })");
  ExtendPlan plan;
  ASSERT_OK(Extend(sweep, v3, &plan));
  EXPECT_EQ(plan.record.version(), 3u);
  EXPECT_EQ(plan.added, 3u);  // 0.001 with seeds 1, 2, 3
  SweepPoints ps = Points(sweep);
  ASSERT_EQ(ps.size(), 9u);
  EXPECT_EQ(Values(ps)[4], "lr=0.1 seed=3 ");
  EXPECT_EQ(Values(ps)[6], "lr=0.001 seed=1 ");
  EXPECT_EQ(Values(ps)[8], "lr=0.001 seed=3 ");
  // Re-running the last extension: nothing to do, nothing written.
  ExtendPlan again;
  ASSERT_OK(PlanExtension(ps, Next(sweep, v3), &again));
  EXPECT_TRUE(again.unchanged);
  // Every point is distinct.
  const auto v = Values(ps);
  EXPECT_EQ(std::set<std::string>(v.begin(), v.end()).size(), 9u);
}

TEST(Extend, ARemovedOrChangedPointIsRefusedNamingTheFirstOne) {
  InitedSweep sweep(kBase);
  ExtendPlan plan;
  Status s = PlanExtension(Points(sweep), Next(sweep, Edited(R"("0.01")", R"("0.02")")), &plan);
  ASSERT_TRUE((s.code() == Status::Code::kInvalidArgument)) << s.ToString();
  EXPECT_NE(s.message().find("point 2 (lr=0.01, seed=1)"), std::string::npos) << s.message();
  // A reordered list is the same set of points, each keeping its index.
  ASSERT_OK(PlanExtension(Points(sweep),
                          Next(sweep, Edited(R"("1" values: "2")", R"("2" values: "1")")), &plan));
  EXPECT_EQ(plan.added, 0u);
}

TEST(Extend, TheTaskNameSeedAndIncompatibleLeasesAreRefused) {
  InitedSweep sweep(kBase);
  ExtendPlan plan;
  auto refused = [&](const std::string& text, const std::string& why) {
    Status s = PlanExtension(Points(sweep), Next(sweep, text), &plan);
    EXPECT_TRUE((s.code() == Status::Code::kInvalidArgument)) << why << ": " << s.ToString();
    EXPECT_NE(s.message().find(why), std::string::npos) << s.message();
  };
  refused(Edited(R"(argv: "true")", R"(argv: "false")"), "the command changed");
  refused(Edited(R"(name: "grow")", R"(name: "grown")"), "name changed");
  refused(Edited("seed: 7", "seed: 8"), "the seed changed");
  // Version 1's workers beat every 5 s: a lease under 15 s would judge them stale.
  refused(
      Edited("lease_seconds: 30 heartbeat_seconds: 5", "lease_seconds: 12 heartbeat_seconds: 4"),
      "less than three heartbeats");
  // ... and they judge by a 30 s lease: a heartbeat over 10 s would look dead to them.
  refused(
      Edited("lease_seconds: 30 heartbeat_seconds: 5", "lease_seconds: 60 heartbeat_seconds: 20"),
      "more than a third of the lease");
  // Claim settings within both bounds, and resources, may change.
  ASSERT_OK(PlanExtension(Points(sweep),
                          Next(sweep, Edited("heartbeat_seconds: 5",
                                             "heartbeat_seconds: 8 "
                                             "max_attempts: 5")),
                          &plan));
  EXPECT_FALSE(plan.unchanged);
  EXPECT_EQ(plan.added, 0u);
}

TEST(Extend, StagesAreFrozenExceptTheirResourcesAndTheFirstDifferenceIsNamed) {
  const std::string stages =
      "stage { name: \"post\" each_trial: true command { argv: \"true\" } }\n"
      "stage { name: \"sum\" after_all: \"post\" command { argv: \"true\" } }\n";
  InitedSweep sweep(kBase + stages);
  ExtendPlan plan;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string t = kBase + stages;
    EXPECT_NE(t.find(from), std::string::npos) << from;
    return t.replace(t.find(from), from.size(), to);
  };
  auto refused = [&](const std::string& text, const std::string& why) {
    Status s = PlanExtension(Points(sweep), Next(sweep, text), &plan);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << why << ": " << s.ToString();
    EXPECT_NE(s.message().find("the stages changed (" + why + ")"), std::string::npos)
        << s.message();
    EXPECT_NE(s.message().find("frozen at `sweep init`"), std::string::npos) << s.message();
  };
  refused(with("argv: \"true\" } }\nstage", "argv: \"false\" } }\nstage"),
          "stage 1, 'post': its task differs");
  refused(with("after_all: \"post\"", "after_all: \"trials\""),
          "stage 2, 'sum': its input differs");
  refused(with("name: \"sum\" after_all", "name: \"total\" after_all"),
          "stage 2, 'sum', is now named 'total'");
  refused(kBase + stages + "stage { name: \"more\" each_trial: true command { argv: \"x\" } }\n",
          "stage 'more' was added");
  refused(with(stages, "stage { name: \"post\" each_trial: true command { argv: \"true\" } }\n"),
          "stage 'sum' was removed");
  // A stage's resources may change (as the sweep's may), with new points too.
  std::string more = with("stage { name: \"post\" each_trial: true",
                          "stage { name: \"post\" each_trial: true resources { gpus: 1 }");
  more.replace(more.find(R"("0.01")"), 6, R"("0.01" values: "0.3")");
  ASSERT_OK(PlanExtension(Points(sweep), Next(sweep, more), &plan));
  EXPECT_EQ(plan.added, 2u);
  // A sweep without stages cannot gain one.
  InitedSweep plain(kBase);
  Status s = PlanExtension(Points(plain), Next(plain, kBase + stages), &plan);
  EXPECT_NE(s.message().find("the stages changed (stage 'post' was added)"), std::string::npos)
      << s.ToString();
}

TEST(Extend, AnotherExtendPublishingTheSameVersionFirstWins) {
  InitedSweep sweep(kBase);
  SweepPoints cur = Points(sweep);
  ExtendPlan a, b;
  ASSERT_OK(PlanExtension(
      cur, Next(sweep, Edited(R"(values: "2" })", R"(values: "2" values: "3" })")), &a));
  ASSERT_OK(PlanExtension(
      cur, Next(sweep, Edited(R"(values: "2" })", R"(values: "2" values: "4" values: "5" })")),
      &b));
  ASSERT_OK(PublishExtension(Env::Default(), sweep.layout, a, "a"));
  Status s = PublishExtension(Env::Default(), sweep.layout, b, "b");
  EXPECT_TRUE(s.IsAlreadyExists()) << s.ToString();
  EXPECT_NE(s.message().find("versions/0002.textproto"), std::string::npos) << s.message();
  SweepPoints ps = Points(sweep);
  EXPECT_EQ(ps.size(), 6u);  // a's
  EXPECT_EQ(Values(ps)[4], "lr=0.1 seed=3 ");
  std::vector<std::string> tmp;
  ASSERT_OK(Env::Default()->ListDir(sweep.layout.tmp_dir(), &tmp));
  EXPECT_TRUE(tmp.empty()) << tmp.front();
}

TEST(Extend, EditedTornOrMisplacedVersionFilesAreRefusedByName) {
  InitedSweep sweep(kBase);
  ASSERT_OK(Extend(sweep, Edited(R"(values: "2" })", R"(values: "2" values: "3" })")));
  const std::string path = sweep.layout.version_path(2);
  const std::string good = ReadAll(path);
  auto refused = [&](const std::string& text, const std::string& why) {
    WriteRaw(path, text);
    auto p = ReadSweepPoints(Env::Default(), sweep.layout.root());
    ASSERT_FALSE(p.ok()) << why;
    EXPECT_TRUE((p.status().code() == Status::Code::kCorruption)) << p.status().ToString();
    EXPECT_NE(p.status().message().find("versions/0002.textproto"), std::string::npos)
        << p.status().message();
    EXPECT_NE(p.status().message().find(why), std::string::npos) << p.status().message();
  };
  std::string edited = good;
  edited.replace(edited.find("values: \"3\""), 11, "values: \"4\"");
  refused(edited, "was changed after `sweep extend` wrote it");
  refused(good.substr(0, good.size() / 2), "not a whole spec version");
  refused("", "not a whole spec version");
  // A whole file whose chain is wrong: written against another base.
  SpecVersion rec;
  ASSERT_OK(ParseVersionFile(good, "x", &rec));
  rec.set_base_sha256(std::string(64, '0'));
  refused(VersionFileText(rec), "extends another spec than version 1");
  ASSERT_OK(ParseVersionFile(good, "x", &rec));
  rec.mutable_spec()->mutable_command()->set_argv(0, "rm");
  refused(VersionFileText(rec), "the command changed");
  ASSERT_OK(ParseVersionFile(good, "x", &rec));
  rec.mutable_new_points(0)->set_count(40);
  refused(VersionFileText(rec), "outside its spec");
  WriteRaw(path, good);
  EXPECT_OK(ReadSweepPoints(Env::Default(), sweep.layout.root()));
}

// A crash at every filesystem operation of `sweep extend`'s publish: the
// sweep is readable afterwards, at version 1 or 2 whole, and running extend
// again completes it.
TEST(Extend, ACrashAtEveryOperationLeavesTheOldOrTheNewVersionWhole) {
  const std::string next = Edited(R"(values: "2" })", R"(values: "2" values: "3" })");
  long ops_in_full_run = 0;
  {
    InitedSweep sweep(kBase);
    FaultEnv counting(Env::Default());
    ASSERT_OK(Extend(sweep, next, nullptr, &counting));
    ops_in_full_run = counting.ops();
  }
  ASSERT_GE(ops_in_full_run, 3);
  for (int power_cut = 0; power_cut < 2; ++power_cut) {
    for (long crash_at = 0; crash_at <= ops_in_full_run; ++crash_at) {
      SCOPED_TRACE("crash at op " + std::to_string(crash_at) + (power_cut ? ", power cut" : ""));
      InitedSweep sweep(kBase);
      FaultEnv dying(Env::Default());
      dying.CrashAtOp(crash_at);
      dying.DropUnsyncedDataAtCrash(power_cut == 1);
      const bool published = Extend(sweep, next, nullptr, &dying).ok();
      EXPECT_TRUE(published || dying.crashed());
      auto ps = ReadSweepPoints(Env::Default(), sweep.layout.root());
      ASSERT_OK(ps);
      EXPECT_TRUE(ps->size() == 4 || ps->size() == 6) << ps->size();
      if (published) EXPECT_EQ(ps->size(), 6u);
      // Again, by another process after the crash: done, exactly once.
      ASSERT_OK(Extend(sweep, next, nullptr, Env::Default(), "again"));
      ps = ReadSweepPoints(Env::Default(), sweep.layout.root());
      ASSERT_OK(ps);
      EXPECT_EQ(ps->size(), 6u);
      EXPECT_EQ(ps->version(), 2u);
      EXPECT_FALSE(Env::Default()->Exists(sweep.layout.version_path(3)));
    }
  }
}

TEST(Extend, AnUnextendedSweepCostsOneStat) {
  InitedSweep sweep(kBase);
  std::string text;
  auto spec = ReadFrozenSpec(Env::Default(), sweep.layout.root(), &text);
  ASSERT_OK(spec);
  FaultEnv counting(Env::Default());
  auto ps = SweepPoints::Load(&counting, sweep.layout, *spec, text);
  ASSERT_OK(ps);
  EXPECT_EQ(counting.calls(), 1);
  bool grew = true;
  ASSERT_OK(ps->Refresh(&counting, sweep.layout, &grew));
  EXPECT_FALSE(grew);
  EXPECT_EQ(counting.calls(), 2);
}

}  // namespace
}  // namespace claimsweep

namespace claimsweep {
namespace {

const char kRandom[] = R"(
name: "grow"
seed: 7
grid {
  branch { param { name: "model" values: "a" } param { name: "lr" values: "0.1" values: "0.01" } }
  param { name: "seed" values: "1" values: "2" }
}
random { samples: 2 param { name: "wd" log_uniform { low: 1e-5 high: 1e-2 } } }
command { argv: "true" }
)";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const size_t p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

// Spec format 3 draws random values per (grid values, sample): more samples
// and a new branch keep every existing point's draws, so both extend.
TEST(Extend, MoreSamplesAndANewBranchKeepEveryDrawOfTheSweep) {
  InitedSweep sweep(kRandom);
  const std::vector<std::string> before = Values(Points(sweep));
  ASSERT_EQ(before.size(), 8u);
  std::string next = Replace(kRandom, "samples: 2", "samples: 3");
  next = Replace(
      next, R"(  param { name: "seed")",
      R"(  branch { param { name: "model" values: "b" } param { name: "depth" values: "20" } }
  param { name: "seed")");
  ExtendPlan plan;
  SweepPoints cur = Points(sweep);
  ASSERT_OK(PlanExtension(cur, Next(sweep, next), &plan));
  // (2 + 1) grid branches x 2 seeds x 3 samples = 18 points, 8 of them old.
  EXPECT_EQ(plan.added, 10u);
  ASSERT_OK(PublishExtension(Env::Default(), sweep.layout, plan, "t"));
  SweepPoints ps = Points(sweep);
  ASSERT_EQ(ps.size(), 18u);
  for (uint64_t i = 0; i < 8; ++i) EXPECT_EQ(Values(ps)[i], before[i]) << i;
  // The new points: every (lr, seed) gets sample 2; model b's points lack lr.
  int third_samples = 0, model_b = 0;
  const auto v = Values(ps);
  for (uint64_t i = 8; i < 18; ++i) {
    const Point p = ps.At(i);
    if (*p.Find("model") == "b") {
      ++model_b;
      EXPECT_EQ(p.Find("lr"), nullptr) << v[i];
      EXPECT_NE(p.Find("depth"), nullptr) << v[i];
    } else {
      ++third_samples;
    }
  }
  EXPECT_EQ(third_samples, 4);
  EXPECT_EQ(model_b, 6);
  EXPECT_EQ(std::set<std::string>(v.begin(), v.end()).size(), 18u);
  // The union of names, in first-appearance order.
  EXPECT_EQ(ps.names(), (std::vector<std::string>{"model", "lr", "seed", "wd", "depth"}));
}

}  // namespace
}  // namespace claimsweep
