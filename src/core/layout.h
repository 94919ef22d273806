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
//   DIR/trials/<index>/checkpoints/     a train task's checkpoints (checkpoint_file.h)
//   DIR/trials/<index>/kept/ckpt-<epoch>.csckpt   a kept epoch-end checkpoint
//                                       (keep_checkpoints_every): a hard link of
//                                       checkpoints/ckpt-<epoch>-000000.csckpt, never
//                                       replaced, never pruned
//   DIR/trials/<index>/[work/]metrics.csv   one row per epoch (TaskDir, spec.h)
//   DIR/trials/<index>/retry-<k>        `sweep retry`: failures up to attempt k no longer count
//   DIR/trials/<index>/unordered        published out of claim order (`sweep resume`)
//   DIR/leases/<index>.<k>[.released|.stale]   index of open trials (a hint, not truth);
//                                       ".released": its owner gave it back; ".stale":
//                                       an observer judged its lease expired. Both:
//                                       claimable now
//   DIR/versions/<v>.textproto          `sweep extend`: spec version v >= 2 (points appended)
//   DIR/tmp/                            private temp files and directories
//   DIR/archive/<index>-<UTC stamp>[-n]/   `sweep reset`: what trials/<index>/ held
//                                       (a stage item: archive/<stage>-<item>-<stamp>)
//
// Messages name entries relative to DIR (relative()), as the confined Env does.
#pragma once

#include <cstdint>
#include <string>

namespace claimsweep {

inline constexpr const char* kSpecFileName = "sweep.textproto";
inline constexpr const char* kSpecDigestFileName = "sweep.sha256";
// The entries of trials/<index>/ and attempt-<k>/ that are not numbered.
inline constexpr const char* kResultFileName = "result.json";
inline constexpr const char* kStopFileName = "stop";
inline constexpr const char* kUnorderedFileName = "unordered";
inline constexpr const char* kWorkDirName = "work";
inline constexpr const char* kCheckpointsDirName = "checkpoints";
inline constexpr const char* kKeptDirName = "kept";
inline constexpr const char* kMetricsCsvFileName = "metrics.csv";
inline constexpr const char* kOwnerFileName = "owner.json";
inline constexpr const char* kLogFileName = "log";

// What a lease entry's name says about its attempt.
enum class LeaseMark {
  kOpen,      // "000123.0002": attempt 2 may be open (running, or its owner died)
  kReleased,  // "000123.0002.released": its owner (or `sweep`) gave the trial back
  kStale,     // "000123.0002.stale": an observer saw its heartbeat unchanged for a lease
};

// A derived stage's item key: (upstream point, sub-key: an epoch, a spec
// version, 0), packed into the uint64 index that claims use.
inline uint64_t ItemKey(uint32_t upstream, uint32_t sub) {
  return (uint64_t{upstream} << 32) | sub;
}
inline uint32_t ItemUpstream(uint64_t key) { return static_cast<uint32_t>(key >> 32); }
inline uint32_t ItemSub(uint64_t key) { return static_cast<uint32_t>(key); }
// "000042-0004" (upstream at least six digits, sub at least four; no '.').
std::string ItemName(uint64_t key);
bool ParseItemName(const std::string& name, uint64_t* key);

class SweepLayout {
 public:
  explicit SweepLayout(std::string root);
  // A derived stage's work queue (docs/derived-work.md): the same layout
  // with trials_dir() = DIR/stages/<stage>/items and leases_dir() =
  // DIR/stages/<stage>/leases, entries named by ItemName (keys pack an
  // upstream point and a sub-key), and a lease entry of attempt 0 allowed
  // when marked released (an announcement: ready, no attempt yet). Every
  // other path (the spec, versions/, tmp/) is the sweep's.
  static SweepLayout ForStage(std::string root, std::string stage);
  // "" for the sweep's points.
  const std::string& stage() const { return stage_; }

  const std::string& root() const { return root_; }
  std::string spec_path() const { return root_ + "/" + kSpecFileName; }
  // "sha256 <hex>  sweep.textproto": the frozen spec's digest (format_version >= 2).
  std::string spec_digest_path() const { return root_ + "/" + kSpecDigestFileName; }
  std::string trials_dir() const {
    return stage_.empty() ? root_ + "/trials" : stage_dir() + "/items";
  }
  std::string leases_dir() const {
    return stage_.empty() ? root_ + "/leases" : stage_dir() + "/leases";
  }
  // DIR/stages: every stage's queue.
  std::string stages_dir() const { return root_ + "/stages"; }
  // DIR/stages/<stage> (a stage's queue only).
  std::string stage_dir() const { return stages_dir() + "/" + stage_; }
  // The name of entry `index` in trials_dir(): TrialName, or ItemName in a
  // stage's queue; and its inverse.
  std::string entry_name(uint64_t index) const;
  bool ParseEntryName(const std::string& name, uint64_t* index) const;
  // A lease entry's name in leases_dir() (LeaseName, with entry_name), and
  // its inverse.
  std::string lease_name(uint64_t index, uint32_t attempt, LeaseMark mark) const;
  bool ParseLease(const std::string& name, uint64_t* index, uint32_t* attempt,
                  LeaseMark* mark = nullptr) const;
  std::string tmp_dir() const { return root_ + "/tmp"; }
  // `sweep extend`'s spec versions: versions/0002.textproto, ... (version 1
  // is spec_path()).
  std::string versions_dir() const { return root_ + "/versions"; }
  std::string version_path(uint32_t version) const;
  // Job scripts, job ids and job output of `sweep submit` (not protocol state).
  std::string slurm_dir() const { return root_ + "/slurm"; }
  std::string job_script_path() const { return slurm_dir() + "/job.sh"; }
  // `sweep submit --stage S`'s: slurm/job-<S>.sh.
  std::string job_script_path(const std::string& stage) const {
    return stage.empty() ? job_script_path() : slurm_dir() + "/job-" + stage + ".sh";
  }
  std::string jobs_list_path() const { return slurm_dir() + "/jobs.tsv"; }
  // `sweep reset` moves a trial's entries here: archive/<index>-<UTC stamp>,
  // or archive/<index>-<UTC stamp>-<n> for the n-th (n >= 2) in one second.
  std::string archive_dir(uint64_t index, const std::string& stamp, int n = 1) const;
  // archive/<...>/NAME, for a name read from a listing of the trial directory.
  static std::string archive_entry_path(const std::string& archive_dir, const std::string& name) {
    return archive_dir + "/" + name;
  }
  // A process's private temp entries in tmp/: "<token><suffix>", e.g. the
  // filesystem-clock probe (".clock" kind) or a directory being built.
  std::string tmp_path(const std::string& token, const std::string& suffix) const {
    return tmp_dir() + "/" + token + suffix;
  }
  std::string clock_probe_path(const std::string& token) const {
    return tmp_dir() + "/clock." + token;
  }
  // leases/NAME, for a name read from a listing of leases/.
  std::string lease_entry_path(const std::string& name) const { return leases_dir() + "/" + name; }

  std::string trial_dir(uint64_t index) const;
  // A command task's own directory ({trial_dir}, its working directory) in
  // sweeps of spec format_version >= 2: the command's files live apart from
  // claimsweep's records, so no file it writes can change the trial's state.
  std::string work_dir(uint64_t index) const { return trial_entry_path(index, kWorkDirName); }
  // Where a task runs and writes metrics.csv: work_dir() when `in_work_dir`,
  // else the trial directory itself (TaskDir, core/spec.h, decides which).
  std::string task_dir(uint64_t index, bool in_work_dir) const {
    return in_work_dir ? work_dir(index) : trial_dir(index);
  }
  std::string metrics_csv_path(uint64_t index, bool in_work_dir) const {
    return task_dir(index, in_work_dir) + "/" + kMetricsCsvFileName;
  }
  std::string result_path(uint64_t index) const { return trial_entry_path(index, kResultFileName); }
  std::string stop_path(uint64_t index) const { return trial_entry_path(index, kStopFileName); }
  // trials/<index>/NAME, for a name read from a listing of the trial directory.
  std::string trial_entry_path(uint64_t index, const std::string& name) const {
    return trial_dir(index) + "/" + name;
  }
  // A train task's checkpoints (checkpoint_file.h names the files inside).
  std::string checkpoints_dir(uint64_t index) const {
    return trial_entry_path(index, kCheckpointsDirName);
  }
  // checkpoints/NAME, for a checkpoint file name (checkpoint_file.h).
  static std::string checkpoint_path(const std::string& checkpoints_dir, const std::string& name) {
    return checkpoints_dir + "/" + name;
  }
  // A train task's kept checkpoints (keep_checkpoints_every): kept/<KeptCheckpointName>.
  std::string kept_dir(uint64_t index) const { return trial_entry_path(index, kKeptDirName); }
  std::string kept_checkpoint_path(uint64_t index, uint32_t epoch) const {
    return kept_file_path(kept_dir(index), epoch);
  }
  // kept/ckpt-<epoch>.csckpt inside a kept_dir() (the trainer is given only the directory).
  static std::string kept_file_path(const std::string& kept_dir, uint32_t epoch);
  // Marks a trial directory that was not published in claim order (a pending
  // point stopped, then resumed): the frontier search never counts it as
  // claimed, so it cannot hide unclaimed points below it.
  std::string unordered_path(uint64_t index) const {
    return trial_entry_path(index, kUnorderedFileName);
  }
  std::string attempt_dir(uint64_t index, uint32_t attempt) const;
  // The heartbeat is owner.json's mtime: one file fewer per claim.
  std::string heartbeat_path(uint64_t index, uint32_t attempt) const {
    return owner_path(index, attempt);
  }
  std::string owner_path(uint64_t index, uint32_t attempt) const {
    return attempt_dir(index, attempt) + "/" + kOwnerFileName;
  }
  std::string log_path(uint64_t index, uint32_t attempt) const {
    return attempt_dir(index, attempt) + "/" + kLogFileName;
  }
  std::string released_path(uint64_t index, uint32_t attempt) const {
    return attempt_dir(index, attempt) + ".released.json";
  }
  std::string failed_path(uint64_t index, uint32_t attempt) const {
    return attempt_dir(index, attempt) + ".failed.json";
  }
  // Created before failed.json when the failure is not retryable.
  std::string fatal_path(uint64_t index, uint32_t attempt) const {
    return attempt_dir(index, attempt) + ".fatal";
  }
  std::string lease_path(uint64_t index, uint32_t attempt) const;
  // The lease entry once its owner released the trial: claimable at once.
  std::string released_lease_path(uint64_t index, uint32_t attempt) const;
  // The lease entry once an observer judged attempt k's lease expired.
  std::string stale_lease_path(uint64_t index, uint32_t attempt) const;

  // The same entries inside a directory staged in tmp/ (tmp_path()) before a
  // rename publishes it as trials/<index> (a claim, a stop of a pending
  // point) or as trials/<index>/attempt-<k> (a takeover).
  static std::string staged_attempt_dir(const std::string& staged_trial, uint32_t attempt);
  static std::string staged_owner_path(const std::string& staged_attempt) {
    return staged_attempt + "/" + kOwnerFileName;
  }
  static std::string staged_stop_path(const std::string& staged_trial) {
    return staged_trial + "/" + kStopFileName;
  }

  // `path` relative to the sweep directory ("trials/000003/result.json") when
  // it lies below it, else `path` itself: how messages name entries.
  std::string relative(const std::string& path) const;

 private:
  std::string root_;
  std::string stage_;
};

// "000123" (at least six digits).
std::string TrialName(uint64_t index);
bool ParseTrialName(const std::string& name, uint64_t* index);

// "attempt-0002"
std::string AttemptName(uint32_t attempt);
// An entry of a trial directory that belongs to an attempt.
enum class AttemptEntry { kDir, kReleased, kFailed, kFatal };
bool ParseAttemptEntry(const std::string& name, uint32_t* attempt, AttemptEntry* kind);

std::string LeaseName(uint64_t index, uint32_t attempt, LeaseMark mark = LeaseMark::kOpen);
bool ParseLeaseName(const std::string& name, uint64_t* index, uint32_t* attempt,
                    LeaseMark* mark = nullptr);

// "ckpt-0004.csckpt": the kept checkpoint of epoch 4 (1-based; at least four
// digits); ParseKeptCheckpointName is its inverse (epoch >= 1).
std::string KeptCheckpointName(uint32_t epoch);
bool ParseKeptCheckpointName(const std::string& name, uint32_t* epoch);

// "retry-0002": written by `sweep retry` when attempt 2 was the latest.
std::string RetryMarkerName(uint32_t after_attempt);
bool ParseRetryMarker(const std::string& name, uint32_t* after_attempt);

// What a name read from a listing of trials/<index>/ is. For kAttempt,
// *number and *attempt_kind are set; for kRetryMarker, *number (its k).
// kOther: not claimsweep's (a version 1 command's own files).
enum class TrialEntry {
  kOther,
  kResult,
  kStop,
  kUnordered,
  kRetryMarker,
  kAttempt,
  kWork,
  kCheckpoints,
  kKept,
  kMetricsCsv
};
TrialEntry ParseTrialEntry(const std::string& name, uint32_t* number, AttemptEntry* attempt_kind);

}  // namespace claimsweep
