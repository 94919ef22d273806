#include "core/layout.h"

#include <cstdint>
#include <cstdio>

namespace claimsweep {
namespace {

// Parses a run of decimal digits [s, s+n). No sign, no empty string, no overflow.
bool ParseDigits(const std::string& s, size_t pos, size_t n, uint64_t* out) {
  if (n == 0 || n > 19 || pos + n > s.size()) return false;
  uint64_t v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  *out = v;
  return true;
}

const char* LeaseSuffix(LeaseMark mark) {
  switch (mark) {
    case LeaseMark::kOpen: return "";
    case LeaseMark::kReleased: return ".released";
    case LeaseMark::kStale: return ".stale";
  }
  return "";
}

// A lease name's mark suffix, and where the "<entry>.<attempt>" part ends.
// False if that part has no dot, or nothing after it.
bool SplitLeaseName(const std::string& name, size_t* end, LeaseMark* mark) {
  *end = name.size();
  *mark = LeaseMark::kOpen;
  for (LeaseMark candidate : {LeaseMark::kReleased, LeaseMark::kStale}) {
    const std::string suffix = LeaseSuffix(candidate);
    if (*end > suffix.size() && name.compare(*end - suffix.size(), suffix.size(), suffix) == 0) {
      *mark = candidate;
      *end -= suffix.size();
      break;
    }
  }
  const size_t dot = name.find('.');
  return dot != std::string::npos && dot >= 6 && dot < *end;
}

}  // namespace

SweepLayout::SweepLayout(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

SweepLayout SweepLayout::ForStage(std::string root, std::string stage) {
  SweepLayout l(std::move(root));
  l.stage_ = std::move(stage);
  return l;
}

std::string SweepLayout::entry_name(uint64_t index) const {
  return stage_.empty() ? TrialName(index) : ItemName(index);
}

bool SweepLayout::ParseEntryName(const std::string& name, uint64_t* index) const {
  return stage_.empty() ? ParseTrialName(name, index) : ParseItemName(name, index);
}

std::string SweepLayout::lease_name(uint64_t index, uint32_t attempt, LeaseMark mark) const {
  if (stage_.empty()) return LeaseName(index, attempt, mark);
  char buf[24];
  std::snprintf(buf, sizeof buf, ".%04u", attempt);
  return ItemName(index) + buf + LeaseSuffix(mark);
}

bool SweepLayout::ParseLease(const std::string& name, uint64_t* index, uint32_t* attempt,
                             LeaseMark* mark) const {
  if (stage_.empty()) return ParseLeaseName(name, index, attempt, mark);
  size_t end = 0;
  LeaseMark m = LeaseMark::kOpen;
  uint64_t a = 0;
  if (!SplitLeaseName(name, &end, &m)) return false;
  const size_t dot = name.find('.');
  if (!ParseItemName(name.substr(0, dot), index)) return false;
  if (!ParseDigits(name, dot + 1, end - dot - 1, &a) || a > 999999) return false;
  // Attempt 0 is an announcement (ready, never attempted): released only.
  if (a == 0 && m != LeaseMark::kReleased) return false;
  *attempt = static_cast<uint32_t>(a);
  if (mark) *mark = m;
  return true;
}

std::string SweepLayout::trial_dir(uint64_t index) const {
  return trials_dir() + "/" + entry_name(index);
}

std::string SweepLayout::attempt_dir(uint64_t index, uint32_t attempt) const {
  return trial_dir(index) + "/" + AttemptName(attempt);
}

std::string SweepLayout::archive_dir(uint64_t index, const std::string& stamp, int n) const {
  // A stage's item: archive/<stage>-<item>-<stamp>.
  return root_ + "/archive/" + (stage_.empty() ? "" : stage_ + "-") + entry_name(index) + "-" +
         stamp + (n >= 2 ? "-" + std::to_string(n) : "");
}

std::string SweepLayout::version_path(uint32_t version) const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "/%04u.textproto", version);
  return versions_dir() + buf;
}

std::string SweepLayout::lease_path(uint64_t index, uint32_t attempt) const {
  return leases_dir() + "/" + lease_name(index, attempt, LeaseMark::kOpen);
}

std::string SweepLayout::released_lease_path(uint64_t index, uint32_t attempt) const {
  return leases_dir() + "/" + lease_name(index, attempt, LeaseMark::kReleased);
}

std::string SweepLayout::stale_lease_path(uint64_t index, uint32_t attempt) const {
  return leases_dir() + "/" + lease_name(index, attempt, LeaseMark::kStale);
}

std::string SweepLayout::staged_attempt_dir(const std::string& staged_trial, uint32_t attempt) {
  return staged_trial + "/" + AttemptName(attempt);
}

std::string SweepLayout::relative(const std::string& path) const {
  const std::string prefix = root_ == "/" ? root_ : root_ + "/";
  if (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0)
    return path.substr(prefix.size());
  return path;
}

std::string TrialName(uint64_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06llu", static_cast<unsigned long long>(index));
  return buf;
}

std::string ItemName(uint64_t key) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%06u-%04u", ItemUpstream(key), ItemSub(key));
  return buf;
}

bool ParseItemName(const std::string& name, uint64_t* key) {
  const size_t dash = name.find('-');
  uint64_t u = 0, sub = 0;
  if (dash == std::string::npos || dash < 6 || name.size() - dash - 1 < 4) return false;
  if (!ParseDigits(name, 0, dash, &u) || !ParseDigits(name, dash + 1, name.size() - dash - 1, &sub))
    return false;
  if (u > UINT32_MAX || sub > UINT32_MAX) return false;
  *key = ItemKey(static_cast<uint32_t>(u), static_cast<uint32_t>(sub));
  return true;
}

bool ParseTrialName(const std::string& name, uint64_t* index) {
  return name.size() >= 6 && ParseDigits(name, 0, name.size(), index);
}

std::string AttemptName(uint32_t attempt) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "attempt-%04u", attempt);
  return buf;
}

bool ParseAttemptEntry(const std::string& name, uint32_t* attempt, AttemptEntry* kind) {
  static const std::string kPrefix = "attempt-";
  if (name.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  size_t digits_end = kPrefix.size();
  while (digits_end < name.size() && name[digits_end] >= '0' && name[digits_end] <= '9')
    ++digits_end;
  uint64_t v = 0;
  if (!ParseDigits(name, kPrefix.size(), digits_end - kPrefix.size(), &v) || v == 0 || v > 999999) {
    return false;
  }
  std::string rest = name.substr(digits_end);
  if (rest.empty()) {
    *kind = AttemptEntry::kDir;
  } else if (rest == ".released.json") {
    *kind = AttemptEntry::kReleased;
  } else if (rest == ".failed.json") {
    *kind = AttemptEntry::kFailed;
  } else if (rest == ".fatal") {
    *kind = AttemptEntry::kFatal;
  } else {
    return false;
  }
  *attempt = static_cast<uint32_t>(v);
  return true;
}

std::string LeaseName(uint64_t index, uint32_t attempt, LeaseMark mark) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%06llu.%04u%s", static_cast<unsigned long long>(index), attempt,
                LeaseSuffix(mark));
  return buf;
}

bool ParseLeaseName(const std::string& name, uint64_t* index, uint32_t* attempt, LeaseMark* mark) {
  size_t end = 0;
  LeaseMark m = LeaseMark::kOpen;
  if (!SplitLeaseName(name, &end, &m)) return false;
  const size_t dot = name.find('.');
  uint64_t a = 0;
  if (!ParseDigits(name, 0, dot, index)) return false;
  if (!ParseDigits(name, dot + 1, end - dot - 1, &a) || a == 0 || a > 999999) return false;
  *attempt = static_cast<uint32_t>(a);
  if (mark) *mark = m;
  return true;
}

std::string SweepLayout::kept_file_path(const std::string& kept_dir, uint32_t epoch) {
  return kept_dir + "/" + KeptCheckpointName(epoch);
}

std::string KeptCheckpointName(uint32_t epoch) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "ckpt-%04u.csckpt", epoch);
  return buf;
}

bool ParseKeptCheckpointName(const std::string& name, uint32_t* epoch) {
  static const std::string kPrefix = "ckpt-", kSuffix = ".csckpt";
  if (name.size() < kPrefix.size() + kSuffix.size() ||
      name.compare(0, kPrefix.size(), kPrefix) != 0 ||
      name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
    return false;
  }
  uint64_t v = 0;
  if (!ParseDigits(name, kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size(), &v) ||
      v == 0 || v > UINT32_MAX) {
    return false;
  }
  // Only the writer's spelling: four digits, more only when needed.
  if (name != KeptCheckpointName(static_cast<uint32_t>(v))) return false;
  *epoch = static_cast<uint32_t>(v);
  return true;
}

std::string RetryMarkerName(uint32_t after_attempt) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "retry-%04u", after_attempt);
  return buf;
}

bool ParseRetryMarker(const std::string& name, uint32_t* after_attempt) {
  static const std::string kPrefix = "retry-";
  if (name.size() <= kPrefix.size() || name.size() > kPrefix.size() + 6 ||
      name.compare(0, kPrefix.size(), kPrefix) != 0) {
    return false;
  }
  uint32_t v = 0;
  for (size_t i = kPrefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    v = v * 10 + static_cast<uint32_t>(name[i] - '0');
  }
  *after_attempt = v;
  return true;
}

TrialEntry ParseTrialEntry(const std::string& name, uint32_t* number, AttemptEntry* attempt_kind) {
  if (name == kResultFileName) return TrialEntry::kResult;
  if (name == kStopFileName) return TrialEntry::kStop;
  if (name == kUnorderedFileName) return TrialEntry::kUnordered;
  if (name == kWorkDirName) return TrialEntry::kWork;
  if (name == kCheckpointsDirName) return TrialEntry::kCheckpoints;
  if (name == kKeptDirName) return TrialEntry::kKept;
  if (name == kMetricsCsvFileName) return TrialEntry::kMetricsCsv;
  if (ParseRetryMarker(name, number)) return TrialEntry::kRetryMarker;
  if (ParseAttemptEntry(name, number, attempt_kind)) return TrialEntry::kAttempt;
  return TrialEntry::kOther;
}

}  // namespace claimsweep
