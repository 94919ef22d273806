// `sweep fscheck`: time. Where file times come from, how fine they are, and
// how long a change through DIR takes to show through a second client.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "core/fscheck_internal.h"
#include "core/number_format.h"

namespace claimsweep::fscheck {

double Realtime() {
  timespec t;
  ::clock_gettime(CLOCK_REALTIME, &t);
  return ToSeconds(t);
}

double Monotonic() {
  timespec t;
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return ToSeconds(t);
}

std::string ErrnoName(int e) {
  const char* name = ::strerrorname_np(e);
  return std::string(name ? name : "errno " + std::to_string(e)) + " (" + std::strerror(e) + ")";
}

void Add(FsCheckReport* r, const char* check, FsVerdict v, std::string found,
         std::string claimsweep, std::string fix) {
  r->findings.push_back({check, v, std::move(found), std::move(claimsweep), std::move(fix)});
}

namespace {

bool SameTime(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

void Sleep(double seconds) {
  timespec t{static_cast<time_t>(seconds), static_cast<long>(std::fmod(seconds, 1.0) * 1e9)};
  while (::nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
}

std::string Secs(double s) { return FormatDouble(s) + " s"; }

// "1 s", "1 ms", "100 ns": the unit of a resolution that is a power of ten.
std::string Resolution(double s) {
  if (s >= 1) return FormatDouble(s) + " s";
  if (s >= 1e-3) return FormatDouble(std::round(s * 1e3)) + " ms";
  if (s >= 1e-6) return FormatDouble(std::round(s * 1e6)) + " µs";
  return FormatDouble(std::round(s * 1e9)) + " ns";
}

}  // namespace

// With 8 samples a finer resolution passes for a coarser one by chance with
// probability 1e-8.
double TimeResolution(const std::vector<timespec>& times) {
  long unit = 1;
  while (unit < 1000000000L) {
    const long next = unit * 10;
    bool all = true;
    for (const auto& t : times) all = all && t.tv_nsec % next == 0;
    if (!all) break;
    unit = next;
  }
  return unit / 1e9;  // the double nearest 10^-k, as the literal 1e-6 is
}

namespace {

// Touches a file until its mtime changes (and then for 8 distinct values,
// or 1.5 s), and makes a directory: the skews, the resolution, how long a
// touch took to move the mtime. False (with the unsafe finding) when a
// touch fails or never moves it; also false when stopped.
bool MeasureTimes(int w, const FsCheckOptions& o, FsCheckReport* r) {
  // The heartbeat: utimensat(NULL), "now" by whoever stamps it.
  auto touch = [&](timespec* m) {
    if (::utimensat(w, "excl", nullptr, AT_SYMLINK_NOFOLLOW) != 0) return false;
    struct stat st;
    if (::fstatat(w, "excl", &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    *m = st.st_mtim;
    return true;
  };
  const char* lease = "renews a running trial's lease by touching its owner.json";
  timespec first;
  const double t0 = Realtime();
  if (!touch(&first)) {
    Add(r, "file_times", FsVerdict::kUnsafe,
        "touching a file (utimensat with NULL times) failed: " + ErrnoName(errno), lease,
        "put the sweep on a filesystem that lets you set file times");
    return false;
  }
  r->touch_skew_seconds = ToSeconds(first) - (t0 + Realtime()) / 2;
  std::vector<timespec> seen = {first};
  const double start = Monotonic();
  double changed_after = -1;
  while (true) {
    const double elapsed = Monotonic() - start;
    if (seen.size() >= 8 || (seen.size() >= 2 && elapsed > 1.5) || elapsed > 3) break;
    if (Stopped(o)) return false;
    Sleep(0.01);
    timespec m;
    if (!touch(&m)) break;
    if (!SameTime(m, seen.back())) {
      if (changed_after < 0) changed_after = Monotonic() - start;
      seen.push_back(m);
    }
  }
  // A new directory: stamped by whoever makes directories (the server, on
  // sshfs, whose client stamps touches itself).
  const double m0 = Realtime();
  struct stat st;
  if (::mkdirat(w, "clock", 0700) == 0 && ::fstatat(w, "clock", &st, AT_SYMLINK_NOFOLLOW) == 0)
    r->mkdir_skew_seconds = ToSeconds(st.st_mtim) - (m0 + Realtime()) / 2;
  if (changed_after < 0) {
    Add(r, "file_times", FsVerdict::kUnsafe,
        "touching a file again for 3 s never changed its mtime",
        "judges a lease by whether owner.json's mtime changes: every live trial would look stale "
        "after a lease",
        "put the sweep on a filesystem where utimensat(NULL) updates the mtime");
    return false;
  }
  r->touch_change_ms = changed_after * 1e3;
  r->resolution_seconds = TimeResolution(seen);
  return true;
}

// The skews, rounded for eyes (the report, --json, has them exact).
void ReportSkew(FsCheckReport* r) {
  std::string found = "a new directory's time is " + FormatFixed(r->mkdir_skew_seconds, 3) +
                      " s off this node's clock, a new file's " +
                      FormatFixed(r->create_skew_seconds, 3) + " s, a touched file's " +
                      FormatFixed(r->touch_skew_seconds, 3) + " s";
  const double apart = std::fabs(r->mkdir_skew_seconds - r->touch_skew_seconds);
  if (apart > 2 + r->resolution_seconds) {
    found += ": directories and touched files are stamped by two clocks " + FormatFixed(apart, 1) +
             " s apart (the server's and this client's)";
  }
  const char* rule =
      "a heartbeat is stale when it has not changed for a lease by the observer's own clock: "
      "clock skew between nodes and the filesystem is harmless";
  const double worst =
      std::max({std::fabs(r->mkdir_skew_seconds), std::fabs(r->create_skew_seconds),
                std::fabs(r->touch_skew_seconds)});
  if (worst > 2 + r->resolution_seconds) {
    Add(r, "clock_skew", FsVerdict::kWarning,
        found +
            " (a node, filesystem client or server whose clock is off: sshfs, Lustre and GPFS "
            "clients stamp their own time)",
        rule,
        "set the clocks right (NTP/chrony) on this node, the filesystem client and the server");
  } else {
    Add(r, "clock_skew", FsVerdict::kOk, found, rule);
  }
}

void ReportResolution(const FsCheckOptions& o, FsCheckReport* r) {
  const std::string found = "file times have a resolution of " + Resolution(r->resolution_seconds) +
                            "; a touch changed the mtime after " +
                            FormatFixed(r->touch_change_ms, 0) + " ms";
  const std::string needs =
      "needs every heartbeat (every " + Secs(o.heartbeat_seconds) + ") to change the mtime";
  if (r->resolution_seconds >= o.heartbeat_seconds) {
    Add(r, "time_resolution", FsVerdict::kUnsafe, found,
        needs + "; with so coarse a time some do not, and live trials look stale",
        "set claim { heartbeat_seconds } above " + Resolution(r->resolution_seconds) +
            " (at most a third of lease_seconds)");
  } else {
    Add(r, "time_resolution", FsVerdict::kOk, found,
        needs + ": a resolution finer than heartbeat_seconds does");
  }
}

}  // namespace

void CheckTimes(int w, const FsCheckOptions& o, FsCheckReport* r) {
  if (!MeasureTimes(w, o, r)) return;
  ReportSkew(r);
  ReportResolution(o, r);
}

namespace {

// Polls `seen()` until true or `timeout` s (or stopped); milliseconds it
// took (or waited).
double WaitUntil(const std::function<bool()>& seen, double timeout, const FsCheckOptions& o,
                 bool* shown) {
  const double start = Monotonic();
  while (true) {
    const double elapsed = Monotonic() - start;
    if (seen()) {
      *shown = true;
      return elapsed * 1e3;
    }
    if (elapsed >= timeout || Stopped(o)) {
      *shown = false;
      return elapsed * 1e3;
    }
    Sleep(0.002);
  }
}

bool CreateProbe(int w) {
  const int fd = ::openat(w, "seen", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  return fd >= 0 && ::close(fd) == 0;
}

// The findings of CheckSecondMount from its steps.
void ReportPropagation(const FsCheckOptions& o, bool same_dev, bool same_dir, FsCheckReport* r) {
  const std::vector<FsPropagation>& steps = r->propagation;
  const std::string& other = o.second_mount;
  std::string times;
  double worst = 0;
  for (const auto& s : steps) {
    times += (times.empty() ? "" : ", ") + s.change + " " +
             (s.shown ? FormatFixed(s.milliseconds, 1) + " ms" : "not within the wait");
    if (s.shown) worst = std::max(worst, s.milliseconds / 1e3);
  }
  const std::string wait = Secs(same_dev ? 0.2 : o.timeout_seconds);
  if (!steps[0].shown) {
    if (same_dev) {
      Add(r, "second_mount", FsVerdict::kUnsafe,
          "a file created in " + r->dir + " did not show in " + other +
              ", which is on the same filesystem through the same client: it is another "
              "directory",
          "needs every node to see the same sweep directory",
          "give --second-mount the directory that shows " + r->dir +
              "'s files (its counterpart on another node's mount)");
    } else {
      Add(r, "second_mount", FsVerdict::kUnsafe,
          "a file created through " + r->dir + " did not show through " + other + " within " +
              wait + ": " + other +
              " is not the same filesystem, or its client hides new files for longer",
          "needs every node to see the others' claims and heartbeats",
          "give --second-mount the directory that shows " + r->dir +
              "'s files through another client (another node's mount of the same volume), or "
              "a longer --timeout");
    }
    return;
  }
  for (const auto& s : steps) {
    if (s.shown) continue;
    const bool change = s.change == "change";
    // A delay longer than the wait is harmless while the wait plus a heartbeat stays
    // below the lease: only then is a change that never showed unsafe.
    const bool unsafe = change && o.heartbeat_seconds + o.timeout_seconds >= o.lease_seconds;
    Add(r, "second_mount", unsafe ? FsVerdict::kUnsafe : FsVerdict::kWarning,
        times + " through " + other + ": " +
            (change ? "an mtime set through " + r->dir + " did not show within " + wait
                    : "a file removed through " + r->dir + " still shows after " + wait),
        change ? "judges a lease by owner.json's mtime changing, as each node sees it: live "
                 "trials would look stale on the other client and be taken over"
               : "reads ENOENT/ESTALE of a removed entry as \"gone, look again\"; stale "
                 "entries cost other nodes extra lookups",
        "mount without attribute caching longer than heartbeat_seconds (NFS: actimeo; sshfs: "
        "-o dcache_timeout=N or -o dir_cache=no), or measure with a longer --timeout (up to "
        "lease_seconds minus heartbeat_seconds)");
  }
  const std::string found = times + " through " + other;
  const std::string rule =
      "a dead trial is taken over a lease plus this delay after its last "
      "heartbeat; a live one looks stale to the other client when "
      "heartbeat_seconds plus the delay reaches lease_seconds";
  if (o.heartbeat_seconds + worst >= o.lease_seconds) {
    Add(r, "propagation", FsVerdict::kUnsafe,
        found + ": heartbeat_seconds (" + Secs(o.heartbeat_seconds) +
            ") plus the delay reaches "
            "lease_seconds (" +
            Secs(o.lease_seconds) + ")",
        rule, "raise claim { lease_seconds } well above heartbeat_seconds plus the delay");
  } else if (2 * worst >= o.heartbeat_seconds) {
    Add(r, "propagation", FsVerdict::kWarning,
        found + ": near heartbeat_seconds (" + Secs(o.heartbeat_seconds) + ")", rule,
        "keep claim { lease_seconds } well above heartbeat_seconds plus the delay, or mount with "
        "shorter attribute caching");
  } else {
    Add(r, "propagation", FsVerdict::kOk,
        found + ", well within heartbeat_seconds (" + Secs(o.heartbeat_seconds) + ")", rule);
  }
  if (same_dev) {
    Add(r, "second_mount", FsVerdict::kInfo,
        other + (same_dir ? " is " + r->dir + " itself" : " is on the same filesystem") +
            " through the same client (e.g. a bind mount): changes show at once",
        "sees what this client sees; other nodes' clients may cache longer",
        "to measure another client, give a directory on another node's mount (or a second "
        "mount of the volume)");
  }
}

}  // namespace

void CheckSecondMount(int dirfd, const WorkDirRef& work, const FsCheckOptions& o,
                      FsCheckReport* r) {
  const std::string& other = o.second_mount;
  const int pfd = ::open(other.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0) {
    Add(r, "second_mount", FsVerdict::kUnsafe, "cannot open " + other + ": " + ErrnoName(errno), "",
        "give --second-mount a directory you can read");
    return;
  }
  struct stat a, b;
  const bool same_dev = ::fstat(dirfd, &a) == 0 && ::fstat(pfd, &b) == 0 && a.st_dev == b.st_dev;
  const bool same_dir = same_dev && a.st_ino == b.st_ino;
  const std::string probe = work.name + "/seen";
  auto exists = [&] {
    struct stat st;
    return ::fstatat(pfd, probe.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  };
  // One filesystem through one client (a bind mount): a file shows at once or never.
  const double timeout = same_dev ? 0.2 : o.timeout_seconds;
  std::vector<FsPropagation>& steps = r->propagation;
  const std::string via = "through " + other;

  bool shown = false;
  if (!CreateProbe(work.fd)) {
    Add(r, "second_mount", FsVerdict::kUnsafe, "cannot create a file: " + ErrnoName(errno), "",
        "use a directory you can write");
    ::close(pfd);
    return;
  }
  steps.push_back({"create", false, WaitUntil(exists, timeout, o, &shown)});
  steps.back().shown = shown;
  if (shown) {
    // An mtime set through DIR (to a whole second an hour ago: any resolution keeps it).
    const time_t stamp = static_cast<time_t>(Realtime()) - 3600;
    const timespec times[2] = {{stamp, 0}, {stamp, 0}};
    if (::utimensat(work.fd, "seen", times, AT_SYMLINK_NOFOLLOW) == 0) {
      auto changed = [&] {
        struct stat st;
        return ::fstatat(pfd, probe.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               st.st_mtim.tv_sec == stamp;
      };
      steps.push_back({"change", false, WaitUntil(changed, timeout, o, &shown)});
      steps.back().shown = shown;
    }
    if (::unlinkat(work.fd, "seen", 0) == 0) {
      auto gone = [&] { return !exists() && (errno == ENOENT || errno == ESTALE); };
      steps.push_back({"remove", false, WaitUntil(gone, timeout, o, &shown)});
      steps.back().shown = shown;
    }
  }
  ::close(pfd);
  if (!Stopped(o)) ReportPropagation(o, same_dev, same_dir, r);
}

}  // namespace claimsweep::fscheck
