// The HTML report of a sweep (`sweep report DIR -o FILE`): one self-contained
// file (inline CSS, inline SVG charts drawn here, a few lines of inline JS;
// nothing is fetched, and a Content-Security-Policy forbids fetching) with
// the state counts, a sortable table of the claimed trials (pending points
// are counted, not listed; metrics rank done trials only), learning curves, the
// validation curves of all trials overlaid, the primary metric against each
// swept parameter, for each each_checkpoint stage with the built-in eval task
// its accuracy against epoch per trial, with early_stopping its rungs (a
// table of rungs, the compute used against training every configuration to
// max_epochs, the rungs' budgets as dashed lines on the validation curves),
// and the log tails of failed trials.
//
// Everything that comes from the sweep (names, values, log text, paths) goes
// through HtmlEscape; non-finite numbers are never plotted.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/results.h"
#include "sweep/svg_chart.h"

namespace claimsweep {

struct ReportOptions {
  std::string generated_at;  // shown as is, e.g. "2026-11-23T10:14:01Z"
  size_t max_curve_trials =
      200;  // per-trial learning curves drawn (a note says how many were left out)
  size_t max_overlay_trials = 1000;  // lines in the overlaid validation chart
  // Rows of the table; 0: every claimed trial (`sweep report`). `sweep
  // serve` lists the trials that are not done first, then done ones.
  size_t max_table_rows = 0;
  // Dots per metric-against-parameter chart; 0: every done trial. More: an
  // even sample of them (by index).
  size_t max_param_dots = 0;
};

// An each_checkpoint stage with the built-in eval task: per trial (upstream
// point), (epoch, acc) of its done items, from
// stages/<stage>/items/<item>/result.json (a TrialResult with `epoch` and the
// eval metrics).
struct StageEvalCurves {
  std::string stage;
  std::map<uint64_t, std::vector<ChartPoint>> acc;  // by trial; points by epoch
  size_t unreadable = 0;  // result.json files that did not parse (not drawn)
};

// One entry per such stage of `spec`, in spec order (an empty `acc` while
// no item is done).
std::vector<StageEvalCurves> LoadStageEvalCurves(Env* env, const std::string& sweep_dir,
                                                 const SweepSpec& spec);

// REQUIRES: `res` from LoadResults with curves and log tails, for the
// charts and the failed trials' logs to be filled (without them those
// sections say there is nothing to show).
std::string RenderReportHtml(const SweepResults& res, const ReportOptions& options,
                             const std::vector<StageEvalCurves>& stages = {});

// The report's content without the document around it (title, directory
// line, script): from the state counts to the failed trials' logs. `sweep
// serve` shows it live. Its table is sortable by the report's script (or
// the dashboard's): th[data-type=num] sorts by td[data-v].
std::string RenderReportBody(const SweepResults& res, const ReportOptions& options,
                             const std::vector<StageEvalCurves>& stages = {});
// The report's stylesheet (CSS text).
std::string ReportStyle();

}  // namespace claimsweep
