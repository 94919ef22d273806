// `sweep log [DIR] IDX [--attempt K] [--follow]`: an attempt's log.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/layout.h"
#include "core/spec.h"
#include "core/sweep_points.h"
#include "core/token.h"
#include "core/trial_state.h"
#include "sweep/commands.h"

namespace claimsweep {
namespace {

// Whether attempt `k` may still write to its log: its directory is there and
// open (no release or failure record), the trial has no result and no newer
// attempt, and its heartbeat is within the lease (by the filesystem's clock).
bool AttemptLive(Env* env, const SweepLayout& layout, const ClaimPolicy& policy, uint64_t index,
                 uint32_t k) {
  TrialSnapshot snap;
  if (!ReadTrialSnapshot(env, layout, index, &snap).ok() || snap.has_result ||
      snap.attempts.empty())
    return false;
  const AttemptFiles& last = snap.attempts.back();
  if (last.number != k || !last.has_dir || last.released || last.failed || snap.heartbeat_ns < 0)
    return false;
  int64_t now_ns = 0;
  const std::string probe = layout.clock_probe_path("log." + ProcessToken());
  if (!env->FsNow(probe, &now_ns).ok()) return true;  // cannot tell: keep following
  env->RemoveFile(probe).IgnoreError();
  const double lease = policy.lease_seconds() > 0 ? policy.lease_seconds() : 300;
  return static_cast<double>(now_ns - snap.heartbeat_ns) / 1e9 <= lease;
}

// Copies what `fd` holds from its current offset to stdout.
void Drain(int fd) {
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::fwrite(buf, 1, static_cast<size_t>(n), stdout);
  }
  std::fflush(stdout);
}

// The log as a plain file, never through a link planted in the tree.
int OpenLog(const std::string& path, std::string* error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    *error = errno == ENOENT ? "" : path + ": " + std::strerror(errno);
    return -1;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    *error = path + " is not a regular file; refusing to read it";
    return -1;
  }
  return fd;
}

}  // namespace

int CmdLog(const std::string& dir, const std::string& index_arg, uint32_t attempt, bool follow) {
  OpenedSweep sw;
  if (!OpenSweep(dir, &sw)) return kExitUsage;
  Env* env = sw.env.get();
  const SweepSpec* spec = &sw.spec;
  const SweepPoints* ps = &*sw.points;
  uint64_t index = 0;
  if (!ParseIndex(index_arg, &index))
    return UsageError("'" + index_arg + "' is not a trial index (N)");
  if (index >= ps->size()) {
    return UsageError("index " + index_arg + " is out of range: the sweep has " +
                      std::to_string(ps->size()) + " points");
  }
  SweepLayout layout(dir);
  const std::string name = TrialName(index);
  TrialSnapshot snap;
  Status s = ReadTrialSnapshot(env, layout, index, &snap);
  if (!s.ok()) return Failure(s.ToString());
  uint32_t latest = 0;
  for (const AttemptFiles& a : snap.attempts) {
    if (a.has_dir) latest = a.number;
  }
  if (latest == 0) {
    return Failure("trial " + name + " has no attempt yet (" +
                   (snap.exists ? "no attempt directory" : "pending") + "): no log to show");
  }
  const uint32_t k = attempt == 0 ? latest : attempt;
  if (!env->Exists(layout.attempt_dir(index, k))) {
    return Failure("trial " + name + " has no attempt " + std::to_string(k) +
                   " (latest: " + std::to_string(latest) + ")");
  }
  const std::string path = layout.log_path(index, k);
  std::string error;
  int fd = OpenLog(path, &error);
  if (fd < 0 && !error.empty()) return Failure(error);
  if (!follow) {
    if (fd < 0)
      return Failure("trial " + name + " attempt " + std::to_string(k) + " has no log (" + path +
                     ")");
    Drain(fd);
    ::close(fd);
    return 0;
  }
  // Like tail -f, until the attempt no longer runs; then what it wrote last.
  for (;;) {
    const bool live = AttemptLive(env, layout, spec->claim(), index, k);
    if (fd < 0) fd = OpenLog(path, &error);
    if (fd < 0 && !error.empty()) return Failure(error);
    if (fd >= 0) Drain(fd);
    if (!live) break;
    ::usleep(250 * 1000);
  }
  if (fd < 0)
    return Failure("trial " + name + " attempt " + std::to_string(k) + " ended without a log (" +
                   path + ")");
  ::close(fd);
  return 0;
}

}  // namespace claimsweep
