// `sweep serve` in a real browser: a real command sweep run by the real
// `trial`, served by the real `sweep`, driven in Debian's headless Chromium
// over the DevTools protocol by tests/browser/serve_check.py (standard
// library Python; nothing is downloaded). The sweep is hostile: trial 0's
// parameter value is `<b>&"'`. ctest -L browser.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include "core/json.h"
#include "process_util.h"
#include "test_util.h"

namespace claimsweep::testing {
namespace {

constexpr char kHostile[] = "<b>&\"'";

bool PathExists(const std::string& p) { return ::access(p.c_str(), F_OK) == 0; }

// Point 0 (the hostile tag) runs 60 epochs of 0.3 s, until stopped; 1 and 3
// are done after 3 epochs; 2 fails with a log line.
const char kSpec[] = R"pb(
  name: "serve<&>"
  grid { param { name: "tag" values: "<b>&\"'" values: "plain" values: "fails" values: "more" } }
  command {
    argv: "sh"
    argv: "-c"
    argv: "if [ {index} = 2 ]; then echo 'no data: exit 1'; exit 1; fi; n=3; [ {index} = 0 ] && n=60; f={trial_dir}/metrics.csv; printf 'epoch,val_loss,val_acc\\n' > $f; for e in $(seq 1 $n); do printf '%s,%s,0.%02d\\n' $e $((100 / e)) $((99 - 90 / (e + {index}))) >> $f; [ {index} = 0 ] && sleep 0.3; done; true"
  }
  claim { max_attempts: 1 trials_per_job: 0 lease_seconds: 10 heartbeat_seconds: 1 }
)pb";

struct Served {
  TempDir tmp;
  std::string dir = tmp.path() + "/sweep";
  std::string runtime = tmp.path() + "/run";
  Spawned serve;
  std::string url;

  // `args`: after `sweep serve DIR`.
  bool Start(const std::vector<std::string>& args = {}) {
    ::mkdir(runtime.c_str(), 0700);
    std::vector<std::string> argv = {SWEEP_BIN, "serve", dir, "--poll", "0.2"};
    argv.insert(argv.end(), args.begin(), args.end());
    serve = Spawn(argv, {"XDG_RUNTIME_DIR=" + runtime}, tmp.path(), tmp.path() + "/serve.out");
    static const std::regex re(R"((http://\S+/\?token=[0-9a-f]{64}))");
    WaitFor(
        [&] {
          std::smatch m;
          const std::string out = ReadAll(serve.output_path);
          if (!std::regex_search(out, m, re)) return false;
          url = m[1];
          return true;
        },
        20);
    return !url.empty();
  }
  int Stop() {
    ::kill(serve.pid, SIGTERM);
    return WaitExit(serve.pid);
  }
};

TEST(Serve, BrowserWatchesAndStopsARunningTrialBehindItsToken) {
  Served s;
  ::umask(022);
  std::ofstream(s.tmp.path() + "/spec.textproto") << kSpec;
  RunResult init = RunProcess({SWEEP_BIN, "init", s.tmp.path() + "/spec.textproto", s.dir});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  // One worker takes point 0 (slow); a second, started once it has, the rest.
  Spawned slow = Spawn({TRIAL_BIN}, {"SWEEP_DIR=" + s.dir}, s.tmp.path(), s.tmp.path() + "/t0.out");
  ASSERT_TRUE(WaitFor([&] { return PathExists(s.dir + "/trials/000000/work/metrics.csv"); }, 20));
  RunResult rest = RunProcess({TRIAL_BIN}, {"SWEEP_DIR=" + s.dir}, s.tmp.path());
  auto counts = StatusCounts(s.dir);
  ASSERT_EQ(counts["done"], 2) << rest.output;
  ASSERT_EQ(counts["failed"], 1) << rest.output;
  ASSERT_EQ(counts["running"], 1) << rest.output;

  ASSERT_TRUE(s.Start()) << ReadAll(s.serve.output_path);
  // The URL is also in a file only its user can read.
  const std::string port =
      s.url.substr(s.url.rfind(':') + 1, s.url.find('/', 7) - s.url.rfind(':') - 1);
  const std::string token_file = s.runtime + "/claimsweep/serve-" + port + ".url";
  struct stat st;
  ASSERT_EQ(::stat(token_file.c_str(), &st), 0) << token_file;
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(ReadAll(token_file), s.url + "\n");

  const char* shot_env = std::getenv("CLAIMSWEEP_SCREENSHOT");
  const std::string shot = shot_env ? shot_env : s.tmp.path() + "/dashboard.png";
  RunResult check = RunProcess({"/usr/bin/python3", SERVE_CHECK_PY, s.url, "0",
                                s.dir + "/trials/000000/stop", kHostile, shot});
  ASSERT_EQ(check.exit_code, 0) << check.output;
  google::protobuf::Struct facts;
  const std::string json = check.output.substr(check.output.rfind("\n{") + 1);
  ASSERT_TRUE(ParseJson(json, "serve_check.py's output", &facts).ok()) << check.output;
  auto f = [&](const char* k) { return facts.fields().at(k); };
  // 403 without the token, with a wrong one, and for the data too; 200 with it.
  EXPECT_EQ(f("no_token").number_value(), 403);
  EXPECT_EQ(f("bad_token").number_value(), 403);
  EXPECT_EQ(f("no_token_view").number_value(), 403);
  EXPECT_EQ(f("with_token").number_value(), 200);
  EXPECT_TRUE(f("page_ready").bool_value());
  EXPECT_FALSE(f("address_bar_has_token").bool_value());
  // The running trial's progress bar advances without a reload.
  EXPECT_GE(f("progress_first").number_value(), 1);
  EXPECT_GT(f("progress_later").number_value(), f("progress_first").number_value());
  // The hostile value is one cell's text; no element came out of it.
  EXPECT_EQ(f("hostile_cells").number_value(), 1);
  EXPECT_EQ(f("elements_from_values").number_value(), 0);
  // The token's cookie without the page's nonce: refused, and nothing was stopped.
  EXPECT_EQ(f("cookie_view").number_value(), 200);
  EXPECT_EQ(f("post_without_nonce").number_value(), 403);
  EXPECT_FALSE(f("stop_file_after_refused_post").bool_value());
  // The stop button: `sweep stop`'s message, and `sweep status` agrees.
  EXPECT_NE(f("stop_message").string_value().find("000000: stopped"), std::string::npos)
      << f("stop_message").string_value();
  EXPECT_EQ(f("stop_exit").string_value(), "0");
  EXPECT_TRUE(f("page_shows_stopped").bool_value());
  EXPECT_TRUE(WaitFor([&] { return StatusCounts(s.dir)["stopped"] == 1; }, 20));
  // Two done trials selected and "stop selected": sweep stop's answer for each (exit 1: refused).
  EXPECT_EQ(f("selection_message").string_value(),
            "000001: already done: nothing to stop\n000003: already done: nothing to stop\n");
  EXPECT_EQ(f("selection_exit").string_value(), "1");
  EXPECT_EQ(f("dashboard_errors").string_value(), "");
  EXPECT_EQ(f("console_errors").list_value().values_size(), 0) << json;

  EXPECT_EQ(WaitExit(slow.pid), 0) << ReadAll(slow.output_path);
  EXPECT_EQ(s.Stop(), 0) << ReadAll(s.serve.output_path);
  EXPECT_FALSE(PathExists(token_file)) << "the token file outlived the server";
}

TEST(Serve, ANonLoopbackAddressNeedsAFlagAndWarns) {
  Served s;
  std::ofstream(s.tmp.path() + "/spec.textproto") << kSpec;
  ASSERT_EQ(RunProcess({SWEEP_BIN, "init", s.tmp.path() + "/spec.textproto", s.dir}).exit_code, 0);
  RunResult refused = RunProcess({SWEEP_BIN, "serve", s.dir, "--host", "0.0.0.0"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.output.find("--allow-remote"), std::string::npos) << refused.output;
  ASSERT_TRUE(s.Start({"--host", "0.0.0.0", "--allow-remote"})) << ReadAll(s.serve.output_path);
  EXPECT_NE(ReadAll(s.serve.output_path).find("WARNING: listening on 0.0.0.0"), std::string::npos);
  EXPECT_EQ(s.Stop(), 0);
}

// A stage's items change while the trials stay as they are: the page's
// Stages table follows them (a failed item, then retried and done), with
// no trial changing in between.
TEST(Serve, TheStagesTableFollowsItemsWhileTheTrialsStayDone) {
  Served s;
  ::umask(022);
  std::ofstream(s.tmp.path() + "/spec.textproto") << R"pb(
    name: "stages"
    grid { param { name: "x" values: "0" values: "1" values: "2" } }
    command { argv: "true" }
    stage {
      name: "post"
      each_trial: true
      command { argv: "sh" argv: "-c" argv: "[ {index} != 1 ] || [ -e {sweep_dir}/ok ]" }
    }
    claim { max_attempts: 1 trials_per_job: 0 lease_seconds: 10 heartbeat_seconds: 1 }
  )pb";
  RunResult init = RunProcess({SWEEP_BIN, "init", s.tmp.path() + "/spec.textproto", s.dir});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  RunProcess({TRIAL_BIN}, {"SWEEP_DIR=" + s.dir}, s.tmp.path());
  ASSERT_EQ(StatusCounts(s.dir, "post")["failed"], 1);
  ASSERT_TRUE(s.Start()) << ReadAll(s.serve.output_path);
  const std::string token = s.url.substr(s.url.find("token=") + 6);
  const std::string view = s.url.substr(0, s.url.find("/?")) + "/api/view?sweep=0&token=" + token;
  auto row = [&] {
    RunResult r = RunProcess(
        {"/usr/bin/python3", "-c",
         "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
         view});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    const size_t at = r.output.find("<tr data-stage=\"post\">");
    return at == std::string::npos ? r.output
                                   : r.output.substr(at, r.output.find("</tr>", at) - at);
  };
  const std::string before = row();
  EXPECT_NE(before.find("<td data-state=\"done\">2</td>"), std::string::npos) << before;
  EXPECT_NE(before.find("<td data-state=\"failed\">1</td>"), std::string::npos) << before;
  std::ofstream(s.dir + "/ok") << "";
  RunResult retry = RunProcess({SWEEP_BIN, "retry", s.dir, "--stage", "post", "1"});
  ASSERT_EQ(retry.exit_code, 0) << retry.output;
  RunResult again = RunProcess({TRIAL_BIN}, {"SWEEP_DIR=" + s.dir}, s.tmp.path());
  ASSERT_EQ(StatusCounts(s.dir, "post")["done"], 3) << again.output;
  std::string after;
  EXPECT_TRUE(WaitFor(
      [&] {
        after = row();
        return after.find("<td data-state=\"done\">3</td>") != std::string::npos;
      },
      10))
      << after;
  EXPECT_NE(after.find("<td data-state=\"failed\">0</td>"), std::string::npos) << after;
  EXPECT_EQ(s.Stop(), 0);
}

// Early stopping: a configuration's work above rung 0 writes outside
// trials/; the page still follows it. Served from before the first claim:
// the Rungs table ends with 9 -> 3 -> 1 done and the best configuration's
// row says 9 epochs done at rung 2.
TEST(Serve, AnEarlyStoppingSweepsRungsAreFollowedLive) {
  Served s;
  ::umask(022);
  std::ofstream(s.tmp.path() + "/spec.textproto") << R"pb(
    name: "es"
    grid {
      param {
        name: "x"
        range { start: 0 stop: 9 step: 1 }
      }
    }
    command {
      argv: "sh"
      argv: "-c"
      argv: "printf 'epoch,val_acc\\n{budget},0.{x}{budget}\\n' > metrics.csv"
    }
    early_stopping {
      asha {
        metric: "val_acc"
        maximize: true
        min_epochs: 1
        max_epochs: 9
        reduction: 3
        synchronous: true
      }
    }
    claim { max_attempts: 1 trials_per_job: 0 lease_seconds: 10 heartbeat_seconds: 1 }
  )pb";
  RunResult init = RunProcess({SWEEP_BIN, "init", s.tmp.path() + "/spec.textproto", s.dir});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  ASSERT_TRUE(s.Start()) << ReadAll(s.serve.output_path);
  const std::string token = s.url.substr(s.url.find("token=") + 6);
  const std::string view = s.url.substr(0, s.url.find("/?")) + "/api/view?sweep=0&token=" + token;
  auto fetch = [&] {
    return RunProcess({"/usr/bin/python3", "-c",
                       "import sys, urllib.request; "
                       "print(urllib.request.urlopen(sys.argv[1]).read().decode())",
                       view})
        .output;
  };
  // The server has read the sweep before any trial runs: nothing started.
  std::string page = fetch();
  EXPECT_NE(page.find("<tr class=\"rung\" data-rung=\"0\"><td>0</td><td>1</td><td>9</td><td>0</td>"
                      "<td>0</td><td>9</td>"),
            std::string::npos)
      << page;
  RunResult run = RunProcess({TRIAL_BIN}, {"SWEEP_DIR=" + s.dir}, s.tmp.path());
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::string rung2 =
      "<tr class=\"rung\" data-rung=\"2\"><td>2</td><td>9</td><td>1</td><td>1</td>";
  EXPECT_TRUE(WaitFor(
      [&] {
        page = fetch();
        return page.find(rung2) != std::string::npos;
      },
      10))
      << page;
  EXPECT_NE(
      page.find("<tr class=\"rung\" data-rung=\"1\"><td>1</td><td>3</td><td>3</td><td>3</td>"),
      std::string::npos)
      << page;
  EXPECT_EQ(s.Stop(), 0);
}

}  // namespace
}  // namespace claimsweep::testing
