// sweep: the companion tool. Thin: parse the command line, dispatch.
#include <CLI/CLI.hpp>

#include "sweep/commands.h"

using namespace claimsweep;

static const char* kDirHelp =
    "sweep directory (default: $SWEEP_DIR, else the current directory or its nearest ancestor "
    "holding a sweep)";
static const char* kIdxHelp =
    "[DIR] IDX...: trial indices (N or N-M), after an optional sweep directory (a first argument "
    "that is not an "
    "index or range is DIR; default: $SWEEP_DIR, else the current directory or its nearest "
    "ancestor holding a sweep)";

int main(int argc, char** argv) {
  CLI::App app{
      "claimsweep: hyperparameter sweeps on Slurm with no server; the directory is the database."};
  app.set_version_flag("--version", std::string("sweep (claimsweep) ") + CLAIMSWEEP_VERSION);
  app.require_subcommand(1);

  std::string spec, dir, format = "table";
  int limit = 50;

  auto* validate =
      app.add_subcommand("validate", "Check a spec and print its point count; creates nothing");
  validate->add_option("SPEC", spec, "spec file (.textproto)")->required();

  auto* init = app.add_subcommand("init", "Validate SPEC and freeze it into DIR (a new sweep)");
  init->add_option("SPEC", spec, "spec file (.textproto)")->required();
  init->add_option("DIR", dir, "sweep directory to create")->required();

  auto* extend = app.add_subcommand(
      "extend",
      "Grow a sweep: publish NEWSPEC as its next version (every point kept, new points appended)");
  extend->add_option("DIR", dir, "the sweep directory")->required();
  extend->add_option("NEWSPEC", spec, "the new spec (.textproto): the sweep's, extended")
      ->required();

  auto* status =
      app.add_subcommand("status", "Counts per state and the trials that are not pending");
  status->add_option("DIR", dir, kDirHelp);
  status->add_option("--format", format, "table or json")->check(CLI::IsMember({"table", "json"}));
  status->add_option("--limit", limit, "rows in the trial table (0: all)");
  std::string stage;
  status->add_option("--stage", stage, "a derived stage's items instead of the trials");
  bool watch = false;
  double interval = 2;
  status->add_flag(
      "--watch", watch,
      "refresh in place (plain frames when not a terminal) until every trial finished");
  status->add_option("--interval", interval, "seconds between refreshes with --watch")
      ->capture_default_str();

  auto* points = app.add_subcommand("points", "Every point's values");
  points->add_option("DIR", dir, kDirHelp);
  points->add_option("--format", format, "table, csv or json")
      ->check(CLI::IsMember({"table", "csv", "json"}));

  int jobs = 1;
  bool array = false, dry_run = false;
  std::string trial_path;
  auto* submit = app.add_subcommand(
      "submit", "Submit N identical Slurm jobs that each run `trial` (resources from the spec)");
  submit->add_option("DIR", dir, kDirHelp);
  submit->add_option("--jobs,-n", jobs, "number of jobs (or array tasks)")->capture_default_str();
  submit->add_flag("--array", array,
                   "one array job of N tasks (--array=0-(N-1), %throttle from resources)");
  submit->add_flag("--dry-run", dry_run,
                   "print the sbatch command and the job script; submit nothing");
  std::string submit_stage;
  submit->add_option("--stage", submit_stage,
                     "jobs for this derived stage only: its resources, and `trial` claims only "
                     "its items");
  submit->add_option("--trial", trial_path,
                     "the trial binary jobs run (default: the one beside this sweep)");

  SummaryOptions so;
  auto* summary = app.add_subcommand(
      "summary", "One row per trial: state, parameters, metrics (or per group, with statistics)");
  summary->add_option("DIR", so.dir, kDirHelp);
  summary->add_option("--sort", so.sort, "sort by this metric (ascending; --desc for descending)");
  summary->add_flag("--desc", so.desc, "sort descending");
  auto* top_opt = summary->add_option("--top", so.top, "only the first K rows");
  summary->add_option("--where", so.where,
                      "NAME=VALUE: keep matching trials (a parameter or state; repeatable)");
  summary->add_option("--format", so.format, "table, csv, json or markdown")
      ->check(CLI::IsMember({"table", "csv", "json", "markdown"}));
  summary->add_option("--group-by", so.group_by,
                      "P1,P2: one row per group, aggregating the other parameters (e.g. seeds): n, "
                      "mean, std, min, max, "
                      "bootstrap 95% CI of each metric over done trials");
  summary->add_option("--metrics", so.metrics, "M1,M2: only these metric columns");
  summary->add_option("--stage", so.stage,
                      "a derived stage's done items (upstream trial, epoch, parameters, metrics)");

  std::string report_out;
  auto* report = app.add_subcommand(
      "report", "One self-contained HTML file: results table, learning curves, charts, failures");
  report->add_option("DIR", dir, kDirHelp);
  report->add_option("-o,--output", report_out, "HTML file to write")->required();

  ServeOptions serve_opts;
  auto* serve = app.add_subcommand(
      "serve",
      "A live dashboard of the sweeps (the report, refreshed, with stop/resume/retry/reset "
      "buttons) on 127.0.0.1; open the URL it prints (it holds the access token)");
  serve->add_option("DIR", serve_opts.dirs, "sweep directories (default: the current sweep)");
  serve->add_option("--port,-p", serve_opts.port, "TCP port (0: any free one)")
      ->capture_default_str();
  serve
      ->add_option("--host", serve_opts.host,
                   "address to listen on (not loopback: needs --allow-remote)")
      ->capture_default_str();
  serve->add_flag("--allow-remote", serve_opts.allow_remote,
                  "allow a --host that other machines can reach (prints a warning)");
  serve->add_option("--poll", serve_opts.poll_seconds, "seconds between looks at the sweeps")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 60.0));

  std::vector<std::string> idx;
  bool ctl_failed = false, ctl_stopped = false, ctl_force = false;
  std::string ctl_stage;
  const char* kStageHelp =
      "act on this stage's items of the points named (an after_all stage: its item)";
  auto* stop =
      app.add_subcommand("stop",
                         "Stop trials: a running one checkpoints and stops at its next heartbeat; "
                         "a pending one is never claimed");
  stop->add_option("IDX", idx, kIdxHelp);
  stop->add_option("--stage", ctl_stage, kStageHelp);
  auto* reset = app.add_subcommand(
      "reset", "Archive trials' files into DIR/archive/ and run them again from attempt 1");
  reset->add_option("IDX", idx, kIdxHelp);
  reset->add_flag("--failed", ctl_failed, "every failed trial");
  reset->add_flag("--stopped", ctl_stopped, "every stopped trial");
  reset->add_flag("--force", ctl_force, "also reset running trials (only if their owner is gone)");
  reset->add_option("--stage", ctl_stage, kStageHelp);
  auto* retry = app.add_subcommand(
      "retry", "Give failed trials a fresh max_attempts budget (their attempts are kept)");
  retry->add_option("IDX", idx, kIdxHelp);
  retry->add_flag("--failed", ctl_failed, "every failed trial");
  retry->add_option("--stage", ctl_stage, kStageHelp);
  auto* resume =
      app.add_subcommand("resume",
                         "Un-stop stopped trials: they continue from their checkpoints as their "
                         "next attempt (a stopped pending point is claimed as attempt 1)");
  resume->add_option("IDX", idx, kIdxHelp);
  resume->add_flag("--stopped", ctl_stopped, "every stopped trial");
  resume->add_option("--stage", ctl_stage, kStageHelp);

  uint32_t log_attempt = 0;
  bool log_follow = false;
  auto* log = app.add_subcommand("log", "Print a trial's latest attempt's log (or attempt K's)");
  log->add_option("IDX", idx, "[DIR] IDX: the sweep directory (optional) and the trial index")
      ->required();
  log->add_option("--attempt", log_attempt, "attempt K instead of the latest");
  log->add_flag("--follow,-f", log_follow,
                "keep printing what the attempt appends until it no longer runs");

  auto* data = app.add_subcommand("data", "Datasets: generate, import, inspect and verify");
  data->require_subcommand(1);
  SynthOptions synth_opts;
  std::string out, src, data_format;
  double val_fraction = 0.1;
  auto* synth = data->add_subcommand("synth", "Write a deterministic synthetic image dataset");
  synth->add_option("--out", out, "dataset directory to write")->required();
  synth->add_option("--classes", synth_opts.classes, "number of classes")->capture_default_str();
  synth->add_option("--train", synth_opts.train, "training examples")->capture_default_str();
  synth->add_option("--val", synth_opts.val, "validation examples")->capture_default_str();
  synth->add_option("--test", synth_opts.test, "test examples")->capture_default_str();
  synth->add_option("--size", synth_opts.size, "image height and width")->capture_default_str();
  synth->add_option("--channels", synth_opts.channels, "1 (grey) or 3 (RGB)")
      ->capture_default_str();
  synth->add_option("--seed", synth_opts.seed, "same seed, same bytes")->capture_default_str();
  auto* import = data->add_subcommand(
      "import", "Convert CIFAR-10 (binary) or MNIST (IDX) files into a dataset");
  import->add_option("--format", data_format, "cifar10 or mnist")
      ->required()
      ->check(CLI::IsMember({"cifar10", "mnist"}));
  import->add_option("--out", out, "dataset directory to write")->required();
  import->add_option("--val-fraction", val_fraction, "share of the training set moved to val")
      ->capture_default_str();
  import->add_option("SRC", src, "directory holding the source files")->required();
  auto* inspect =
      data->add_subcommand("inspect", "Print a dataset's manifest and verify every checksum");
  inspect->add_option("DIR", dir, "dataset directory")->required();

  FsCheckOptions fso;
  bool fs_json = false;
  auto* fscheck = app.add_subcommand(
      "fscheck",
      "Check the filesystem where a sweep will live: the claim primitives, file times and clock "
      "skew, a second client's delay, symlinks, permissions, space; exit 1 when unsafe");
  fscheck
      ->add_option("DIR", fso.dir,
                   "an existing directory (fscheck works in a private "
                   "subdirectory it removes)")
      ->required();
  fscheck->add_option("--second-mount", fso.second_mount,
                      "a directory showing DIR's files through another client (another node's "
                      "mount): how long changes take to show there");
  fscheck
      ->add_option("--timeout", fso.timeout_seconds,
                   "seconds to wait for each change to show through --second-mount")
      ->capture_default_str();
  fscheck->add_option("--lease-seconds", fso.lease_seconds, "the sweep's claim.lease_seconds")
      ->capture_default_str();
  fscheck
      ->add_option("--heartbeat-seconds", fso.heartbeat_seconds,
                   "the sweep's claim.heartbeat_seconds")
      ->capture_default_str();
  fscheck->add_flag("--json", fs_json, "print the measurements and findings as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (*validate) return CmdValidate(spec);
  if (*fscheck) return CmdFsCheck(fso, fs_json);
  if (*init) return CmdInit(spec, dir);
  if (*extend) return CmdExtend(dir, spec);
  if (*stop || *reset || *retry || *resume || *log) TakeDirArgument(&idx, &dir);
  const bool in_sweep = *status || *points || *summary || *submit || *stop || *reset || *retry ||
                        *resume || *log || *report;
  if (in_sweep && !ResolveSweepDir(*summary ? &so.dir : &dir)) return 2;
  if (*status && watch && !stage.empty())
    return UsageError("--watch shows the sweep's trials; leave out --stage");
  if (*status) return watch ? CmdWatch(dir, interval, limit) : CmdStatus(dir, format, limit, stage);
  if (*points) return CmdPoints(dir, format);
  if (*summary && top_opt->count() > 0 &&
      so.top < 1) {  // also --top=-1, which is the "unset" value
    return UsageError("--top " + std::to_string(so.top) +
                      ": K must be at least 1 (leave --top out for all rows)");
  }
  if (*summary) return CmdSummary(so);
  if (*submit) return CmdSubmit(dir, jobs, array, dry_run, trial_path, submit_stage);
  if (*stop) return CmdStop(dir, idx, ctl_stage);
  if (*reset) return CmdReset(dir, idx, ctl_failed, ctl_stopped, ctl_force, ctl_stage);
  if (*retry) return CmdRetry(dir, idx, ctl_failed, ctl_stage);
  if (*resume) return CmdResume(dir, idx, ctl_stopped, ctl_stage);
  if (*log) {
    if (idx.size() != 1) return UsageError("sweep log takes one trial index: sweep log [DIR] IDX");
    return CmdLog(dir, idx[0], log_attempt, log_follow);
  }
  if (*report) return CmdReport(dir, report_out);
  if (*serve) {
    if (serve_opts.dirs.empty()) {
      if (!ResolveSweepDir(&dir)) return 2;
      serve_opts.dirs.push_back(dir);
    }
    return CmdServe(serve_opts);
  }
  if (*synth) return CmdDataSynth(synth_opts, out);
  if (*import) return CmdDataImport(data_format, out, src, val_fraction);
  if (*inspect) return CmdDataInspect(dir);
  return 2;
}
