#include "trial/runner.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <set>
#include <thread>

#include "core/json.h"
#include "core/metrics_csv.h"
#include "core/slurm.h"
#include "core/spec.h"
#include "core/template.h"
#include "core/token.h"
#include "core/train_config.h"
#include "records.pb.h"
#include "train/checkpoint_file.h"
#include "train/train_task.h"
#include "trial/command_task.h"
#include "trial/lease_keeper.h"
#include "trial/log.h"
#include "trial/signals.h"

namespace claimsweep {
namespace {

std::string GetEnv(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Wall seconds of a trial's attempts before `attempt`: each one's record's
// duration_seconds; an attempt that wrote no record (killed by SIGKILL, its
// node lost) counts from its owner.json's started_at to its last heartbeat
// (owner.json's mtime), to the second.
double EarlierAttemptsSeconds(Env* env, const SweepLayout& layout, uint64_t index,
                              uint32_t attempt) {
  double total = 0;
  for (uint32_t k = 1; k < attempt; ++k) {
    std::string text;
    TrialResult rec;
    if ((env->ReadFile(layout.failed_path(index, k), &text).ok() ||
         env->ReadFile(layout.released_path(index, k), &text).ok()) &&
        ParseJson(text, layout.failed_path(index, k), &rec).ok()) {
      total += std::max(0.0, rec.duration_seconds());
      continue;
    }
    AttemptOwner owner;
    FileInfo beat;
    std::tm tm{};
    if (env->ReadFile(layout.owner_path(index, k), &text).ok() &&
        ParseJson(text, layout.owner_path(index, k), &owner).ok() &&
        env->Stat(layout.heartbeat_path(index, k), &beat).ok() &&
        std::sscanf(owner.started_at().c_str(), "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon,
                    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6) {
      tm.tm_year -= 1900;
      tm.tm_mon -= 1;
      total += std::max(
          0.0, static_cast<double>(beat.mtime_ns) / 1e9 - static_cast<double>(::timegm(&tm)));
    }
  }
  return total;
}

// Sleeps `seconds`, returning early when a signal arrived.
void SleepUnlessSignalled(double seconds) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                     std::chrono::duration<double>(seconds));
  while (ReceivedSignal() == 0 && Clock::now() < until) {
    const Clock::duration left = until - Clock::now();
    std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(50)));
  }
}

std::string Clock(int64_t unix_s) {
  char b[32];
  const time_t t = static_cast<time_t>(unix_s);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", &tm);
  return b;
}

// "; 3 open trials are held: 2 by owners seen alive, 1 not seen to change
// yet (000003: claimable in 41 s if its heartbeat stays unchanged)". Empty
// when there are none.
// `held`: each with the name of its work ("000003", "eval 000003-0002").
std::string HeldTrials(const std::vector<std::pair<HeldTrial, std::string>>& held) {
  if (held.empty()) return "";
  size_t alive = 0;
  for (const auto& [h, name] : held) alive += h.alive;
  std::string out =
      "; " + std::to_string(held.size()) +
      (held.size() == 1 ? " open trial is held by its owner" : " open trials are held");
  if (held.size() > 1 || alive < held.size()) {
    out += ": " + std::to_string(alive) + " by owners seen alive";
    if (alive < held.size()) {
      constexpr size_t kShown = 5;
      std::string list;
      size_t shown = 0;
      for (const auto& [h, name] : held) {
        if (h.alive || shown == kShown) continue;
        char b[32];
        std::snprintf(b, sizeof b, " in %.0f s", std::ceil(h.stale_in_s));
        list += (shown ? ", " : "") + name + b;
        ++shown;
      }
      const size_t watched = held.size() - alive;
      if (watched > kShown) list += ", and " + std::to_string(watched - kShown) + " more";
      out += ", " + std::to_string(watched) + " not seen to change yet (claimable if their " +
             "heartbeat stays unchanged: " + list + ")";
    }
  }
  return out;
}

}  // namespace

TrialRunner::TrialRunner(Env* env, std::string sweep_dir, SweepPoints points)
    : env_(env),
      layout_(std::move(sweep_dir)),
      spec_(points.spec()),
      points_(std::move(points)),
      graph_(spec_) {}

std::string TrialRunner::Queue::Work(uint64_t index) const {
  if (rung) return "trial " + TrialName(ItemUpstream(index)) + " rung " + std::to_string(rung);
  return stage ? stage->name + " " + ItemName(index) : "trial " + TrialName(index);
}

std::string TrialRunner::Queue::Held(uint64_t index) const {
  if (rung) return TrialName(ItemUpstream(index)) + " rung " + std::to_string(rung);
  return stage ? stage->name + " " + ItemName(index) : TrialName(index);
}

bool TrialRunner::PickUpNewPoints() {
  bool grew = false;
  const uint64_t before = points_.size();
  Status s = points_.Refresh(env_, layout_, &grew);
  if (!s.ok()) {
    // A broken version is the user's to fix; the points known stay right.
    LogWarn("not taking new points: " + s.ToString());
    return false;
  }
  if (!grew) return false;
  for (Queue& q : queues_) {
    q.claimer->SetNumPoints(points_.size());
    q.claimer->set_spec_version(points_.version());
  }
  LogInfo("the sweep was extended to spec version " + std::to_string(points_.version()) + ": " +
          std::to_string(points_.size() - before) + " new points (" + std::to_string(before) +
          " to " + std::to_string(points_.size() - 1) + ")");
  return true;
}

bool TrialRunner::RefreshPoints(uint64_t* num_points, uint32_t* version) {
  if (points_.version() <= *version && !PickUpNewPoints()) return false;
  if (points_.version() <= *version) return false;
  *num_points = points_.size();
  *version = points_.version();
  return true;
}

bool TrialRunner::MakeQueues() {
  const std::string only = GetEnv("SWEEP_STAGE");
  if (!only.empty() && only != kTrialsStageName && !graph_.Find(only)) {
    std::string names = kTrialsStageName;
    for (const StageInfo& st : graph_.stages()) names += ", " + st.name;
    LogError("SWEEP_STAGE=" + only + " names no stage of this sweep (its stages: " + names + ")");
    return false;
  }
  auto add = [&](const StageInfo* st) {
    Queue q;
    q.stage = st;
    q.layout = st ? SweepLayout::ForStage(layout_.root(), st->name) : layout_;
    q.claimer = std::make_unique<Claimer>(env_, q.layout, spec_.claim(), points_.size(),
                                          ProcessToken() + (st ? "." + st->name : ""));
    q.claimer->set_spec_version(points_.version());
    if (st) {
      Claimer::QueueOptions opts;
      opts.ordered = false;
      opts.ready = [env = env_, root = layout_, st](uint64_t key) {
        return InputReady(env, root, *st, key);
      };
      q.claimer->set_queue(std::move(opts));
    }
    queues_.push_back(std::move(q));
  };
  // Downstream-most first: that drains the pipeline and feeds the funnels,
  // so evaluation keeps up with training.
  const auto& stages = graph_.stages();
  for (auto it = stages.rbegin(); it != stages.rend(); ++it) {
    if (only.empty() || only == it->name) add(&*it);
  }
  if (spec_.early_stopping().has_asha() && (only.empty() || only == kTrialsStageName)) {
    // Early stopping: the rungs above the bottom one, top first (a promoted
    // configuration goes on before a new one starts); each item is ready once
    // the configuration's record at the rung below is committed.
    rungs_ = std::make_unique<Rungs>(env_, layout_, spec_.early_stopping().asha());
    for (uint32_t k = rungs_->top(); k >= 1; --k) {
      Queue q;
      q.rung = k;
      q.layout = RungQueue(layout_, k);
      q.claimer = std::make_unique<Claimer>(env_, q.layout, spec_.claim(), points_.size(),
                                            ProcessToken() + "." + RungStageName(k));
      q.claimer->set_spec_version(points_.version());
      Claimer::QueueOptions opts;
      opts.ordered = false;
      opts.ready = [env = env_, below = RungQueue(layout_, k - 1), k](uint64_t key) {
        return env->Exists(below.result_path(RungKey(k - 1, ItemUpstream(key))));
      };
      q.claimer->set_queue(std::move(opts));
      queues_.push_back(std::move(q));
    }
  }
  if (only.empty() || only == kTrialsStageName) add(nullptr);
  for (const StageInfo& st : stages) {
    if (st.kind != StageKind::kAfterAll) continue;
    gates_.emplace_back(
        &st, std::make_unique<Gate>(env_, layout_, &graph_, &st, [this](uint64_t* n, uint32_t* v) {
          return RefreshPoints(n, v);
        }));
  }
  return true;
}

bool TrialRunner::RepairStages() {
  bool found = false;
  if (!reconciled_) {
    reconciled_ = true;
    for (const StageInfo& st : graph_.stages()) {
      uint64_t n = 0;
      Status s = ReconcileAnnouncements(env_, layout_, st, points_.size(), &n);
      if (!s.ok()) {
        LogWarn("could not look for lost announcements of stage " + st.name + ": " + s.ToString());
      } else if (n > 0) {
        LogWarn(std::to_string(n) + " items of stage " + st.name +
                " had not been announced though their input is committed (the filesystem "
                "answered an exclusive create wrongly, or the tree was edited): announced now");
        found = true;
      }
    }
  }
  if (rungs_) {
    size_t fixed = 0;
    Status s = rungs_->Repair(points_.size(), spec_.claim(), &fixed);
    if (!s.ok()) {
      LogWarn("could not check the rungs' published results: " + s.ToString());
    } else if (fixed > 0) {
      LogWarn(std::to_string(fixed) +
              " rung results or promotions were missing though the work had ended (a worker "
              "crashed between its commit and publishing its score): made now");
      found = true;
    }
  }
  for (const auto& [funnel, gate] : gates_) {
    bool announced = false;
    Status s = gate->Repair(points_.size(), points_.version(), &announced);
    if (!s.ok()) LogWarn("could not check a stage's gate: " + s.ToString());
    if (announced) {
      LogWarn("every input of stage " + funnel->name +
              " is done but its item had not been announced (a finisher crashed between its "
              "commit and the gate): announced now");
      found = true;
    }
  }
  return found;
}

bool TrialRunner::UpstreamHeld() const {
  if (rungs_) {
    // Every rung but the top feeds the next: its open work will publish
    // results that promote (SHA: complete the rung).
    for (const Queue& q : queues_) {
      if (q.rung < rungs_->top() && !q.stage && !q.claimer->held().empty()) return true;
    }
    return false;
  }
  if (graph_.empty()) return false;
  for (const Queue& q : queues_) {
    // Does a stage this process serves take this queue's work as input?
    bool feeds = false;
    for (const Queue& d : queues_) feeds = feeds || (d.stage && d.stage->input == q.name());
    if (feeds && !q.claimer->held().empty()) return true;
  }
  // Served alone (SWEEP_STAGE): the queues upstream of it are other
  // processes'. Wait while they have work left: points not claimed yet, or
  // open or announced items (each a listing, at most every heartbeat).
  if (queues_.size() == 1 && queues_[0].stage) {
    for (const StageInfo* st = queues_[0].stage; st;) {
      std::vector<LeaseEntry> entries;
      const bool trials = st->input == kTrialsStageName;
      const SweepLayout up = trials ? layout_ : SweepLayout::ForStage(layout_.root(), st->input);
      if (ListLeaseEntries(env_, up, &entries).ok() && !entries.empty()) return true;
      if (trials) {
        std::vector<std::string> names;
        uint64_t claimed = 0, i = 0;
        if (env_->ListDir(layout_.trials_dir(), &names).ok()) {
          for (const std::string& n : names) claimed += ParseTrialName(n, &i) && i < points_.size();
        }
        if (claimed < points_.size()) return true;
      }
      st = graph_.Find(st->input);
    }
  }
  return false;
}

Point TrialRunner::PointOf(const Queue& q, uint64_t index) const {
  if (q.rung) return points_.At(ItemUpstream(index));
  if (!q.stage) return points_.At(index);
  if (q.stage->kind == StageKind::kAfterAll) return Point{};
  return points_.At(ItemUpstream(index));
}

int TrialRunner::Run() {
  if (!MakeQueues()) return kExitUsage;
  const std::string job = GetEnv("SLURM_JOB_ID");
  SlurmJobWatch watch([](const std::string& m) { LogWarn(m); });
  if (!job.empty()) {
    for (Queue& q : queues_)
      q.claimer->set_job_gone([&watch](const std::string& id) { return watch.Gone(id); });
  }
  const uint32_t per_job = spec_.claim().trials_per_job();
  const double signal_s =
      spec_.resources().signal_seconds() > 0 ? spec_.resources().signal_seconds() : 120;
  int64_t job_end = -1;  // learned from Slurm on first need; 0: unknown
  uint32_t ran = 0;
  bool any_failed = false;
  bool watch_logged = false, wait_logged = false, repaired = false, last_look = false;
  uint64_t holes_logged = 0;  // watching held trials (nothing else claimable), since:
  std::chrono::steady_clock::time_point watch_since;
  double watch_nap_s = 0.05, wait_nap_s = 0.05;
  while (per_job == 0 || ran < per_job) {
    if (ReceivedSignal() != 0) {
      LogInfo("received signal " + std::to_string(ReceivedSignal()) + "; claiming nothing more");
      break;
    }
    // Walltime: start no trial that cannot reach its first checkpoint before
    // Slurm's signal. What "reach" takes: the spec's min_seconds_left, else
    // the longest this job's trials took so far.
    const double need = spec_.claim().min_seconds_left() > 0
                            ? spec_.claim().min_seconds_left()
                            : (needed_s_ > 0 ? needed_s_ + signal_s : 0);
    if (!job.empty() && need > 0) {
      if (job_end < 0) {
        job_end = JobEndTime(job);
        if (job_end > 0) LogInfo("job " + job + " ends at " + Clock(job_end));
      }
      const double left = job_end > 0 ? static_cast<double>(job_end - std::time(nullptr)) : 1e18;
      if (left < need) {
        LogInfo("job " + job + " has " + std::to_string(static_cast<int64_t>(left)) +
                " s left, less than the " + std::to_string(static_cast<int64_t>(need)) +
                " s a trial needs to reach its first checkpoint; " + "claiming nothing more");
        break;
      }
    }
    Claim claim;
    Queue* from = nullptr;
    Status s = Status::NotFound("nothing to claim");
    bool watching = false;
    for (Queue& q : queues_) {
      if (rungs_ && !q.stage && q.rung == 0 && !rungs_->asha().synchronous()) {
        // ASHA: before starting a new configuration, promote the best one
        // not promoted yet, if any rung has one (its announcement is the
        // promotion), and take it up.
        bool promoted = false;
        uint32_t to = 0;
        uint64_t c = 0;
        Status ps = rungs_->AshaPromote(&promoted, &to, &c);
        if (!ps.ok()) LogWarn("could not decide a promotion: " + ps.ToString());
        if (promoted) {
          LogInfo("promoted trial " + TrialName(c) + " to rung " + std::to_string(to) + " (" +
                  std::to_string(rungs_->budgets()[to]) + " epochs)");
          Queue* rq = nullptr;
          for (Queue& r : queues_) rq = r.rung == to ? &r : rq;
          if (rq && rq->claimer->ClaimNext(&claim).ok()) {
            s = Status::OK();
            from = rq;
            break;
          }
        }
      }
      s = q.claimer->ClaimNext(&claim);
      if (LogEnabled(LogLevel::kDebug)) {
        const ClaimStats& st = q.claimer->stats();
        LogDebug("claim" + (graph_.empty() ? std::string() : " (" + q.name() + ")") + ": " +
                 (s.ok() ? q.Work(claim.index) : s.ToString()) + "; so far " +
                 std::to_string(st.open_scanned) + " lease entries scanned, " +
                 std::to_string(st.lost_races) + " races lost, " +
                 std::to_string(st.garbage_removed) + " finished entries removed");
      }
      if (s.ok()) {
        from = &q;
        break;
      }
      if (!s.IsNotFound()) break;
      watching = watching || q.claimer->watching();
    }
    // Nothing new to claim: maybe `sweep extend` added points (one stat).
    if (s.IsNotFound() && PickUpNewPoints()) {
      watch_logged = false;
      continue;
    }
    if (s.IsNotFound() && watching) {
      // Some open trial has not been seen alive: its owner may be dead. Watch
      // it (by this process's clock) until it changes or stays unchanged for
      // its lease, then take it over; at most a lease, and only while nothing
      // else is claimable.
      const auto now = std::chrono::steady_clock::now();
      if (!watch_logged) {
        std::vector<std::pair<HeldTrial, std::string>> held;
        for (const Queue& q : queues_) {
          for (const HeldTrial& h : q.claimer->held()) held.emplace_back(h, q.Held(h.index));
        }
        LogInfo(
            "every point is claimed; watching the open trials whose heartbeat has not been "
            "seen to change" +
            HeldTrials(held));
        watch_logged = true;
        watch_since = now;
        watch_nap_s = 0.05;
      }
      // Every trial watched is judged within a lease of its last change, so
      // this bound is only a backstop for one that can be neither seen alive
      // nor judged (its files unreadable, say): it must not keep the job forever.
      const double watched_s = std::chrono::duration<double>(now - watch_since).count();
      if (watched_s <= 3 * spec_.claim().lease_seconds() + 2 * spec_.claim().heartbeat_seconds()) {
        // Most waits end within moments (the trials held are finishing: their
        // entries leave the listing); a look costs one listing, the stats
        // being reused for half a heartbeat. So look again soon, then less
        // and less often, up to every quarter heartbeat.
        SleepUnlessSignalled(std::min(watch_nap_s, spec_.claim().heartbeat_seconds() / 4));
        watch_nap_s *= 2;
        continue;
      }
    }
    if (s.IsNotFound() && (!graph_.empty() || rungs_)) {
      // Derived work appears as upstream work finishes: once per idle spell,
      // recover what a crash or the filesystem lost; then wait while live
      // owners upstream will announce more.
      if (!repaired) {
        repaired = true;
        if (RepairStages()) continue;
      }
      if (UpstreamHeld()) {
        if (!wait_logged) {
          LogInfo("nothing ready to claim; waiting for the open work upstream of a stage");
          wait_logged = true;
          wait_nap_s = 0.05;
        }
        SleepUnlessSignalled(std::min(wait_nap_s, spec_.claim().heartbeat_seconds()));
        wait_nap_s *= 2;
        repaired = false;
        last_look = false;
        continue;
      }
      // Upstream went quiet after this round's claims looked: its last
      // commit announced its items before it committed, and its lease
      // entry went after, so one more round sees them.
      if (!last_look) {
        last_look = true;
        continue;
      }
    }
    if (s.IsNotFound()) {
      std::vector<std::pair<HeldTrial, std::string>> held;
      for (const Queue& q : queues_) {
        for (const HeldTrial& h : q.claimer->held()) held.emplace_back(h, q.Held(h.index));
      }
      LogInfo(std::string(ran == 0 ? "nothing to claim" : "no more work") + " in " +
              layout_.root() + ": every point is claimed and no trial is interrupted or stale" +
              HeldTrials(held));
      break;
    }
    watch_logged = false;
    wait_logged = false;
    repaired = false;
    last_look = false;
    if (!s.ok()) {
      LogError("cannot claim: " + s.ToString());
      return kExitFailed;
    }
    if (!from->stage && from->claimer->stats().holes_found > holes_logged) {
      holes_logged = from->claimer->stats().holes_found;
      LogWarn("trial " + TrialName(claim.index) +
              " was never claimed, though points above it were (the filesystem answered an "
              "exclusive create or a lookup wrongly): claiming it now");
    }
    ++ran;
    Outcome o = RunOne(from, claim);
    if (o == Outcome::kInterrupted) {
      MaybeRequeue(job);
      return kExitInterrupted;
    }
    if (o == Outcome::kFailed || o == Outcome::kLost) any_failed = true;
  }
  return any_failed ? kExitFailed : kExitOk;
}

void TrialRunner::MaybeRequeue(const std::string& job) {
  if (!spec_.resources().requeue() || job.empty()) return;
  const int restarts =
      std::atoi(GetEnv("SLURM_RESTART_COUNT").c_str());  // absent before the first requeue
  const uint32_t max = spec_.claim().max_attempts();
  if (static_cast<uint32_t>(restarts) + 1 >= max) {
    LogInfo("not requeueing job " + job + ": it already ran " + std::to_string(restarts + 1) +
            " times (max_attempts " + std::to_string(max) + "); the next job picks the trial up");
    return;
  }
  Status s = RequeueJob(job);
  if (s.ok()) {
    LogInfo("requeued job " + job + " (restart " + std::to_string(restarts + 1) + " of at most " +
            std::to_string(max - 1) + ")");
  } else {
    LogWarn("could not requeue job " + job + ": " + s.ToString() +
            "; the next job picks the trial up");
  }
}

TrialRunner::Outcome TrialRunner::RunOne(Queue* q, const Claim& claim) {
  const Point pt = PointOf(*q, claim.index);
  const std::string started_at = NowIso8601();
  LogInfo("claimed " + q->Work(claim.index) + " attempt " + std::to_string(claim.attempt) +
          (claim.previous == TrialState::kPending
               ? ""
               : std::string(" (was ") + TrialStateName(claim.previous) + ")"));
  AttemptEnd end;
  {
    // From here to the attempt's end, trial's messages also go to its log.
    AttemptLog log(env_, q->layout.log_path(claim.index, claim.attempt));
    log.Header("# claimsweep: " + q->Work(claim.index) + " attempt " +
               std::to_string(claim.attempt) + " on " + HostName() +
               (GetEnv("SLURM_JOB_ID").empty() ? "" : " job " + GetEnv("SLURM_JOB_ID")));
    end = RunAttempt(q, claim, pt, log);
  }
  // A command's checkpoints are its own: count the whole attempt.
  const double reach = end.first_checkpoint_s >= 0 ? end.first_checkpoint_s : end.seconds;
  if (end.kind == Outcome::kDone || end.first_checkpoint_s >= 0)
    needed_s_ = std::max(needed_s_, reach);
  return Record(q, claim, pt, started_at, std::move(end));
}

TrialRunner::AttemptEnd TrialRunner::RunAttempt(Queue* q, const Claim& claim, const Point& pt,
                                                const AttemptLog& log) {
  AttemptEnd end;
  if (ReceivedSignal() != 0) {
    // Slurm's warning came while we were claiming: hand the trial back untouched.
    end.kind = Outcome::kInterrupted;
    end.message = "received signal " + std::to_string(ReceivedSignal()) + " before starting";
  } else if (env_->Exists(q->layout.stop_path(claim.index))) {
    // `sweep stop` landed while we were claiming: hand it back untouched.
    end.kind = Outcome::kStopped;
    end.message = "stopped by the user (sweep stop) before starting";
  } else if (q->stage && q->stage->spec.has_eval()) {
    end = RunEvalAttempt(q, claim, log);
  } else if (!q->stage && spec_.has_train()) {
    end = RunTrainAttempt(q, claim, pt, log);
  } else {
    end = RunCommandAttempt(q, claim, pt, log);
  }
  return end;
}

Status TrialRunner::CheckPlainDir(const std::string& dir) {
  FileInfo info;
  Status s = env_->Stat(dir, &info);
  if (s.ok() && (info.is_symlink || !info.is_dir))
    s = Status::PermissionDenied(dir + " is not a plain directory");
  return s;
}

std::function<bool()> TrialRunner::StopCheck(const Queue& q, const Claim& claim) {
  const std::string path = q.layout.stop_path(claim.index);
  return [env = env_, path] { return env->Exists(path); };
}

TrialRunner::AttemptEnd TrialRunner::RunCommandAttempt(Queue* q, const Claim& claim,
                                                       const Point& pt, const AttemptLog& log) {
  AttemptEnd end;
  Claimer* claimer = q->claimer.get();
  const CommandTask& command = q->stage ? q->stage->spec.command() : spec_.command();
  const std::string trial_dir = q->layout.trial_dir(claim.index);
  // Where the command runs and writes its files ({trial_dir}): trials/<i>/work
  // since spec format_version 2 (and a stage item's work/ always), apart from
  // the records that make the trial's state, so no file the command writes
  // can commit or fail it.
  // A rung's item works in its configuration's trial directory: it resumes
  // from the files the rung below left there.
  const std::string task_dir =
      q->stage ? q->layout.work_dir(claim.index) : TaskDir(spec_, layout_, q->Config(claim.index));
  // The trial directory was published by our own rename, but make sure no
  // one swapped a symlink in before we run a command inside it.
  Status s = CheckPlainDir(trial_dir);
  if (s.ok() && task_dir != trial_dir) {
    s = env_->CreateDir(task_dir);  // kept across attempts: a retry finds the files of the last one
    if (s.ok()) s = CheckPlainDir(task_dir);
  }

  std::map<std::string, std::string> values = pt.AsMap();
  values["trial_dir"] = task_dir;
  values["sweep_dir"] = layout_.root();
  values["spec_dir"] = spec_.spec_dir();
  values["index"] = std::to_string(q->Config(claim.index));
  values["attempt"] = std::to_string(claim.attempt);
  // A stage item's own placeholders (checked at `sweep init`).
  std::vector<std::string> stage_env;
  if (rungs_) {
    values["budget"] = std::to_string(rungs_->budgets()[q->rung]);
    stage_env.push_back("SWEEP_BUDGET=" + values["budget"]);
  }
  if (q->stage) {
    values["stage"] = q->stage->name;
    stage_env.push_back("SWEEP_STAGE_NAME=" + q->stage->name);
    if (q->stage->kind == StageKind::kAfterAll) {
      std::string inputs;
      if (s.ok()) s = WriteInputs(*q, claim.index, &inputs);
      values["inputs"] = inputs;
      stage_env.push_back("SWEEP_INPUTS=" + inputs);
    } else {
      const uint64_t u = ItemUpstream(claim.index);
      values["upstream_dir"] = layout_.trial_dir(u);
      stage_env.push_back("SWEEP_UPSTREAM_DIR=" + values["upstream_dir"]);
      if (q->stage->kind == StageKind::kEachCheckpoint) {
        values["checkpoint"] = KeptCheckpointPath(layout_, u, ItemSub(claim.index));
        values["epoch"] = std::to_string(ItemSub(claim.index));
        stage_env.push_back("SWEEP_CHECKPOINT=" + values["checkpoint"]);
        stage_env.push_back("SWEEP_EPOCH=" + values["epoch"]);
      }
    }
  }
  CommandRequest req;
  req.cwd = task_dir;
  req.log_path = q->layout.log_path(claim.index, claim.attempt);
  // The command enters, and writes to, what the sweep's Env resolved (no
  // link followed), by descriptor: a link swapped in after the check above
  // is never followed. The log's is the attempt log's (AttemptLog).
  struct Fd {
    int fd = -1;
    ~Fd() {
      if (fd >= 0) ::close(fd);
    }
  } cwd;
  if (s.ok()) s = env_->OpenDirectory(task_dir, &cwd.fd);
  if (s.ok()) s = log.status();
  req.cwd_fd = cwd.fd;
  req.log_fd = log.fd();
  for (int i = 0; s.ok() && i < command.argv_size(); ++i) {
    std::string arg;
    s = Substitute(command.argv(i), values, &arg);
    req.argv.push_back(arg);
  }
  // "./train.sh" or "scripts/run.py" is the spec's, wherever the command runs;
  // a bare name ("python3") is looked up in PATH.
  if (s.ok() && !req.argv.empty() && !spec_.spec_dir().empty() &&
      req.argv[0].find('/') != std::string::npos && req.argv[0][0] != '/') {
    req.argv[0] = spec_.spec_dir() + "/" + req.argv[0];
  }
  for (const auto& [k, v] : pt.values) req.extra_env.push_back("SWEEP_PARAM_" + k + "=" + v);
  req.extra_env.push_back("SWEEP_TRIAL_DIR=" + task_dir);
  req.extra_env.push_back("SWEEP_DIR=" + layout_.root());
  req.extra_env.push_back("SWEEP_SPEC_DIR=" + spec_.spec_dir());
  req.extra_env.push_back("SWEEP_INDEX=" + values["index"]);
  req.extra_env.push_back("SWEEP_ATTEMPT=" + values["attempt"]);
  for (std::string& e : stage_env) req.extra_env.push_back(std::move(e));
  for (const auto& [k, v] : command.env()) {
    std::string val;
    if (s.ok()) s = Substitute(v, values, &val);
    req.extra_env.push_back(k + "=" + val);
  }
  CommandOutcome out;
  bool stopped = false;
  if (s.ok() && LogEnabled(LogLevel::kDebug)) {
    std::string line = "running";
    for (const std::string& a : req.argv) line += " '" + a + "'";
    LogDebug(line + " in " + task_dir);
  }
  if (s.ok()) {
    LeaseKeeper keeper(claimer, claim, spec_.claim().heartbeat_seconds(), StopCheck(*q, claim));
    // SIGTERM to the command's process group when the claim is lost or the
    // user stops the trial (then SIGKILL after the grace period).
    s = RunCommand(req, keeper.must_end(), /*kill_grace_s=*/10, &out);
    if (keeper.lost()) {
      end.kind = Outcome::kLost;
      end.message = keeper.lost_reason();
      return end;
    }
    stopped = keeper.stop_requested();
  }
  if (!s.ok()) {
    end.kind = Outcome::kFailed;
    end.exit_code = 127;
    end.message = s.ToString();
    return end;
  }
  end.exit_code = out.term_signal ? -1 : out.exit_code;
  end.term_signal = out.term_signal;
  end.seconds = out.seconds;
  if (LogEnabled(LogLevel::kDebug)) {
    LogDebug("the command " +
             (out.term_signal ? "was killed by signal " + std::to_string(out.term_signal)
                              : "exited with status " + std::to_string(out.exit_code)) +
             " after " + std::to_string(out.seconds) + " s");
  }
  const int sig = ReceivedSignal();
  const bool clean = out.exit_code == 0 && out.term_signal == 0;
  if (sig != 0 && !clean) {
    end.kind = Outcome::kInterrupted;
    end.message = "received signal " + std::to_string(sig);
  } else if (stopped && !clean) {
    // A stop wins over the command's own exit 75: the user wants it stopped.
    end.kind = Outcome::kStopped;
    end.message = "stopped by the user (sweep stop): the command got SIGTERM";
  } else if (out.exit_code == kExitInterrupted) {
    end.kind = Outcome::kInterrupted;
    end.message = "the command exited 75 (EX_TEMPFAIL)";
  } else if (clean) {
    end.kind = Outcome::kDone;
  } else {
    end.kind = Outcome::kFailed;
    end.message = out.term_signal ? "killed by signal " + std::to_string(out.term_signal)
                                  : "exited with status " + std::to_string(out.exit_code);
  }
  return end;
}

Status TrialRunner::EvalCheckpoint(const Queue& q, uint64_t index, std::string* path) {
  const uint64_t u = ItemUpstream(index);
  if (q.stage->kind == StageKind::kEachCheckpoint) {
    *path = layout_.kept_checkpoint_path(u, ItemSub(index));
    return Status::OK();
  }
  // each_trial: the trial's last epoch-end checkpoint (kept, else the newest
  // in checkpoints/, which the trial's pruning keeps).
  std::vector<uint32_t> kept;
  CS_RETURN_IF_ERROR(ListKeptEpochs(env_, layout_, u, &kept));
  if (!kept.empty()) {
    *path = layout_.kept_checkpoint_path(u, kept.back());
    return Status::OK();
  }
  const std::string dir = layout_.checkpoints_dir(u);
  std::vector<std::string> names;
  CS_RETURN_IF_ERROR(env_->ListDir(dir, &names));
  int best = 0;
  for (const std::string& n : names) {
    int e = 0;
    char tail[16] = {0};
    if (std::sscanf(n.c_str(), "ckpt-%d-%15s", &e, tail) == 2 &&
        EpochEndCheckpointPath(dir, e) == dir + "/" + n)
      best = std::max(best, e);
  }
  if (best == 0)
    return Status::NotFound("trial " + TrialName(u) + " has no epoch-end checkpoint in " +
                            layout_.relative(dir));
  *path = EpochEndCheckpointPath(dir, best);
  return Status::OK();
}

TrialRunner::AttemptEnd TrialRunner::RunEvalAttempt(Queue* q, const Claim& claim,
                                                    const AttemptLog& log) {
  AttemptEnd end;
  end.kind = Outcome::kFailed;
  end.exit_code = 1;
  const uint64_t u = ItemUpstream(claim.index);
  auto cfg = TrainTaskForPoint(spec_.train(), points_.At(u));
  EvalRequest req;
  Status s = cfg.status();
  if (s.ok()) s = EvalCheckpoint(*q, claim.index, &req.checkpoint_path);
  if (!s.ok()) {
    end.message = s.ToString();
    return end;
  }
  req.env = env_;
  req.config = *cfg;
  req.split = q->stage->spec.eval().split();
  const std::string cpus = GetEnv("SLURM_CPUS_PER_TASK");
  req.threads = cpus.empty() ? 0 : std::atoi(cpus.c_str());
  log.Header("# evaluating " + layout_.relative(req.checkpoint_path) + " on the " +
             (req.split.empty() ? std::string("test") : req.split) + " split");
  LeaseKeeper keeper(q->claimer.get(), claim, spec_.claim().heartbeat_seconds(),
                     StopCheck(*q, claim));
  req.should_stop = [&keeper] {
    return ReceivedSignal() != 0 || keeper.stop_requested() || keeper.lost();
  };
  req.log = LogInfo;
  req.warn = LogWarn;
  const auto t0 = std::chrono::steady_clock::now();
  bool interrupted = false;
  google::protobuf::Struct metrics;
  s = RunEvaluation(req, &metrics, &interrupted);
  end.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (keeper.lost()) {
    end.kind = Outcome::kLost;
    end.message = keeper.lost_reason();
  } else if (!s.ok()) {
    end.message = s.ToString();
    LogError("failed: " + end.message);
  } else if (interrupted) {
    end.kind = ReceivedSignal() == 0 && keeper.stop_requested() ? Outcome::kStopped
                                                                : Outcome::kInterrupted;
    end.message = end.kind == Outcome::kStopped
                      ? "stopped by the user (sweep stop)"
                      : "received signal " + std::to_string(ReceivedSignal());
  } else {
    end.kind = Outcome::kDone;
    end.exit_code = 0;
    end.metrics = metrics;
  }
  return end;
}

TrialRunner::AttemptEnd TrialRunner::RunTrainAttempt(Queue* q, const Claim& claim, const Point& pt,
                                                     const AttemptLog& log) {
  AttemptEnd end;
  Claimer* claimer = q->claimer.get();
  auto cfg = TrainTaskForPoint(spec_.train(), pt);
  if (!cfg.ok()) {
    end.kind = Outcome::kFailed;
    end.exit_code = 2;
    end.message = cfg.status().message();
    return end;
  }
  end.config_json = TrainConfigJson(*cfg);
  log.Header("# effective config (spec, point values, then defaults): " + end.config_json);
  LeaseKeeper keeper(claimer, claim, spec_.claim().heartbeat_seconds(), StopCheck(*q, claim));
  TrainRequest req;
  req.env = env_;
  req.config = *cfg;
  // Every rung of a configuration trains in its trial directory, to the
  // rung's budget: a promoted one resumes its checkpoint and trains on.
  const uint64_t c = q->Config(claim.index);
  req.checkpoints_dir = layout_.checkpoints_dir(c);
  req.kept_dir = layout_.kept_dir(c);
  if (rungs_) req.until_epoch = rungs_->budgets()[q->rung];
  // A kept checkpoint is the input of each each_checkpoint stage's item:
  // announced before the checkpoint is linked into kept/ (core/derived.h).
  req.before_keep = [this, index = c](int epoch) {
    for (const StageInfo* st : graph_.OfKind(StageKind::kEachCheckpoint)) {
      CS_RETURN_IF_ERROR(Announce(env_, SweepLayout::ForStage(layout_.root(), st->name),
                                  StageItemKey(index, static_cast<uint32_t>(epoch))));
    }
    return Status::OK();
  };
  req.metrics_path = MetricsCsvPath(spec_, layout_, c);
  const std::string cpus = GetEnv("SLURM_CPUS_PER_TASK");
  req.threads = cpus.empty() ? 0 : std::atoi(cpus.c_str());
  req.should_stop = [&keeper] { return ReceivedSignal() != 0 || keeper.stop_requested(); };
  req.lost = [&keeper] { return keeper.lost().load(); };
  req.may_write = [claimer, &claim] { return claimer->CheckOwnership(claim); };
  req.log = LogInfo;
  req.warn = LogWarn;
  const auto t0 = std::chrono::steady_clock::now();
  TrainOutcome out;
  Status s = RunTraining(req, &out);
  end.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (s.IsSuperseded() || keeper.lost() || (s.ok() && out.kind == TrainOutcome::Kind::kLost)) {
    end.kind = Outcome::kLost;
    end.message = s.IsSuperseded() ? s.message() : keeper.lost_reason();
  } else if (!s.ok()) {
    end.kind = Outcome::kFailed;
    end.exit_code = 1;
    end.message = s.ToString();
    LogError("failed: " + end.message);
  } else if (out.kind == TrainOutcome::Kind::kDiverged) {
    end.kind = Outcome::kFailed;
    end.exit_code = 1;
    end.retryable = false;
    end.message = out.message;
  } else if (out.kind == TrainOutcome::Kind::kInterrupted && ReceivedSignal() == 0 &&
             keeper.stop_requested()) {
    end.kind = Outcome::kStopped;
    end.message = "stopped by the user (sweep stop); checkpoint written";
  } else if (out.kind == TrainOutcome::Kind::kInterrupted) {
    end.kind = Outcome::kInterrupted;
    end.message = "received signal " + std::to_string(ReceivedSignal()) + "; checkpoint written";
  } else {
    end.kind = Outcome::kDone;
    end.metrics = out.summary;
  }
  end.first_checkpoint_s = out.first_checkpoint_s;
  return end;
}

TrialRunner::Outcome TrialRunner::Record(Queue* q, const Claim& claim, const Point& pt,
                                         const std::string& started_at, AttemptEnd end) {
  Claimer* claimer = q->claimer.get();
  const std::string name = q->Work(claim.index) + " attempt " + std::to_string(claim.attempt);
  if (end.kind == Outcome::kLost) {
    // Fencing: someone else owns the trial now; write nothing it would read.
    LogWarn(name + ": lost the claim, wrote nothing: " + end.message);
    return Outcome::kLost;
  }
  TrialResult r;
  r.set_format_version(kJsonRecordVersion);
  if (q->stage) {
    r.set_index(ItemUpstream(claim.index));
    r.set_stage(q->stage->name);
    r.set_item(ItemName(claim.index));
    if (q->stage->kind == StageKind::kEachCheckpoint) r.set_epoch(ItemSub(claim.index));
  } else {
    r.set_index(static_cast<uint32_t>(q->Config(claim.index)));
  }
  if (rungs_) {
    if (q->rung) {
      r.set_stage(q->name());
      r.set_item(ItemName(claim.index));
    }
    r.set_rung(q->rung);
    r.set_budget(static_cast<uint32_t>(rungs_->budgets()[q->rung]));
  }
  r.set_attempt(claim.attempt);
  r.set_exit_code(end.exit_code);
  r.set_term_signal(end.term_signal);
  r.set_duration_seconds(end.seconds);
  // Every record carries the trial's wall time so far: a failed or
  // interrupted trial's is as real as a done one's.
  r.set_total_seconds(end.seconds +
                      EarlierAttemptsSeconds(env_, q->layout, claim.index, claim.attempt));
  r.set_host(HostName());
  r.set_slurm_job_id(GetEnv("SLURM_JOB_ID"));
  r.set_started_at(started_at);
  r.set_finished_at(NowIso8601());
  r.set_spec_version(points_.version());
  r.set_message(end.message);
  for (const auto& [k, v] : pt.values) (*r.mutable_params())[k] = v;
  const std::string metrics_csv = q->stage ? q->layout.metrics_csv_path(claim.index, true)
                                           : MetricsCsvPath(spec_, layout_, q->Config(claim.index));
  Status ms = ReadLastMetricsRow(env_, metrics_csv, r.mutable_metrics());
  if (!ms.ok() && !ms.IsNotFound()) LogWarn(name + ": " + ms.ToString());
  for (const auto& [k, v] : end.metrics.fields()) (*r.mutable_metrics()->mutable_fields())[k] = v;
  // Our own TrainConfigJson: it parses by construction.
  if (!end.config_json.empty())
    ParseJson(end.config_json, "config", r.mutable_config()).IgnoreError();

  Status s;
  switch (end.kind) {
    case Outcome::kDone:
      r.set_outcome("done");
      // The items this trial's result is the input of are announced before
      // it commits: a result never exists without them (core/derived.h).
      if (!q->stage && !q->rung) {
        for (const StageInfo* st : graph_.OfKind(StageKind::kEachTrial)) {
          if (!s.ok()) break;
          s = Announce(env_, SweepLayout::ForStage(layout_.root(), st->name),
                       StageItemKey(claim.index));
        }
      }
      if (s.ok()) s = claimer->Commit(claim, ToJson(r));
      if (s.ok()) LogInfo(name + ": done in " + std::to_string(end.seconds) + " s");
      break;
    case Outcome::kInterrupted:
      r.set_outcome("interrupted");
      s = claimer->Release(claim, ToJson(r));
      if (s.ok())
        LogInfo(name + ": released as interrupted (" + r.message() +
                "); exit 75 so the job can be requeued");
      break;
    case Outcome::kStopped:
      r.set_outcome("stopped");
      s = claimer->Release(claim, ToJson(r));
      if (s.ok()) LogInfo(name + ": " + r.message() + "; released, the trial stays stopped");
      break;
    default: {
      r.set_outcome("failed");
      bool final = false;
      s = claimer->Fail(claim, ToJson(r), &final, end.retryable);
      if (s.ok() && (final || !end.retryable)) RungEnded(*q, claim.index, r);
      if (s.ok()) {
        // A warning while later attempts may still make it; an error once the trial is failed.
        Log(!end.retryable || final ? LogLevel::kError : LogLevel::kWarn,
            name + ": failed (" + r.message() + "); " +
                (!end.retryable ? "not retryable, the trial is failed"
                 : final        ? "no attempts left, the trial is failed"
                                : "it will be retried by a later claim") +
                "; log: " + q->layout.log_path(claim.index, claim.attempt));
      }
    }
  }
  if (s.IsSuperseded()) {
    LogWarn(name + ": lost the claim, wrote nothing: " + s.message());
    return Outcome::kLost;
  }
  if (s.IsAlreadyExists()) {
    LogWarn(name + ": another attempt committed this trial first; keeping its result");
    AfterCommit(*q, claim.index);
    return Outcome::kLost;
  }
  if (!s.ok()) {
    LogError(name + ": could not record the outcome: " + s.ToString());
    return Outcome::kFailed;
  }
  if (end.kind == Outcome::kDone) {
    AfterCommit(*q, claim.index);
    RungEnded(*q, claim.index, r);
  }
  return end.kind;
}

void TrialRunner::RungEnded(const Queue& q, uint64_t index, const TrialResult& r) {
  if (!rungs_ || q.stage) return;
  const uint64_t c = q.Config(index);
  const RungResult score = ScoreOfRecord(c, r, rungs_->asha().metric());
  if (r.outcome() == "done" && score.failed) {
    LogWarn(q.Work(index) + ": its record has no finite '" + rungs_->asha().metric() +
            "' (the early-stopping metric): it ranks last at rung " + std::to_string(q.rung) +
            " and is not promoted");
  }
  size_t announced = 0;
  Status s = rungs_->Finished(q.rung, score, points_.size(), &announced);
  if (!s.ok()) {
    // A lost score or promotion is recreated by an idle worker (Rungs::Repair).
    LogWarn(q.Work(index) +
            ": publishing its rung result failed (an idle worker repairs it): " + s.ToString());
  } else if (announced > 0) {
    LogInfo("rung " + std::to_string(q.rung) + " is complete: " + std::to_string(announced) +
            " configurations promoted to rung " + std::to_string(q.rung + 1) + " (" +
            std::to_string(rungs_->budgets()[q.rung + 1]) + " epochs)");
  }
}

void TrialRunner::AfterCommit(const Queue& q, uint64_t index) {
  const uint64_t point = q.stage ? ItemUpstream(index) : index;
  for (const auto& [funnel, gate] : gates_) {
    // Members: the input stage's items; for an input that is an
    // each_checkpoint stage, also the trials (a point is complete only once
    // its trial is done and every checkpoint it kept is evaluated).
    const StageInfo* input = graph_.Find(funnel->input);
    const bool member = q.stage ? funnel->input == q.stage->name
                                : (funnel->input == kTrialsStageName ||
                                   (input && input->kind == StageKind::kEachCheckpoint));
    if (!member) continue;
    bool announced = false;
    Status s = gate->PointDone(point, points_.size(), points_.version(), &announced);
    if (!s.ok()) {
      // Lost wakeups are found by idle workers (Gate::Repair): nothing is lost.
      LogWarn("stage " + funnel->name + ": the gate step after " + q.Work(index) +
              " failed (an idle worker repairs it): " + s.ToString());
    } else if (announced) {
      LogInfo("every input of stage " + funnel->name + " is done: its item is ready");
    }
  }
}

Status TrialRunner::WriteInputs(const Queue& q, uint64_t index, std::string* path) {
  std::string text;
  const StageInfo* input = graph_.Find(q.stage->input);
  const uint64_t n = points_.size();
  for (uint64_t i = 0; i < n; ++i) {
    if (!input) {
      text += layout_.trial_dir(i) + "\n";
      continue;
    }
    const SweepLayout in = SweepLayout::ForStage(layout_.root(), input->name);
    if (input->kind == StageKind::kEachCheckpoint) {
      std::vector<uint32_t> epochs;
      CS_RETURN_IF_ERROR(ListKeptEpochs(env_, layout_, i, &epochs));
      for (uint32_t e : epochs) text += in.trial_dir(StageItemKey(i, e)) + "\n";
    } else {
      text += in.trial_dir(StageItemKey(i)) + "\n";
    }
  }
  *path = q.layout.work_dir(index) + "/inputs.txt";
  return env_->WriteFileAtomic(*path, text);
}

}  // namespace claimsweep
