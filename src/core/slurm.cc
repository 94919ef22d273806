#include "core/slurm.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sstream>

#include "core/layout.h"
#include "core/subprocess.h"

namespace claimsweep {
namespace {

bool AllOf(const std::string& s, const char* allowed_punct) {
  for (unsigned char c : s) {
    if (!std::isalnum(c) && std::strchr(allowed_punct, c) == nullptr) return false;
  }
  return true;
}

bool HasControl(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// A job name Slurm and a file name both take: the sweep's name with anything
// else replaced.
std::string JobName(const std::string& name) {
  std::string out;
  for (unsigned char c : name)
    out += std::isalnum(c) || c == '-' || c == '_' || c == '.' ? static_cast<char>(c) : '_';
  return out.empty() ? "sweep" : out.substr(0, 64);
}

}  // namespace

Status ValidateResources(const Resources& r) {
  std::string errs;
  auto bad = [&](const std::string& field, const std::string& value, const std::string& want) {
    errs += "resources." + field + " '" + value + "': " + want + "\n";
  };
  const char* names = "_.,+-";
  if (!AllOf(r.partition(), names))
    bad("partition", r.partition(), "use letters, digits and _ . , + -");
  if (!AllOf(r.account(), names)) bad("account", r.account(), "use letters, digits and _ . , + -");
  if (!AllOf(r.qos(), names)) bad("qos", r.qos(), "use letters, digits and _ . , + -");
  if (!r.mem().empty() &&
      (!AllOf(r.mem(), "") || !std::isdigit(static_cast<unsigned char>(r.mem()[0])))) {
    bad("mem", r.mem(), "a size such as 16G, 4000M or 500 (megabytes)");
  }
  if (!AllOf(r.time(), ":-") ||
      (!r.time().empty() && !std::isdigit(static_cast<unsigned char>(r.time()[0])))) {
    bad("time", r.time(), "minutes, HH:MM:SS or D-HH:MM:SS");
  }
  for (int i = 0; i < r.extra_sbatch_size(); ++i) {
    const std::string& e = r.extra_sbatch(i);
    if (e.size() < 2 || e[0] != '-' || HasControl(e)) {
      bad("extra_sbatch[" + std::to_string(i) + "]", e,
          "one sbatch option such as --constraint=a100, on one line");
    }
  }
  if (r.trial_per_gpu() && r.gpus() < 2) errs += "resources.trial_per_gpu needs gpus >= 2\n";
  if (r.trial_per_gpu() && r.cpus() > 0 && r.cpus() % r.gpus() != 0) {
    errs += "resources.cpus (" + std::to_string(r.cpus()) + ") must be a multiple of gpus (" +
            std::to_string(r.gpus()) + ") with trial_per_gpu: each trial gets cpus/gpus\n";
  }
  if (!errs.empty()) return Status::InvalidArgument(errs);
  return Status::OK();
}

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

Resources StageResources(const Resources& sweep, const Resources& stage) {
  Resources r = sweep;
  r.MergeFrom(stage);  // proto3: the stage's non-default scalars win; lists are appended
  if (stage.extra_sbatch_size() > 0) *r.mutable_extra_sbatch() = stage.extra_sbatch();
  return r;
}

Result<JobScript> RenderJobScript(const SweepSpec& spec, const std::string& sweep_dir,
                                  const std::string& trial, uint64_t array_size,
                                  const std::string& stage) {
  Resources r = spec.resources();
  std::string job_name = JobName(spec.name());
  if (stage == "trials") {
    // The sweep's own points alone (SWEEP_STAGE=trials): its own resources.
    job_name = JobName(JobName(spec.name()).substr(0, 31) + "-" + stage);
  } else if (!stage.empty()) {
    const Stage* st = nullptr;
    std::string names;
    for (const Stage& s : spec.stage()) {
      if (s.name() == stage) st = &s;
      names += (names.empty() ? "" : ", ") + s.name();
    }
    if (st == nullptr) {
      return Status::InvalidArgument(
          "--stage " + stage +
          ": the sweep has no such stage (stages: " + (names.empty() ? "none" : names) + ")");
    }
    r = StageResources(spec.resources(), st->resources());
    Status v = ValidateResources(r);
    if (!v.ok()) return Status::InvalidArgument("stage " + stage + ": " + v.message());
    // Both names show in squeue (and name the job's output file), within 64.
    job_name = JobName(JobName(spec.name()).substr(0, 31) + "-" + stage);
  }
  CS_RETURN_IF_ERROR(ValidateResources(r));
  if (sweep_dir.empty() || sweep_dir[0] != '/' || trial.empty() || trial[0] != '/') {
    return Status::InvalidArgument(
        "the sweep directory and the trial binary must be absolute paths");
  }
  for (const std::string* p : {&sweep_dir, &trial}) {
    if (HasControl(*p)) {
      return Status::InvalidArgument(
          "'" + *p +
          "' contains a newline or control character; Slurm's --output cannot name it. "
          "Rename it.");
    }
  }
  const uint32_t signal_s = r.signal_seconds() > 0 ? r.signal_seconds() : 120;
  std::ostringstream s;
  s << "#!/bin/bash\n"
    << "# claimsweep job for sweep '" << JobName(spec.name()) << "'"
    << (stage.empty() ? "" : ", stage '" + JobName(stage) + "'")
    << ", rendered by `sweep submit`.\n"
    << (stage.empty()
            ? "# Every job of the sweep runs this same script; `trial` claims the next point "
              "itself.\n"
            : "# Every job of this stage runs this same script; `trial` claims only its items.\n")
    << "#SBATCH --job-name=" << job_name << "\n";
  if (!r.partition().empty()) s << "#SBATCH --partition=" << r.partition() << "\n";
  if (!r.account().empty()) s << "#SBATCH --account=" << r.account() << "\n";
  if (!r.qos().empty()) s << "#SBATCH --qos=" << r.qos() << "\n";
  if (r.trial_per_gpu()) {
    s << "#SBATCH --nodes=1\n#SBATCH --ntasks=" << r.gpus() << "\n";
    if (r.cpus() > 0) s << "#SBATCH --cpus-per-task=" << r.cpus() / r.gpus() << "\n";
  } else if (r.cpus() > 0) {
    s << "#SBATCH --cpus-per-task=" << r.cpus() << "\n";
  }
  if (r.gpus() > 0) s << "#SBATCH --gres=gpu:" << r.gpus() << "\n";
  if (!r.mem().empty()) s << "#SBATCH --mem=" << r.mem() << "\n";
  if (!r.time().empty()) s << "#SBATCH --time=" << r.time() << "\n";
  s << "# SIGUSR1 " << signal_s
    << " s before the walltime: trial checkpoints, hands the trial back, exits 75.\n"
    << "#SBATCH --signal=B:USR1@" << signal_s << "\n"
    << (r.requeue() ? "#SBATCH --requeue\n" : "#SBATCH --no-requeue\n");
  for (const auto& e : r.extra_sbatch()) s << "#SBATCH " << e << "\n";
  s << "# --output and --chdir are on sbatch's command line: paths may hold spaces.\n"
    << "export SWEEP_DIR=" << ShellQuote(sweep_dir) << "\n";
  if (!stage.empty()) s << "export SWEEP_STAGE=" << ShellQuote(stage) << "\n";
  if (r.trial_per_gpu()) {
    // srun forwards the walltime signal to every trial.
    s << "exec srun --ntasks=" << r.gpus() << " --gpus-per-task=1 --kill-on-bad-exit=0 "
      << ShellQuote(trial) << "\n";
  } else {
    s << "exec " << ShellQuote(trial) << "\n";
  }
  JobScript js;
  js.script = s.str();
  const std::string out_dir = SweepLayout(sweep_dir).slurm_dir();
  js.sbatch_argv = {"sbatch", "--parsable", "--chdir=" + sweep_dir,
                    "--output=" + out_dir + (array_size > 0 ? "/%x-%A_%a.out" : "/%x-%j.out")};
  if (array_size > 0) {
    std::string a = "--array=0-" + std::to_string(array_size - 1);
    if (r.array_throttle() > 0) a += "%" + std::to_string(r.array_throttle());
    js.sbatch_argv.push_back(a);
  }
  return js;
}

int64_t ParseSlurmTime(const std::string& text) {
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) return -1;
  tm.tm_isdst = -1;
  const time_t t = std::mktime(&tm);
  return t < 0 ? -1 : static_cast<int64_t>(t);
}

int64_t JobEndTime(const std::string& job_id) {
  if (const char* e = std::getenv("SLURM_JOB_END_TIME")) {
    char* rest = nullptr;
    long long v = std::strtoll(e, &rest, 10);
    if (rest != e && *rest == '\0' && v > 0) return v;
  }
  if (job_id.empty()) return 0;
  std::string out, err;
  int code = 0;
  if (!RunProgram({"squeue", "-h", "-j", job_id, "-o", "%e"}, "", 20, &out, &err, &code).ok() ||
      code != 0)
    return 0;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  const int64_t t = ParseSlurmTime(out);
  return t > 0 ? t : 0;
}

Status ListLiveJobs(std::set<std::string>* ids) {
  ids->clear();
  std::string out, err;
  int code = 0;
  CS_RETURN_IF_ERROR(RunProgram({"squeue", "-h", "--me", "-o", "%A"}, "", 20, &out, &err, &code));
  if (code != 0)
    return Status::IOError("squeue failed (exit " + std::to_string(code) + "): " + err);
  std::istringstream in(out);
  for (std::string id; in >> id;) ids->insert(id);
  return Status::OK();
}

Status RequeueJob(const std::string& job_id) {
  std::string out, err;
  int code = 0;
  CS_RETURN_IF_ERROR(RunProgram({"scontrol", "requeue", job_id}, "", 30, &out, &err, &code));
  if (code != 0)
    return Status::IOError("scontrol requeue " + job_id + " failed (exit " + std::to_string(code) +
                           "): " + err);
  return Status::OK();
}

bool SlurmJobWatch::Gone(const std::string& job_id) {
  const auto now = std::chrono::steady_clock::now();
  if (listed_ && now - listed_at_ < std::chrono::seconds(5) && jobs_.count(job_id) != 0)
    return false;
  Status s = ListLiveJobs(&jobs_);
  listed_ = s.ok();
  listed_at_ = now;
  if (!s.ok()) {
    say_("cannot ask Slurm which jobs are alive (" + s.ToString() + "); relying on leases");
    return false;
  }
  if (jobs_.count(job_id) != 0) return false;
  say_("job " + job_id +
       " is no longer known to Slurm: taking over its trial without waiting for the lease");
  return true;
}

}  // namespace claimsweep
