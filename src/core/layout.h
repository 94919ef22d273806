// SweepLayout: every path inside a sweep directory is built here, and every
// name claimsweep writes has a parse function that is its inverse.
//
//   DIR/sweep.textproto                 frozen spec (format_version inside)
//   DIR/sweep.sha256                    its SHA-256, written by `sweep init` (version >= 2)
//   DIR/trials/<index>/                 published by rename = point claimed
//   DIR/trials/<index>/attempt-<k>/     published by rename = attempt k owned
//        owner.json (its mtime is the heartbeat), log
//   DIR/trials/<index>/attempt-<k>.released.json   owner released it (interrupted)
//   DIR/trials/<index>/attempt-<k>.failed.json     attempt k failed
//   DIR/trials/<index>/attempt-<k>.fatal           ... and must not be retried
//                                       (deterministic, e.g. diverged); the
//                                       trial is failed at once
//   DIR/trials/<index>/result.json      commit point: the trial is done
//   DIR/trials/<index>/stop             the user asked it to stop
//   DIR/trials/<index>/work/            a command's own files (version >= 2)
//   DIR/trials/<index>/unordered        published out of claim order (`sweep resume`)
//   DIR/leases/<index>.<k>[.released]   index of open trials (a hint, not truth);
//                                       ".released": claimable now
//   DIR/tmp/                            private temp files and directories
#pragma once

#include <cstdint>
#include <string>

namespace claimsweep {

inline constexpr const char* kSpecFileName = "sweep.textproto";
inline constexpr const char* kSpecDigestFileName = "sweep.sha256";

class SweepLayout {
 public:
  explicit SweepLayout(std::string root);

  const std::string& root() const { return root_; }
  std::string spec_path() const { return root_ + "/" + kSpecFileName; }
  // "sha256 <hex>  sweep.textproto": the frozen spec's digest (format_version >= 2).
  std::string spec_digest_path() const { return root_ + "/" + kSpecDigestFileName; }
  std::string trials_dir() const { return root_ + "/trials"; }
  std::string leases_dir() const { return root_ + "/leases"; }
  std::string tmp_dir() const { return root_ + "/tmp"; }
  // Job scripts, job ids and job output of `sweep submit` (not protocol state).
  std::string slurm_dir() const { return root_ + "/slurm"; }
  std::string job_script_path() const { return slurm_dir() + "/job.sh"; }
  std::string jobs_list_path() const { return slurm_dir() + "/jobs.tsv"; }
  // `sweep reset` moves a trial's entries here: archive/<index>-<UTC stamp>.
  std::string archive_dir(uint64_t index, const std::string& stamp) const;
  // A process's private temp entries in tmp/: "<token><suffix>", e.g. the
  // filesystem-clock probe (".clock" kind) or a directory being built.
  std::string tmp_path(const std::string& token, const std::string& suffix) const {
    return tmp_dir() + "/" + token + suffix;
  }
  std::string clock_probe_path(const std::string& token) const { return tmp_dir() + "/clock." + token; }
  // leases/NAME, for a name read from a listing of leases/.
  std::string lease_entry_path(const std::string& name) const { return leases_dir() + "/" + name; }

  std::string trial_dir(uint64_t index) const;
  // A command task's own directory ({trial_dir}, its working directory) in
  // sweeps of spec format_version >= 2: the command's files live apart from
  // claimsweep's records, so no file it writes can change the trial's state.
  std::string work_dir(uint64_t index) const { return trial_dir(index) + "/work"; }
  std::string result_path(uint64_t index) const { return trial_dir(index) + "/result.json"; }
  std::string stop_path(uint64_t index) const { return trial_dir(index) + "/stop"; }
  // trials/<index>/NAME, for a name read from a listing of the trial directory.
  std::string trial_entry_path(uint64_t index, const std::string& name) const { return trial_dir(index) + "/" + name; }
  // A train task's checkpoints (checkpoint_file.h names the files inside).
  std::string checkpoints_dir(uint64_t index) const { return trial_dir(index) + "/checkpoints"; }
  // Marks a trial directory that was not published in claim order (a pending
  // point stopped, then resumed): the frontier search never counts it as
  // claimed, so it cannot hide unclaimed points below it.
  std::string unordered_path(uint64_t index) const { return trial_dir(index) + "/unordered"; }
  std::string attempt_dir(uint64_t index, uint32_t attempt) const;
  // The heartbeat is owner.json's mtime: one file fewer per claim.
  std::string heartbeat_path(uint64_t index, uint32_t attempt) const { return owner_path(index, attempt); }
  std::string owner_path(uint64_t index, uint32_t attempt) const {
    return attempt_dir(index, attempt) + "/owner.json";
  }
  std::string log_path(uint64_t index, uint32_t attempt) const {
    return attempt_dir(index, attempt) + "/log";
  }
  std::string released_path(uint64_t index, uint32_t attempt) const {
    return attempt_dir(index, attempt) + ".released.json";
  }
  std::string failed_path(uint64_t index, uint32_t attempt) const {
    return attempt_dir(index, attempt) + ".failed.json";
  }
  // Created before failed.json when the failure is not retryable.
  std::string fatal_path(uint64_t index, uint32_t attempt) const { return attempt_dir(index, attempt) + ".fatal"; }
  std::string lease_path(uint64_t index, uint32_t attempt) const;
  // The lease entry once its owner released the trial: claimable at once.
  std::string released_lease_path(uint64_t index, uint32_t attempt) const {
    return lease_path(index, attempt) + ".released";
  }

 private:
  std::string root_;
};

// "000123" (at least six digits).
std::string TrialName(uint64_t index);
bool ParseTrialName(const std::string& name, uint64_t* index);

// "attempt-0002"
std::string AttemptName(uint32_t attempt);
// An entry of a trial directory that belongs to an attempt.
enum class AttemptEntry { kDir, kReleased, kFailed, kFatal };
bool ParseAttemptEntry(const std::string& name, uint32_t* attempt, AttemptEntry* kind);

// "000123.0002", or "000123.0002.released" once its owner released it.
std::string LeaseName(uint64_t index, uint32_t attempt);
bool ParseLeaseName(const std::string& name, uint64_t* index, uint32_t* attempt, bool* released = nullptr);

}  // namespace claimsweep
