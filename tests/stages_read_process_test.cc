// Reading derived stages with the real `sweep` binary: `sweep status` counts
// per stage and `--stage S` rows, blocked naming its input and unblocked by
// `sweep retry`, `sweep summary --stage` rows with exact numbers, and an
// unknown stage refused naming the stages. The stages' items are made by
// hand as docs/derived-work.md §1.1 lays them out (the runtime that claims
// them is not what is tested here).
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/json.h"
#include "proc_sweep.h"
#include "process_util.h"
#include "records.pb.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;

// Trial 2 fails (one attempt allowed); the others are done.
const std::string kSpec = R"(name: "st"
grid { param { name: "x" range { start: 0 stop: 3 step: 1 } } }
command { argv: "sh" argv: "-c" argv: "test $SWEEP_INDEX != 2" }
claim { max_attempts: 1 trials_per_job: 0 }
stage { name: "post" each_trial: true command { argv: "true" } }
stage { name: "collect" after_all: "post" command { argv: "true" } }
)";

// each_checkpoint needs a train task that keeps checkpoints (checked at
// init), so these sweeps train (their trials are never run here: items
// are made by hand) on a tiny synthetic dataset.
struct TrainSweep {
  TempDir data;
  bool made =
      RunProcess({SWEEP_BIN, "data", "synth", "--out", data.path() + "/d", "--train", "8", "--val",
                  "1", "--test", "0", "--size", "8", "--channels", "1", "--classes", "2"})
          .exit_code == 0;
  ProcSweep s{R"(name: "st"
grid { param { name: "seed" range { start: 0 stop: 3 step: 1 } } }
train { model: "resnet_cifar" depth: 8 dataset: ")" +
              data.path() + R"(/d" epochs: 4 keep_checkpoints_every: 2 }
claim { max_attempts: 1 trials_per_job: 0 }
stage { name: "post" each_trial: true command { argv: "true" } }
stage { name: "eval" each_checkpoint: true command { argv: "true" } }
stage { name: "collect" after_all: "post" command { argv: "true" } }
)"};
};

void MkDirs(const std::string& path) {
  for (size_t p = 1; p != std::string::npos; p = path.find('/', p + 1))
    ::mkdir(path.substr(0, p).c_str(), 0755);
  ::mkdir(path.c_str(), 0755);
}

// `sweep ARGS...`'s stdout alone, and its exit code.
std::string Stdout(const std::vector<std::string>& args, int* code = nullptr) {
  std::string cmd = std::string("'") + SWEEP_BIN + "' ";
  for (const auto& a : args) cmd += "'" + a + "' ";
  RunResult r = RunProcess({"sh", "-c", cmd + "2>/dev/null"});
  if (code != nullptr) *code = r.exit_code;
  return r.output;
}

Struct ParseStruct(const std::string& text) {
  Struct m;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &m).ok()) << text;
  return m;
}

double Num(const Struct& s, const std::string& k) { return s.fields().at(k).number_value(); }

// A done item of `stage` at `key`, its record as a stage's task commits it.
void DoneItem(const ProcSweep& s, const std::string& stage, uint64_t key, uint32_t epoch,
              double acc, const std::string& param = "seed") {
  const SweepLayout l = SweepLayout::ForStage(s.dir, stage);
  MkDirs(l.attempt_dir(key, 1));
  WriteRaw(l.owner_path(key, 1), "{}");
  TrialResult r;
  r.set_format_version(kJsonRecordVersion);
  r.set_index(ItemUpstream(key));
  r.set_attempt(1);
  r.set_outcome("done");
  r.set_duration_seconds(1.5);
  r.set_total_seconds(1.5);
  r.set_stage(stage);
  r.set_item(ItemName(key));
  r.set_epoch(epoch);
  (*r.mutable_params())[param] = std::to_string(ItemUpstream(key));
  (*r.mutable_metrics()->mutable_fields())["test_acc"].set_number_value(acc);
  WriteRaw(l.result_path(key), ToJson(r));
}

TEST(StagesRead, StatusCountsEachStageAndBlockedNamesTheFailedTrialUntilARetry) {
  ProcSweep s(kSpec);
  s.RunTrial();  // 0 and 1 done, 2 failed (exit 1)
  ASSERT_TRUE(Env::Default()->Exists(s.layout.result_path(1)));
  // `trial` ran post's items of the done trials 0 and 1 too.

  const std::string text = Stdout({"status", s.dir});
  EXPECT_NE(text.find("\nstage post (each_trial of trials): 3 items  pending 0  running 0  "
                      "interrupted 0  stale 0  done 2  failed 0  stopped 0  broken 0  blocked 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nstage collect (after_all of post): 1 item  "), std::string::npos) << text;
  EXPECT_NE(text.find("  (`sweep status --stage post` says why items are blocked or broken)\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("blocked", text.find('\n')), text.find("blocked 1"))
      << "the trials' line has no blocked count: " << text;

  const Struct whole = ParseStruct(Stdout({"status", s.dir, "--format", "json"}));
  EXPECT_EQ(Num(whole, "failed"), 1);
  EXPECT_EQ(Num(whole, "blocked"), 0);
  const ListValue& stages = whole.fields().at("stages").list_value();
  ASSERT_EQ(stages.values_size(), 2);
  const Struct& post = stages.values(0).struct_value();
  EXPECT_EQ(post.fields().at("stage").string_value(), "post");
  EXPECT_EQ(post.fields().at("kind").string_value(), "each_trial");
  EXPECT_EQ(Num(post, "total"), 3);
  EXPECT_EQ(Num(post, "done"), 2);
  EXPECT_EQ(Num(post, "blocked"), 1);
  const Struct& b = post.fields().at("blocked_items").list_value().values(0).struct_value();
  EXPECT_EQ(b.fields().at("item").string_value(), "000002-0000");
  EXPECT_EQ(b.fields().at("problem").string_value(), "trials/000002 failed (1 attempt)");
  const Struct& collect = stages.values(1).struct_value();
  EXPECT_EQ(Num(collect, "blocked"), 1);
  EXPECT_EQ(collect.fields()
                .at("blocked_items")
                .list_value()
                .values(0)
                .struct_value()
                .fields()
                .at("problem")
                .string_value(),
            "stages/post/items/000002-0000 blocked: trials/000002 failed (1 attempt)");
  // --stage: that stage's object alone, the same as in the list.
  const std::string one = Stdout({"status", s.dir, "--stage", "post", "--format", "json"});
  EXPECT_EQ(ParseStruct(one).DebugString(), post.DebugString()) << one;

  const std::string rows = Stdout({"status", s.dir, "--stage", "post"});
  EXPECT_NE(rows.find("item         state    attempt  failures  host  job  heartbeat  trial  x  "
                      "problem"),
            std::string::npos)
      << rows;
  EXPECT_NE(rows.find("000002-0000  blocked  0"), std::string::npos) << rows;
  EXPECT_NE(rows.find("trials/000002 failed (1 attempt)"), std::string::npos) << rows;

  // The helper other tests use reads the trials' counts, not a stage's.
  EXPECT_EQ(StatusCounts(s.dir)["done"], 2);
  EXPECT_EQ(StatusCounts(s.dir, "post")["done"], 2);
  EXPECT_EQ(StatusCounts(s.dir, "post")["blocked"], 1);

  // A retried input unblocks: nothing downstream is blocked any more.
  ASSERT_EQ(s.Sweep({"retry", s.dir, "2"}).exit_code, 0);
  const Struct after = ParseStruct(Stdout({"status", s.dir, "--format", "json"}));
  for (const auto& st : after.fields().at("stages").list_value().values()) {
    EXPECT_EQ(Num(st.struct_value(), "blocked"), 0) << st.DebugString();
  }
}

TEST(StagesRead, SummaryOfAStageHasADoneRowPerItemWithTrialEpochParamsAndExactMetrics) {
  TrainSweep t;
  ASSERT_TRUE(t.made);
  ProcSweep& s = t.s;
  DoneItem(s, "eval", ItemKey(1, 4), 4, 0.1 + 0.2);
  DoneItem(s, "eval", ItemKey(0, 2), 2, 0.25);
  // A running item is no result: not a row.
  const SweepLayout eval = SweepLayout::ForStage(s.dir, "eval");
  MkDirs(eval.attempt_dir(ItemKey(0, 4), 1));
  WriteRaw(eval.owner_path(ItemKey(0, 4), 1), "{}");

  const std::string csv = Stdout({"summary", s.dir, "--stage", "eval", "--format", "csv"});
  EXPECT_EQ(csv,
            "item,trial,epoch,attempts,seed,test_acc,wall_seconds,last_attempt_seconds\n"
            "000000-0002,0,2,1,0,0.25,1.5,1.5\n"
            "000001-0004,1,4,1,1,0.30000000000000004,1.5,1.5\n");
  const std::string json = Stdout({"summary", s.dir, "--stage", "eval", "--format", "json"});
  EXPECT_NE(
      json.find("{\"item\":\"000001-0004\",\"trial\":1,\"epoch\":4,\"attempts\":1,\"seed\":\"1\","
                "\"test_acc\":0.30000000000000004,"),
      std::string::npos)
      << json;
  const std::string md = Stdout({"summary", s.dir, "--stage", "eval", "--format", "markdown"});
  EXPECT_NE(md.find("| 000001-0004 | 1 | 4 | 1 | 1 | 0.30000000000000004 |"), std::string::npos)
      << md;
  const std::string table =
      Stdout({"summary", s.dir, "--stage", "eval", "--sort", "epoch", "--desc"});
  EXPECT_LT(table.find("000001-0004"), table.find("000000-0002")) << table;
  EXPECT_NE(table.find("0.3 "), std::string::npos) << table;  // rounded for eyes only
  // A funnel's item has no upstream point: no trial, epoch or parameters.
  DoneItem(s, "collect", ItemKey(0, 1), 0, 0.75);
  EXPECT_EQ(Stdout({"summary", s.dir, "--stage", "collect", "--format", "csv"}),
            "item,attempts,test_acc,wall_seconds,last_attempt_seconds\n"
            "000000-0001,1,0.75,1.5,1.5\n");
}

// A fake sbatch that saves the script it is given: `sweep submit --stage`
// writes slurm/job-<S>.sh and lists the stage in jobs.tsv; the sweep's own
// job keeps slurm/job.sh and its three columns.
TEST(StagesRead, SubmitOfAStageWritesItsOwnScriptAndListsTheStage) {
  TrainSweep t;
  ASSERT_TRUE(t.made);
  ProcSweep& s = t.s;
  const std::string bin = s.tmp.path() + "/bin";
  MkDirs(bin);
  WriteRaw(bin + "/sbatch", "#!/bin/sh\ncat > \"$0.script\"\necho 4242\n");
  ASSERT_EQ(::chmod((bin + "/sbatch").c_str(), 0755), 0);
  const std::vector<std::string> path = {"PATH=" + bin + ":/usr/bin:/bin"};
  RunResult r =
      RunProcess({SWEEP_BIN, "submit", s.dir, "--stage", "eval", "--trial", TRIAL_BIN}, path);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("`sweep status " + s.dir + " --stage eval` shows progress"),
            std::string::npos)
      << r.output;
  const std::string script = ReadAll(s.dir + "/slurm/job-eval.sh");
  EXPECT_NE(script.find("export SWEEP_STAGE='eval'\n"), std::string::npos) << script;
  EXPECT_EQ(ReadAll(bin + "/sbatch.script"), script);  // what was submitted
  EXPECT_FALSE(Env::Default()->Exists(s.dir + "/slurm/job.sh"));
  r = RunProcess({SWEEP_BIN, "submit", s.dir, "--trial", TRIAL_BIN}, path);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(ReadAll(s.dir + "/slurm/job.sh").find("SWEEP_STAGE"), std::string::npos);
  const std::string jobs = ReadAll(s.dir + "/slurm/jobs.tsv");
  const size_t nl = jobs.find('\n');
  ASSERT_NE(nl, std::string::npos) << jobs;
  const std::string first = jobs.substr(0, nl), second = jobs.substr(nl + 1);
  EXPECT_EQ(first.substr(0, 5), "4242\t") << jobs;
  EXPECT_EQ(first.substr(first.size() - 9), "\tjob\teval") << jobs;
  EXPECT_EQ(std::count(second.begin(), second.end(), '\t'), 2) << jobs;
  EXPECT_EQ(second.substr(second.size() - 5), "\tjob\n") << jobs;
}

TEST(StagesRead, AnUnknownStageExitsTwoNamingTheStages) {
  TrainSweep t;
  ASSERT_TRUE(t.made);
  ProcSweep& s = t.s;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"status", s.dir, "--stage", "nope"},
        std::vector<std::string>{"summary", s.dir, "--stage", "nope"},
        std::vector<std::string>{"submit", s.dir, "--stage", "nope", "--dry-run", "--trial",
                                 TRIAL_BIN}}) {
    RunResult r = s.Sweep(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.output;
    EXPECT_NE(r.output.find("no such stage (stages: post, eval, collect)"), std::string::npos)
        << args[0] << ": " << r.output;
  }
}

}  // namespace
}  // namespace claimsweep::testing
