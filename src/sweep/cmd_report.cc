// `sweep report DIR -o FILE`: the sweep as one self-contained HTML file
// (src/sweep/report_html.h says what is in it).
#include <cstdio>
#include <ctime>

#include "core/results.h"
#include "sweep/commands.h"
#include "sweep/report_html.h"

namespace claimsweep {

int CmdReport(const std::string& dir, const std::string& out_path) {
  std::unique_ptr<Env> env = NewSweepEnv(dir);
  SweepResults res;
  LoadOptions lo;
  lo.curves = true;
  lo.log_tails = true;
  Status s = LoadResults(env.get(), dir, lo, &res);
  if (!s.ok()) return UsageError(s.ToString());

  ReportOptions ro;
  char now[32];
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
  ro.generated_at = now;
  const std::string html = RenderReportHtml(res, ro, LoadStageEvalCurves(env.get(), dir, res.spec));

  // Write-then-rename: a browser open on the old report never reads half a file.
  s = env->WriteFileAtomic(out_path, html);
  if (!s.ok()) return Failure(s.ToString());
  size_t broken = 0;
  for (const auto& tr : res.trials) broken += !tr.problem.empty();
  std::string note;
  if (broken > 0)
    note = ", " + std::to_string(broken) + " with problems (see the table's problem column)";
  std::printf("wrote %s: %zu claimed trials of %llu points, %.1f KiB%s\n", out_path.c_str(),
              res.trials.size(), static_cast<unsigned long long>(res.num_points),
              html.size() / 1024.0, note.c_str());
  return 0;
}

}  // namespace claimsweep
