// The `sweep` subcommands. Each returns the process exit code
// (core/exit_codes.h: 0 ok, 1 failure or refusal, 2 usage or spec error).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/env.h"
#include "core/exit_codes.h"
#include "core/fscheck.h"
#include "core/sweep_points.h"
#include "data/synth.h"

namespace claimsweep {

int CmdValidate(const std::string& spec_path);
int CmdInit(const std::string& spec_path, const std::string& dir);
// `sweep extend DIR NEWSPEC` (src/sweep/cmd_init.cc).
int CmdExtend(const std::string& dir, const std::string& spec_path);
// `stage` non-empty: that derived stage's items only (exit 2 naming the
// stages when the spec has no such stage).
int CmdStatus(const std::string& dir, const std::string& format, int limit,
              const std::string& stage);
// `sweep status --watch` (src/sweep/cmd_watch.cc): refreshes every `interval` s until all trials
// finished.
int CmdWatch(const std::string& dir, double interval, int limit);
int CmdPoints(const std::string& dir, const std::string& format);
struct SummaryOptions {
  std::string dir;
  std::string sort;  // a metric (or a parameter, wall_seconds, last_attempt_seconds)
  bool desc = false;
  int top = -1;                    // -1: all rows (given, it must be >= 1)
  std::vector<std::string> where;  // NAME=VALUE, all must hold; NAME is a parameter or `state`
  std::string format = "table";    // table | csv | json | markdown
  std::string group_by;            // P1,P2: aggregate over the other parameters
  std::string metrics;             // M1,M2: only these metric columns
  std::string stage;               // a derived stage's done items instead of the trials
};
// `sweep summary` (src/sweep/cmd_summary.cc).
int CmdSummary(const SummaryOptions& options);
// `sweep submit` (src/sweep/cmd_submit.cc). `trial` empty: the one beside `sweep`.
// `stage` non-empty: jobs for that derived stage only (exit 2 naming the
// stages when the spec has no such stage).
int CmdSubmit(const std::string& dir, int jobs, bool array, bool dry_run, const std::string& trial,
              const std::string& stage);
// `sweep report` (src/sweep/cmd_report.cc): the sweep as one self-contained HTML file.
int CmdReport(const std::string& dir, const std::string& out_path);
// `sweep stop|reset|retry|resume` (src/sweep/cmd_control.cc). IDX: "N" or "N-M".
// `stage`: act on that stage's items of the points named (`--stage S`; an
// after_all stage: its items, whatever IDX says).
int CmdStop(const std::string& dir, const std::vector<std::string>& indices,
            const std::string& stage = "");
int CmdReset(const std::string& dir, const std::vector<std::string>& indices, bool failed,
             bool stopped, bool force, const std::string& stage = "");
int CmdRetry(const std::string& dir, const std::vector<std::string>& indices, bool failed,
             const std::string& stage = "");
int CmdResume(const std::string& dir, const std::vector<std::string>& indices, bool stopped,
              const std::string& stage = "");
// The code of those four commands, for `sweep serve`'s buttons too: `out`
// holds what the command prints on stdout (one line per trial), `error` its
// usage or failure message (the CLI prints "sweep: <error>" on stderr), `rc`
// its exit code.
enum class ControlOp { kStop, kReset, kRetry, kResume };
struct ControlOutcome {
  int rc = 0;
  std::string out;
  std::string error;
};
ControlOutcome RunControl(ControlOp op, const std::string& dir,
                          const std::vector<std::string>& args, bool failed, bool stopped,
                          bool force, const std::string& stage);
int RunControlInto(ControlOp op, const std::string& dir, const std::vector<std::string>& args,
                   bool failed, bool stopped, bool force, const std::string& stage,
                   ControlOutcome* out);
// `sweep serve` (src/sweep/cmd_serve.cc): the sweeps' live dashboard.
struct ServeOptions {
  std::vector<std::string> dirs;
  std::string host = "127.0.0.1";
  int port = 0;               // 0: any free port
  bool allow_remote = false;  // needed for a host that is not loopback
  double poll_seconds = 0.5;  // how often the sweeps are looked at
};
int CmdServe(const ServeOptions& options);
// `sweep log` (src/sweep/cmd_log.cc): attempt 0 is the latest.
int CmdLog(const std::string& dir, const std::string& index, uint32_t attempt, bool follow);
// `sweep fscheck` (src/sweep/cmd_fscheck.cc): 0 safe, 1 unsafe, 2 bad arguments.
int CmdFsCheck(const FsCheckOptions& options, bool json);
// Decimal digits only (an index).
bool ParseIndex(const std::string& s, uint64_t* v);

// The sweep a command works on (src/sweep/sweep_dir.cc): `*dir` if given,
// else $SWEEP_DIR, else the current directory or its nearest ancestor holding
// a sweep (as `trial` finds it). Prints the error and returns false if none.
bool ResolveSweepDir(std::string* dir);
// For commands taking [DIR] IDX...: a first argument that is not an index
// (N) or a range (N-M) is DIR; it is moved from `args` into `*dir`. (A sweep
// directory named like an index is written ./3.)
void TakeDirArgument(std::vector<std::string>* args, std::string* dir);

// A sweep opened for a command: the Env confined to it, its spec (the
// latest version: `sweep extend`) and its points over every version
// (src/sweep/sweep_dir.cc).
struct OpenedSweep {
  std::unique_ptr<Env> env;
  SweepSpec spec;
  std::optional<SweepPoints> points;
};
// Reads DIR's frozen spec through the sweep's own Env. On error prints it and
// returns false (the caller exits 2).
bool OpenSweep(const std::string& dir, OpenedSweep* out);

// Prints "sweep: <message>" to stderr and returns 2.
int UsageError(const std::string& message);
int Failure(const std::string& message);

// `sweep data synth|import|inspect` (src/sweep/cmd_data.cc).
int CmdDataSynth(const SynthOptions& options, const std::string& out_dir);
int CmdDataImport(const std::string& format, const std::string& out_dir, const std::string& src,
                  double val_fraction);
int CmdDataInspect(const std::string& dir);

}  // namespace claimsweep
