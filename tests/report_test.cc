// `sweep report`: a real command sweep run by the real `trial`, rendered by
// the real `sweep`, and loaded in a headless Chromium. The sweep is hostile:
// a parameter value `<b>&"'`, a metric column `q<i>`, a failed trial whose
// log says `</pre><script>window.__pwned=1</script>`, and inf/nan cells in
// metrics.csv. A report that runs the log's script, fetches anything, draws
// an invalid SVG coordinate or fails to sort is a failed test.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/layout.h"
#include "process_util.h"
#include "sweep/report_html.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

constexpr char kChromium[] = "/usr/bin/chromium";
constexpr char kHostileLog[] = "</pre><script>window.__pwned=1</script>";
constexpr char kHostileLogEscaped[] = "&lt;/pre&gt;&lt;script&gt;window.__pwned=1&lt;/script&gt;";
constexpr char kHostileParamEscaped[] = "&lt;b&gt;&amp;&quot;&#39;";

// 6 points: x in {1,2,3} (slowest) times tag in {plain, <b>&"'}. Point 5
// (x=3, the hostile tag) fails with the hostile log; the others write 3
// epochs, plus a row of inf/nan between epochs 1 and 2. q<i> ends at 3*x*x,
// so sorting it as text ("12" < "27" < "3") differs from sorting by number.
const char kSpec[] = R"pb(
  name: "report<&>"
  grid {
    param { name: "x" values: "1" values: "2" values: "3" }
    param { name: "tag" values: "plain" values: "<b>&\"'" }
  }
  command {
    argv: "sh"
    argv: "-c"
    argv: "if [ {index} = 5 ]; then echo 'starting'; echo '</pre><script>window.__pwned=1</script>'; exit 1; fi; f={trial_dir}/metrics.csv; printf 'epoch,val_loss,val_acc,q<i>\\n' > $f; for e in 1 2 3; do echo $e,$((10 - e * {x})),0.$((e * {x})),$((e * {x} * {x})) >> $f; if [ $e = 1 ]; then echo 1.5,inf,nan,-inf >> $f; fi; done"
  }
  claim { max_attempts: 1 trials_per_job: 0 }
)pb";

constexpr int kPoints = 6, kDone = 5;
// Charts: the overlay, one per parameter (2), and per done trial loss,
// accuracy and the other columns (q<i>).
constexpr int kCharts = 1 + 2 + kDone * 3;
// index, state, attempts, x, tag, the metrics (epoch, q<i>, val_acc, val_loss), wall_seconds,
// last_attempt_seconds.
constexpr int kColumns = 3 + 2 + 4 + 2;

struct ReportSweep {
  TempDir tmp;
  std::string dir = tmp.path() + "/sweep";
  std::string html_path = tmp.path() + "/report.html";

  ReportSweep() {
    ::umask(022);
    std::ofstream(tmp.path() + "/spec.textproto") << kSpec;
    RunResult init = RunProcess({SWEEP_BIN, "init", tmp.path() + "/spec.textproto", dir});
    EXPECT_EQ(init.exit_code, 0) << init.output;
    RunResult run = RunProcess({TRIAL_BIN}, {"SWEEP_DIR=" + dir}, tmp.path());
    auto counts = StatusCounts(dir);
    EXPECT_EQ(counts["done"], kDone) << run.output;
    EXPECT_EQ(counts["failed"], 1) << run.output;
  }
  std::string Render() {
    RunResult r = RunProcess({SWEEP_BIN, "report", dir, "-o", html_path});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return ReadAll(html_path);
  }
};

// An SVG coordinate or size that is not a finite number.
bool HasNonFiniteCoordinate(const std::string& html) {
  static const std::regex bad(R"re(\b(points|cx|cy|x|y|x1|x2|y1|y2|r|transform)="[^"]*(nan|inf))re",
                              std::regex::icase);
  return std::regex_search(html, bad);
}

TEST(Report, EscapesEverySweepValueAndReferencesNothingOutside) {
  ReportSweep s;
  const std::string html = s.Render();
  ASSERT_FALSE(html.empty());

  // The log's markup is text, not markup; ours is the only script.
  EXPECT_EQ(html.find("<script>window.__pwned"), std::string::npos);
  EXPECT_EQ(html.find(kHostileLog), std::string::npos);
  EXPECT_NE(html.find(kHostileLogEscaped), std::string::npos)
      << "the failed trial's log tail is missing";
  EXPECT_EQ(Count(html, "<script"), 1u);
  EXPECT_EQ(Count(html, "</pre>"), 1u) << "one failed trial, one log";
  // The parameter value, the metric name and the sweep name, escaped wherever they appear.
  EXPECT_EQ(html.find("<b>&\"'"), std::string::npos);
  EXPECT_NE(html.find(kHostileParamEscaped), std::string::npos);
  EXPECT_EQ(html.find("<i>"), std::string::npos);
  EXPECT_NE(html.find("q&lt;i&gt;"), std::string::npos);
  EXPECT_EQ(html.find("report<&>"), std::string::npos);
  EXPECT_NE(html.find("Sweep report&lt;&amp;&gt;"), std::string::npos);

  // Self-contained: nothing to fetch.
  for (const char* ref :
       {"http://", "https://", "src=", "href=", "url(", "@import", "<link", "<img", "<iframe"}) {
    EXPECT_EQ(html.find(ref), std::string::npos) << ref;
  }

  EXPECT_EQ(Count(html, "<tr class=\"trial"), static_cast<size_t>(kPoints));
  EXPECT_NE(html.find("data-state=\"done\">done <b>5</b>"), std::string::npos);
  EXPECT_NE(html.find("data-state=\"failed\">failed <b>1</b>"), std::string::npos);
  EXPECT_EQ(Count(html, "<svg"), static_cast<size_t>(kCharts));
  EXPECT_EQ(Count(html, "<details"), static_cast<size_t>(kDone));
  EXPECT_FALSE(HasNonFiniteCoordinate(html)) << "metrics.csv's inf/nan row reached the SVG";
}

TEST(Report, BrokenTrialFilesAreShownInTheTableNotFatal) {
  ReportSweep s;
  SweepLayout layout(s.dir);
  WriteRaw(layout.result_path(2), "{\"exit_code\": 0, \"metr");  // half-written
  const std::string html = s.Render();
  EXPECT_EQ(Count(html, "<tr class=\"trial"), static_cast<size_t>(kPoints));
  EXPECT_NE(html.find("done (broken)"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"problem\">"), std::string::npos);
  EXPECT_NE(html.find("000002/result.json"), std::string::npos) << "the problem names the file";
}

// Chromium's stdout (the DOM after the page's scripts ran) and its log.
struct Loaded {
  std::string dom, log;
  int exit_code;
};

Loaded LoadInChromium(const std::string& html_path, const std::string& work) {
  // No skipping: a report test that did not run is not a passed one.
  if (::access(kChromium, X_OK) != 0) {
    ADD_FAILURE() << kChromium << " not found: run `make deps` (it installs Debian's chromium)";
    return {"", "", -1};
  }
  const std::string profile = work + "/chromium-profile";
  const std::string cmd =
      std::string(kChromium) +
      " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
      " --disable-background-networking --disable-component-update --disable-sync"
      " --enable-logging=stderr --v=0 --user-data-dir=" +
      profile + " --virtual-time-budget=5000 --dump-dom file://" + html_path + " > " + work +
      "/dom.html 2> " + work + "/chromium.log";
  RunResult r = RunProcess({"sh", "-c", cmd});
  return {ReadAll(work + "/dom.html"), ReadAll(work + "/chromium.log"), r.exit_code};
}

std::string Attr(const std::string& dom, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(dom, m, std::regex(name + "=\"([^\"]*)\""))) return "<absent>";
  return m[1];
}

TEST(Report, LoadsInHeadlessChromiumWithoutErrorsAndSorts) {
  ReportSweep s;
  std::string html = s.Render();
  // The test's own probe, appended to a copy: sorts by q<i> twice as a user
  // would by clicking, and writes the row orders into the DOM.
  const std::string probe = R"js(<script>
(function () {
  var heads = document.querySelectorAll('#results th'), th = null;
  for (var i = 0; i < heads.length; i++) if (heads[i].textContent === 'q<i>') th = heads[i];
  function order() {
    return Array.prototype.map.call(document.querySelectorAll('#results tbody tr'),
                                    function (r) { return r.cells[0].textContent; }).join(',');
  }
  th.click();
  document.body.setAttribute('data-probe-asc', order() + ';' + th.getAttribute('aria-sort'));
  th.click();
  document.body.setAttribute('data-probe-desc', order() + ';' + th.getAttribute('aria-sort'));
})();
</script></body>)js";
  const size_t end = html.rfind("</body>");
  ASSERT_NE(end, std::string::npos);
  html.replace(end, 7, probe);
  const std::string probed = s.tmp.path() + "/probed.html";
  WriteRaw(probed, html);

  Loaded page = LoadInChromium(probed, s.tmp.path());
  ASSERT_EQ(page.exit_code, 0) << page.log;
  ASSERT_NE(page.dom.find("<body"), std::string::npos) << "no DOM dumped; chromium said:\n"
                                                       << page.log;

  EXPECT_EQ(Attr(page.dom, "data-ready"), "1") << "the report's script did not finish";
  EXPECT_EQ(Attr(page.dom, "data-count"), "0") << "the report's script recorded errors";
  EXPECT_EQ(Count(page.dom, "class=\"sortable-ready\""), static_cast<size_t>(kColumns));
  EXPECT_EQ(Count(page.dom, "<svg"), static_cast<size_t>(kCharts));
  // The overlay's val_acc, and each trial's val_loss, val_acc and q<i>.
  EXPECT_EQ(Count(page.dom, "<polyline"), static_cast<size_t>(kDone + kDone * 3));
  // By number, missing values last: 3, 3, 12, 12, 27, (failed). As text it would be 12, 12, 27,
  // 3, 3.
  EXPECT_EQ(Attr(page.dom, "data-probe-asc"),
            "000000,000001,000002,000003,000004,000005;ascending");
  EXPECT_EQ(Attr(page.dom, "data-probe-desc"),
            "000004,000002,000003,000000,000001,000005;descending");

  // The log's script never ran: it is text in the <pre>, and only the
  // report's and the probe's scripts exist.
  EXPECT_NE(page.dom.find(kHostileLogEscaped), std::string::npos);
  EXPECT_EQ(page.dom.find("<script>window.__pwned"), std::string::npos);
  EXPECT_EQ(Count(page.dom, "<script"), 2u);

  std::istringstream log(page.log);
  for (std::string line; std::getline(log, line);) {
    EXPECT_EQ(line.find("Uncaught"), std::string::npos) << line;
    EXPECT_EQ(line.find("CONSOLE"), std::string::npos) << line;
    EXPECT_EQ(line.find("Content Security Policy"), std::string::npos) << line;
  }
}

// In-process: the renderer never writes a non-finite SVG coordinate, whatever
// the numbers, and escapes all five characters.
TEST(Report, HtmlEscapeAndNonFiniteNumbers) {
  EXPECT_EQ(HtmlEscape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
  EXPECT_EQ(HtmlEscape(std::string("x\0y", 3)), "x\xEF\xBF\xBDy");

  SweepResults res;
  res.spec.set_name("n");
  res.param_names = {"p"};
  res.metric_names = {"best_val_acc"};
  for (uint64_t i = 0; i < 4; ++i) {
    TrialRecord t;
    t.index = i;
    t.state = TrialState::kDone;
    t.params = {i == 3 ? "nan" : std::to_string(i)};
    t.metrics["best_val_acc"] = i == 2 ? INFINITY : 0.5;
    t.curve_columns = {"epoch", "val_loss", "val_acc"};
    t.curve = {{1, NAN, 0.1}, {2, INFINITY, -INFINITY}, {NAN, 1, 0.2}, {3, 0.5, 0.3}};
    res.trials.push_back(t);
  }
  TrialRecord all_nan;
  all_nan.index = 4;
  all_nan.state = TrialState::kDone;
  all_nan.params = {"4"};
  all_nan.curve_columns = {"epoch", "val_acc"};
  all_nan.curve = {{NAN, NAN}};
  res.trials.push_back(all_nan);
  const std::string html = RenderReportHtml(res, ReportOptions());
  EXPECT_FALSE(HasNonFiniteCoordinate(html));
  EXPECT_GT(Count(html, "<polyline"), 0u);
}

// A failed trial's metrics (its last metrics.csv row) are shown, never
// ranked: they sort after every done trial, and the charts of the metric
// against the parameters plot done trials only.
TEST(Report, FailedTrialsAreShownButNotRanked) {
  SweepResults res;
  res.spec.set_name("n");
  res.param_names = {"p"};
  res.metric_names = {"score"};
  for (uint64_t i = 0; i < 3; ++i) {
    TrialRecord t;
    t.index = i;
    t.state = i == 1 ? TrialState::kFailed : TrialState::kDone;
    t.params = {std::to_string(i)};
    t.metrics["score"] = i == 1 ? 99 : static_cast<double>(i);
    res.trials.push_back(t);
  }
  const std::string html = RenderReportHtml(res, ReportOptions());
  const size_t failed_row = html.find("<tr class=\"trial state-failed\">");
  ASSERT_NE(failed_row, std::string::npos);
  const std::string row = html.substr(failed_row, html.find("</tr>", failed_row) - failed_row);
  EXPECT_NE(row.find("<td data-v=\"\">99</td>"), std::string::npos) << row;
  EXPECT_NE(html.find("<td data-v=\"2\">2</td>"), std::string::npos);
  EXPECT_EQ(Count(html, "class=\"dot\""), 2u) << "one dot per done trial";
  EXPECT_EQ(html.find("score=99"), std::string::npos);
}

// An each_checkpoint stage with the eval task: its items' result.json files
// (written here by hand, as `trial` commits them) give one chart of acc
// against epoch with one line per trial; items of other stages, unfinished
// items and torn results are not drawn.
TEST(Report, AnEvalStageIsDrawnAsAccAgainstEpochPerTrial) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/sweep";
  SweepResults res;
  res.spec.set_name("pipeline");
  res.dir = dir;
  res.param_names = {"lr"};
  for (uint64_t i = 0; i < 2; ++i) {
    TrialRecord t;
    t.index = i;
    t.state = TrialState::kDone;
    t.params = {i == 0 ? "0.1" : "0.03"};
    res.trials.push_back(t);
  }
  Stage* eval = res.spec.add_stage();
  eval->set_name("eval");
  eval->set_each_checkpoint(true);
  eval->mutable_eval()->set_split("test");
  Stage* other = res.spec.add_stage();  // a command over each checkpoint: not an eval
  other->set_name("plot");
  other->set_each_checkpoint(true);
  other->mutable_command()->add_argv("true");
  Stage* funnel = res.spec.add_stage();
  funnel->set_name("collect");
  funnel->set_after_all("eval");
  funnel->mutable_command()->add_argv("true");

  const SweepLayout items = SweepLayout::ForStage(dir, "eval");
  auto write_item = [&](uint32_t trial, uint32_t epoch, double acc) {
    const uint64_t key = ItemKey(trial, epoch);
    ASSERT_OK(Env::Default()->CreateDirs(items.trial_dir(key)));
    WriteRaw(items.result_path(key),
             R"({"format_version": 1, "index": )" + std::to_string(trial) +
                 R"(, "attempt": 1, "outcome": "done", "stage": "eval", "item": ")" +
                 ItemName(key) + R"(", "epoch": )" + std::to_string(epoch) +
                 R"(, "metrics": {"loss": 1.5, "acc": )" + std::to_string(acc) + "}}");
  };
  write_item(0, 2, 0.5);
  write_item(0, 6, 0.75);
  write_item(0, 4, 0.625);  // listed in any order, drawn by epoch
  write_item(1, 2, 0.25);
  ASSERT_OK(Env::Default()->CreateDirs(items.trial_dir(ItemKey(1, 4))));  // running: no result
  ASSERT_OK(Env::Default()->CreateDirs(items.trial_dir(ItemKey(1, 6))));
  WriteRaw(items.result_path(ItemKey(1, 6)), R"({"format_version": 1, "metr)");  // torn
  const SweepLayout plot = SweepLayout::ForStage(dir, "plot");
  ASSERT_OK(Env::Default()->CreateDirs(plot.trial_dir(ItemKey(1, 2))));
  WriteRaw(plot.result_path(ItemKey(1, 2)), R"({"format_version": 1, "metrics": {"acc": 9}})");

  const std::vector<StageEvalCurves> stages = LoadStageEvalCurves(Env::Default(), dir, res.spec);
  ASSERT_EQ(stages.size(), 1u);
  EXPECT_EQ(stages[0].stage, "eval");
  EXPECT_EQ(stages[0].unreadable, 1u);
  ASSERT_EQ(stages[0].acc.size(), 2u);
  EXPECT_EQ(stages[0].acc.at(0), (std::vector<ChartPoint>{{2, 0.5}, {4, 0.625}, {6, 0.75}}));
  EXPECT_EQ(stages[0].acc.at(1), (std::vector<ChartPoint>{{2, 0.25}}));

  const std::string html = RenderReportHtml(res, ReportOptions(), stages);
  const size_t at = html.find("aria-label=\"eval: acc against epoch\"");
  ASSERT_NE(at, std::string::npos) << html;
  const std::string svg = html.substr(at, html.find("</svg>", at) - at);
  EXPECT_EQ(Count(svg, "<polyline class=\"series\""), 1u) << svg;  // trial 0: three epochs
  EXPECT_EQ(Count(svg, "<circle class=\"series\""), 1u) << svg;    // trial 1: one epoch so far
  EXPECT_NE(svg.find("<title>000000 lr=0.1</title>"), std::string::npos) << svg;
  EXPECT_NE(svg.find("<title>000001 lr=0.03</title>"), std::string::npos) << svg;
  EXPECT_EQ(html.find("plot: acc"), std::string::npos);
  EXPECT_NE(html.find("1 result.json files of this stage could not be read"), std::string::npos);
  EXPECT_FALSE(HasNonFiniteCoordinate(html));
  // Without such a stage the report has no such section.
  EXPECT_EQ(RenderReportHtml(res, ReportOptions()).find("Evaluated checkpoints"),
            std::string::npos);
}

}  // namespace
}  // namespace claimsweep::testing
