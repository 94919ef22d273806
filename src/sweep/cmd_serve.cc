// `sweep serve DIR... [--port P]`: the sweeps' report, live, with buttons
// for stop/resume/retry/reset (src/sweep/serve_auth.h says who may use it,
// live_sweep.h how the sweeps are read, serve_page.h what is sent).
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/asha_spec.h"
#include "core/layout.h"
#include "core/number_format.h"
#include "core/stage_scan.h"
#include "core/sweep_scan.h"
#include "sweep/commands.h"
#include "sweep/live_sweep.h"
#include "sweep/report_html.h"
#include "sweep/serve_auth.h"
#include "sweep/serve_page.h"
#include "sweep/svg_chart.h"

namespace claimsweep {

namespace {

bool IsLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost" || host.rfind("127.", 0) == 0;
}

std::string Duration(double s) {
  if (!std::isfinite(s) || s < 0) return "";
  const long v = std::lround(s);
  if (v >= 3600) return std::to_string(v / 3600) + "h" + std::to_string(v / 60 % 60) + "m";
  if (v >= 60) return std::to_string(v / 60) + "m" + std::to_string(v % 60) + "s";
  return std::to_string(v) + "s";
}

struct Served {
  std::unique_ptr<LiveSweep> live;
  std::string html;  // the rendered content of live's version `rendered`
  uint64_t rendered = 0;
  uint64_t etag = 0;  // bumped at every re-render
  // Stage sweeps: the stages' counts (StagesHtml), rescanned at most every
  // 20 times the last scan's cost, at least every second.
  std::string stages_html;
  double stages_next = 0;
  double rungs_next = 0;  // early stopping: the next full read (LiveSweep::Reload)
  // Per running trial: when its epochs were first seen, and how many (for an ETA).
  std::map<uint64_t, std::pair<double, int>> first_seen;
};

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The running trials' progress: epochs done (metrics.csv rows) of the
// epochs the trial runs, and an ETA from epoch_seconds (a train task's
// metric) or from the pace seen since the server first saw the trial.
std::string ProgressHtml(Served* s) {
  const SweepResults& res = s->live->results();
  std::string h;
  const double now = NowSeconds();
  std::map<uint64_t, std::pair<double, int>> seen;
  for (const TrialRecord& t : res.trials) {
    if (t.state != TrialState::kRunning) continue;
    const int done = std::max(0, t.csv_rows);
    const int total = EpochsToRun(res, t);
    auto f = s->first_seen.find(t.index);
    seen[t.index] = f != s->first_seen.end() ? f->second : std::make_pair(now, done);
    double per_epoch = NAN;
    auto es = t.metrics.find("epoch_seconds");
    if (es != t.metrics.end()) {
      per_epoch = es->second;
    } else if (done > seen[t.index].second) {
      per_epoch = (now - seen[t.index].first) / (done - seen[t.index].second);
    }
    const std::string eta = total > done && std::isfinite(per_epoch)
                                ? ", ETA " + Duration(per_epoch * (total - done))
                                : "";
    h +=
        "<div class=\"progress\" data-index=\"" + std::to_string(t.index) + "\" data-done=\"" +
        std::to_string(done) + "\" data-total=\"" + std::to_string(total) + "\">" +
        TrialName(t.index) + " <progress" +
        (total > 0 ? " max=\"" + std::to_string(total) + "\" value=\"" + std::to_string(done) + "\""
                   : "") +
        "></progress> " + std::to_string(done) + (total > 0 ? "/" + std::to_string(total) : "") +
        " epochs" + eta + "</div>\n";
  }
  s->first_seen = std::move(seen);
  if (h.empty()) return "<h2>Running</h2>\n<p class=\"note\">No trial is running.</p>\n";
  return "<h2>Running</h2>\n" + h;
}

// The stages' counts, as `sweep status` prints them: one row per stage. A
// stage's items change while the trials stay as they are, so these come from
// their own scan (ScanSweep and ScanStages: O(trials + items)), which PollOne
// bounds in time. Empty without stages.
std::string StagesHtml(Served* s) {
  const SweepResults& res = s->live->results();
  if (res.spec.stage_size() == 0) return "";
  Env* env = s->live->env();
  const SweepLayout layout(res.dir);
  SweepScan scan;
  std::vector<StageScan> stages;
  uint32_t version = 1;
  while (env->Exists(layout.version_path(version + 1))) ++version;
  bool from_fs = false;
  Status st = ScanSweep(env, layout, res.spec, res.num_points, &scan);
  if (st.ok())
    st = ScanStages(env, res.dir, res.spec, scan, res.num_points, version,
                    ScanClock(env, layout, &from_fs), &stages);
  if (!st.ok()) return "<h2>Stages</h2>\n<p class=\"note\">" + HtmlEscape(st.ToString()) + "</p>\n";
  std::string h =
      "<h2>Stages</h2>\n<table class=\"stages\"><tr><th>stage</th><th>input</th>"
      "<th>items</th>";
  for (int k = 0; k < kNumTrialStates; ++k)
    h += std::string("<th>") + TrialStateName(static_cast<TrialState>(k)) + "</th>";
  h += "</tr>\n";
  for (const StageScan& sc : stages) {
    h += "<tr data-stage=\"" + HtmlEscape(sc.name) + "\"><td>" + HtmlEscape(sc.name) + "</td><td>" +
         StageKindName(sc.kind) + " " + HtmlEscape(sc.input) + "</td><td>" +
         std::to_string(sc.total) + "</td>";
    for (int k = 0; k < kNumTrialStates; ++k)
      h += "<td data-state=\"" + std::string(TrialStateName(static_cast<TrialState>(k))) + "\">" +
           std::to_string(sc.counts[static_cast<size_t>(k)]) + "</td>";
    h += "</tr>\n";
  }
  return h + "</table>\n";
}

std::string Render(Served* s) {
  ReportOptions ro;
  ro.max_table_rows = 2000;  // a page every browser redraws in well under a second
  ro.max_param_dots = 2000;
  const SweepResults& res = s->live->results();
  return ProgressHtml(s) + s->stages_html +
         RenderReportBody(res, ro, LoadStageEvalCurves(s->live->env(), res.dir, res.spec));
}

class Dashboard {
 public:
  Dashboard(std::vector<std::string> dirs, std::string token) : token_(std::move(token)) {
    for (auto& d : dirs) dirs_.push_back(std::move(d));
  }

  Status Open() {
    for (const std::string& d : dirs_) {
      LiveSweep::Options o;
      o.load.curves = true;
      o.load.log_tails = true;
      auto s = std::make_unique<Served>();
      s->live = std::make_unique<LiveSweep>(d, o);
      CS_RETURN_IF_ERROR(s->live->Open());
      s->stages_html = StagesHtml(s.get());
      s->html = Render(s.get());
      s->rendered = s->live->version();
      names_.push_back(s->live->results().spec.name());
      sweeps_.push_back(std::move(s));
    }
    return Status::OK();
  }

  // Every `interval`: each sweep's changes, rendered once for every client.
  void PollLoop(const std::atomic<bool>* stop, double interval) {
    while (!*stop) {
      std::this_thread::sleep_for(std::chrono::duration<double>(interval));
      for (size_t k = 0; k < sweeps_.size(); ++k) PollOne(k);
    }
  }

  void PollOne(size_t k) {
    std::lock_guard<std::mutex> lock(mu_);
    Served* s = sweeps_[k].get();
    bool changed = false;
    Status st = s->live->Poll(&changed);
    if (!st.ok()) std::fprintf(stderr, "sweep serve: %s\n", st.ToString().c_str());
    // Early stopping: a configuration's work above rung 0 is outside
    // trials/, so the whole sweep is read again, at most every 20 times
    // the last read's cost (and every second at most).
    if (s->live->results().spec.early_stopping().has_asha() && NowSeconds() >= s->rungs_next) {
      const double t0 = NowSeconds();
      st = s->live->Reload();
      if (!st.ok()) std::fprintf(stderr, "sweep serve: %s\n", st.ToString().c_str());
      s->rungs_next = NowSeconds() + std::max(1.0, 20 * (NowSeconds() - t0));
    }
    bool stages_changed = false;
    if (s->live->results().spec.stage_size() > 0 && NowSeconds() >= s->stages_next) {
      const double t0 = NowSeconds();
      std::string h = StagesHtml(s);
      s->stages_next = NowSeconds() + std::max(1.0, 20 * (NowSeconds() - t0));
      stages_changed = h != s->stages_html;
      s->stages_html = std::move(h);
    }
    if (s->rendered != s->live->version() || stages_changed) {
      s->html = Render(s);
      s->rendered = s->live->version();
      ++s->etag;
    }
  }

  void set_port(int port) { cookie_ = ServeCookieName(port); }

  void Install(httplib::Server* svr) {
    svr->set_default_headers({{"Content-Security-Policy", kServeCsp},
                              {"X-Content-Type-Options", "nosniff"},
                              {"Referrer-Policy", "no-referrer"},
                              {"Cache-Control", "no-store"},
                              {"X-Frame-Options", "DENY"}});
    svr->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      const std::string q = req.has_param("token") ? req.get_param_value("token") : "";
      if (RequestHasToken(token_, q, req.get_header_value("Cookie"), cookie_))
        return httplib::Server::HandlerResponse::Unhandled;
      res.status = 403;
      res.set_content("403: this sweep serve needs its token: open the URL it printed (also in " +
                          TokenFileDir() + "/)\n",
                      "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    });
    svr->Get("/", [this](const httplib::Request& req, httplib::Response& res) {
      if (req.has_param("token")) {
        res.set_header("Set-Cookie",
                       cookie_ + "=" + token_ + "; Path=/; HttpOnly; SameSite=Strict");
      }
      res.set_content(ServePageHtml(names_, dirs_, NewNonce()), "text/html; charset=utf-8");
    });
    svr->Get("/app.js", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(ServeScript(), "text/javascript; charset=utf-8");
    });
    svr->Get("/app.css", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(ServeStyle(), "text/css; charset=utf-8");
    });
    svr->Get("/api/view", [this](const httplib::Request& req, httplib::Response& res) {
      size_t k = 0;
      if (!SweepParam(req, &k)) return BadRequest(&res, "sweep=K: K names a served sweep");
      std::lock_guard<std::mutex> lock(mu_);
      const Served& s = *sweeps_[k];
      const std::string etag = "\"" + std::to_string(k) + "-" + std::to_string(s.etag) + "\"";
      res.set_header("ETag", etag);
      if (req.get_header_value("If-None-Match") == etag) {
        res.status = 304;
        return;
      }
      res.set_content(s.html, "text/html; charset=utf-8");
    });
    svr->Post("/api/control",
              [this](const httplib::Request& req, httplib::Response& res) { Control(req, &res); });
  }

 private:
  static void BadRequest(httplib::Response* res, const std::string& why) {
    res->status = 400;
    res->set_content(why + "\n", "text/plain");
  }

  bool SweepParam(const httplib::Request& req, size_t* k) const {
    uint64_t v = 0;
    if (!req.has_param("sweep") || !ParseIndex(req.get_param_value("sweep"), &v) ||
        v >= sweeps_.size())
      return false;
    *k = static_cast<size_t>(v);
    return true;
  }

  std::string NewNonce() {
    std::string n;
    if (!NewRandomToken(&n).ok()) return "";
    std::lock_guard<std::mutex> lock(nonce_mu_);
    nonces_.push_back(n);
    while (nonces_.size() > 256) nonces_.pop_front();  // the oldest pages must reload
    return n;
  }

  bool KnownNonce(const std::string& n) {
    std::lock_guard<std::mutex> lock(nonce_mu_);
    bool found = false;
    for (const std::string& m : nonces_) found |= ConstantTimeEquals(n, m);
    return found && !n.empty();
  }

  // POST sweep=K&op=stop|resume|retry|reset&idx=I J-K, header X-Sweep-Nonce:
  // the CLI command's code and its output.
  void Control(const httplib::Request& req, httplib::Response* res) {
    if (!KnownNonce(req.get_header_value(kNonceHeader))) {
      res->status = 403;
      res->set_content(std::string("403: no valid ") + kNonceHeader +
                           " header (reload the page for a new one)\n",
                       "text/plain");
      return;
    }
    size_t k = 0;
    if (!SweepParam(req, &k)) return BadRequest(res, "sweep=K: K names a served sweep");
    const std::string op = req.has_param("op") ? req.get_param_value("op") : "";
    ControlOp cop;
    if (op == "stop") {
      cop = ControlOp::kStop;
    } else if (op == "resume") {
      cop = ControlOp::kResume;
    } else if (op == "retry") {
      cop = ControlOp::kRetry;
    } else if (op == "reset") {
      cop = ControlOp::kReset;
    } else {
      return BadRequest(res, "op must be stop, resume, retry or reset");
    }
    std::vector<std::string> idx;
    std::istringstream in(req.has_param("idx") ? req.get_param_value("idx") : "");
    for (std::string w; in >> w;) idx.push_back(w);
    const ControlOutcome o = RunControl(cop, dirs_[k], idx, false, false, false, "");
    std::fprintf(stderr, "sweep serve: %s %s %s: exit %d\n", dirs_[k].c_str(), op.c_str(),
                 req.get_param_value("idx").c_str(), o.rc);
    res->set_header("X-Exit-Code", std::to_string(o.rc));
    res->set_content(o.out + (o.error.empty() ? "" : "sweep: " + o.error + "\n"),
                     "text/plain; charset=utf-8");
    PollOne(k);  // the page shows the change at its next look
  }

  std::vector<std::string> dirs_, names_;
  std::string token_;
  std::string cookie_;  // set once the port is known, before the first request
  std::mutex mu_;       // sweeps_
  std::vector<std::unique_ptr<Served>> sweeps_;
  std::mutex nonce_mu_;
  std::deque<std::string> nonces_;
};

}  // namespace

int CmdServe(const ServeOptions& o) {
  if (!IsLoopback(o.host) && !o.allow_remote) {
    return UsageError("--host " + o.host +
                      " is not a loopback address: anyone who can reach it could try the token; "
                      "add --allow-remote to bind it anyway, or use ssh -L (README: Dashboard)");
  }
  std::string token;
  Status s = NewRandomToken(&token);
  if (!s.ok()) return Failure(s.ToString());
  Dashboard dash(o.dirs, token);
  s = dash.Open();
  if (!s.ok()) return UsageError(s.ToString());

  // SIGINT/SIGTERM end the server: blocked here (every thread inherits
  // that), taken by sigwait below.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  httplib::Server svr;
  dash.Install(&svr);
  const int port = o.port == 0 ? svr.bind_to_any_port(o.host) : o.port;
  if (port < 0 || (o.port != 0 && !svr.bind_to_port(o.host, o.port)))
    return Failure("cannot listen on " + o.host + ":" + std::to_string(o.port));
  dash.set_port(port);
  if (!IsLoopback(o.host)) {
    std::fprintf(stderr,
                 "sweep serve: WARNING: listening on %s, not loopback: every host that can reach "
                 "it may try; the token is all that protects these sweeps\n",
                 o.host.c_str());
  }
  const std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  const std::string url = "http://" + host + ":" + std::to_string(port) + "/?token=" + token;
  std::string token_file;
  s = WriteTokenFile(port, url, &token_file);
  std::printf("sweep serve: %zu sweep%s at %s\n", o.dirs.size(), o.dirs.size() == 1 ? "" : "s",
              url.c_str());
  if (s.ok()) {
    std::printf("sweep serve: the URL is also in %s (mode 0600)\n", token_file.c_str());
  } else {
    std::fprintf(stderr, "sweep serve: the URL is not saved: %s\n", s.ToString().c_str());
  }
  std::fflush(stdout);

  std::atomic<bool> stop{false};
  std::thread poller([&] { dash.PollLoop(&stop, o.poll_seconds); });
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    stop = true;
    svr.stop();
  });
  svr.listen_after_bind();
  if (!stop) pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  stop = true;
  poller.join();
  if (s.ok()) ::unlink(token_file.c_str());
  std::printf("sweep serve: stopped\n");
  return 0;
}

}  // namespace claimsweep
