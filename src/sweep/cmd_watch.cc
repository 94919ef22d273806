// `sweep status DIR --watch`: the sweep's progress, refreshed in place on a
// terminal (plain frames one after another when not a terminal) until every
// trial has finished.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <thread>

#include "core/layout.h"
#include "core/results.h"
#include "core/sweep_points.h"
#include "core/terminal_text.h"
#include "sweep/commands.h"

namespace claimsweep {
namespace {

volatile sig_atomic_t g_quit = 0;

std::string Bar(double fraction, int width) {
  fraction = std::min(1.0, std::max(0.0, fraction));
  const int full = static_cast<int>(std::lround(fraction * width));
  return "[" + std::string(static_cast<size_t>(full), '#') +
         std::string(static_cast<size_t>(width - full), '.') + "]";
}

std::string Eta(double seconds) {
  if (!(seconds >= 0) || std::isinf(seconds)) return "?";
  char b[32];
  const long s = std::lround(seconds);
  if (s >= 3600) {
    std::snprintf(b, sizeof b, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  } else if (s >= 60) {
    std::snprintf(b, sizeof b, "%ldm%02lds", s / 60, s % 60);
  } else {
    std::snprintf(b, sizeof b, "%lds", s);
  }
  return b;
}

std::string Frame(const SweepResults& res, double interval, int limit, bool* finished) {
  const auto& c = res.counts;
  auto n = [&](TrialState s) { return c[static_cast<int>(s)]; };
  const uint64_t total = res.num_points;  // res.trials holds the claimed ones only
  // A broken trial does not move until someone fixes it: it has ended too.
  const uint64_t ended = n(TrialState::kDone) + n(TrialState::kFailed) + n(TrialState::kStopped) +
                         n(TrialState::kBroken);
  *finished = ended == total;
  char when[16];
  const time_t now = std::time(nullptr);
  std::strftime(when, sizeof when, "%H:%M:%S", std::localtime(&now));
  std::string out = "sweep '" + TerminalSafe(res.spec.name()) + "' in " + res.dir + "   " + when +
                    ", every " + FormatDouble(interval) + " s (Ctrl-C to quit)\n";
  // The whole sweep: ETA from the mean wall time of done trials and how many run at once.
  double wall_sum = 0;
  int walls = 0;
  for (const auto& t : res.trials) {
    if (t.state == TrialState::kDone && t.wall_seconds > 0) {
      wall_sum += t.wall_seconds;
      ++walls;
    }
  }
  const uint64_t running = n(TrialState::kRunning);
  std::string eta = "";
  if (walls > 0 && running > 0) {
    eta = "  ETA ~" +
          Eta(wall_sum / walls * static_cast<double>(total - ended) / static_cast<double>(running));
  }
  out += Bar(total ? static_cast<double>(ended) / static_cast<double>(total) : 1.0, 30) + " " +
         std::to_string(ended) + "/" + std::to_string(total) + " finished (done " +
         std::to_string(n(TrialState::kDone)) + ", failed " +
         std::to_string(n(TrialState::kFailed)) + ", stopped " +
         std::to_string(n(TrialState::kStopped)) + ")   running " + std::to_string(running) +
         "  pending " + std::to_string(n(TrialState::kPending)) + "  interrupted " +
         std::to_string(n(TrialState::kInterrupted)) + "  stale " +
         std::to_string(n(TrialState::kStale)) +
         (n(TrialState::kBroken) > 0
              ? "  broken " + std::to_string(n(TrialState::kBroken)) + " (sweep status says why)"
              : std::string()) +
         eta + "\n";
  int shown = 0;
  for (const auto& t : res.trials) {
    if (t.state != TrialState::kRunning) continue;
    if (limit > 0 && shown++ >= limit) {
      out += "  ... " + std::to_string(running - static_cast<uint64_t>(limit)) + " more running\n";
      break;
    }
    std::string params;
    for (size_t i = 0; i < t.params.size(); ++i) {
      if (HasParam(t, i)) params += " " + res.param_names[i] + "=" + TerminalSafe(t.params[i]);
    }
    const int epochs = EpochsToRun(res, t);
    std::string line = "  " + TrialName(t.index) + " ";
    if (epochs > 0) {
      const int done = std::max(0, t.csv_rows);
      auto es = t.metrics.find("epoch_seconds");
      const std::string e =
          es != t.metrics.end() && done > 0 ? "  ETA " + Eta(es->second * (epochs - done)) : "";
      line += Bar(static_cast<double>(done) / epochs, 20) + " " + std::to_string(done) + "/" +
              std::to_string(epochs) + " epochs" + e;
    } else {
      line += "running" + (t.csv_rows > 0 ? ", " + std::to_string(t.csv_rows) + " metrics rows"
                                          : std::string());
    }
    out += line + "  attempt " + std::to_string(t.attempts) + " " + params + "\n";
  }
  return out;
}

}  // namespace

int CmdWatch(const std::string& dir, double interval, int limit) {
  if (!(interval > 0)) return UsageError("--interval must be > 0 seconds");
  std::unique_ptr<Env> env = NewSweepEnv(dir);
  const bool tty = ::isatty(1);
  ::signal(SIGINT, [](int) { g_quit = 1; });
  for (int frame = 0; !g_quit; ++frame) {
    SweepResults res;
    Status s = LoadResults(env.get(), dir, LoadOptions(), &res);
    if (!s.ok()) return UsageError(s.ToString());
    bool finished = false;
    const std::string text = Frame(res, interval, limit, &finished);
    if (tty) {
      std::fputs("\x1b[H\x1b[2J", stdout);  // home, clear: redraw in place
    } else if (frame > 0) {
      std::fputs("\n", stdout);
    }
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
    if (finished) return 0;
    for (double waited = 0; waited < interval && !g_quit; waited += 0.05) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return 0;
}

}  // namespace claimsweep
