// claim_bench: throughput of the claim protocol itself. C forked processes
// race over a fresh N-point sweep doing ClaimNext + Commit until nothing is
// left; no command runs, so this is the protocol's cost and nothing else.
//
//   claim_bench --points N --claimers C --dir D [--timeout S] [--json]
//
// --timeout: each child stops claiming S seconds after the start (large sweeps
// with many claimers can take very long on a slow disk); the result then says
// finished=false and `missing` counts the points nobody got to.
//
// The outcome is checked outside the protocol's bookkeeping: each child writes
// the indices it committed to D/claimed.<child>, and the parent counts those
// (duplicates, missing) and the result.json files. Duplicates are a measurement,
// so the exit status is non-zero only for setup errors.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/claim.h"
#include "core/json.h"
#include "core/points.h"
#include "core/spec.h"
#include "core/token.h"
#include "records.pb.h"

namespace claimsweep {
namespace {

struct Options {
  uint64_t points = 0;
  int claimers = 0;
  std::string dir;
  double timeout_s = 0;  // 0: none
  bool json = false;
  bool plain_env = false;  // Env::Default() instead of the sweep-confined Env trial uses
};

// What one child reports in D/stats.<child>.
struct ChildReport {
  uint64_t lost_races = 0, open_scanned = 0, errors = 0, timed_out = 0;
};

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "claim_bench: %s\n", message.c_str());
  return 2;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--json") {
      o->json = true;
    } else if (a == "--plain-env") {
      o->plain_env = true;
    } else if (a == "--points" && has_value) {
      o->points = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--claimers" && has_value) {
      o->claimers = std::atoi(argv[++i]);
    } else if (a == "--timeout" && has_value) {
      o->timeout_s = std::atof(argv[++i]);
    } else if (a == "--dir" && has_value) {
      o->dir = argv[++i];
    } else {
      return false;
    }
  }
  return o->points > 0 && o->claimers > 0 && !o->dir.empty();
}

// Creates the sweep exactly as `sweep init` does: directories, then the frozen
// spec last.
Status InitSweep(Env* env, const SweepLayout& layout, const SweepSpec& spec) {
  std::vector<std::string> names;
  if (env->ListDir(layout.root(), &names).ok() && !names.empty()) {
    return Status::InvalidArgument(layout.root() +
                                   " is not empty; claim_bench needs a fresh directory");
  }
  for (const std::string& d :
       {layout.root(), layout.trials_dir(), layout.leases_dir(), layout.tmp_dir()}) {
    CS_RETURN_IF_ERROR(env->CreateDirs(d));
  }
  return env->WriteFileAtomic(layout.spec_path(), FreezeSpec(spec));
}

// The body of child `id`: blocks on `start_fd` until the parent closes it, then
// claims and commits until NotFound. Returns the exit code.
int RunChild(int id, int start_fd, const Options& o, const SweepLayout& layout,
             const SweepSpec& spec, const PointSpace& points) {
  char c;
  while (::read(start_fd, &c, 1) < 0 && errno == EINTR) {
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(o.timeout_s);
  // As `trial` claims: through the Env confined to the sweep (no symlink
  // followed), unless --plain-env measures the bare path calls.
  std::unique_ptr<Env> confined = o.plain_env ? nullptr : NewSweepEnv(layout.root());
  Env* env = o.plain_env ? Env::Default() : confined.get();
  Claimer claimer(env, layout, spec.claim(), points.size(), ProcessToken());
  std::vector<uint64_t> committed;
  ChildReport r;
  for (;;) {
    if (o.timeout_s > 0 && std::chrono::steady_clock::now() > deadline) {
      r.timed_out = 1;
      break;
    }
    Claim claim;
    Status s = claimer.ClaimNext(&claim);
    if (s.IsNotFound()) break;
    if (s.ok()) s = claimer.Commit(claim, "{\"exit_code\": 0}\n");
    if (s.ok()) {
      committed.push_back(claim.index);
    } else {
      ++r.errors;
      std::fprintf(stderr, "claim_bench: child %d: %s\n", id, s.ToString().c_str());
      if (r.errors > 100) break;  // something is badly wrong; do not spin
    }
  }
  r.lost_races = claimer.stats().lost_races;
  r.open_scanned = claimer.stats().open_scanned;
  // Written once at the end, from memory: the check adds no filesystem calls
  // to the claim loop (only a few KB before the child exits).
  std::ofstream out(layout.root() + "/claimed." + std::to_string(id));
  for (uint64_t i : committed) out << i << "\n";
  std::ofstream(layout.root() + "/stats." + std::to_string(id))
      << r.lost_races << " " << r.open_scanned << " " << r.errors << " " << r.timed_out << "\n";
  return out ? 0 : 1;
}

}  // namespace

int Main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    return Fail(
        "usage: claim_bench --points N --claimers C --dir D [--timeout S] [--json] [--plain-env]");
  }
  // A 1-parameter grid with N values; the command never runs.
  auto parsed = ParseSpec(
      "name: \"claim_bench\"\n"
      "grid { param { name: \"x\" range { start: 0 stop: " +
          std::to_string(o.points) +
          " step: 1 } } }\n"
          "command { argv: \"true\" }\n",
      "<claim_bench>");
  if (!parsed.ok()) return Fail(parsed.status().ToString());
  SweepSpec spec = *parsed;
  ApplyDefaults(&spec);
  auto points = PointSpace::Create(spec);
  if (!points.ok()) return Fail(points.status().ToString());
  const uint64_t n = points->size();
  Env* env = Env::Default();
  SweepLayout layout(o.dir);
  Status s = InitSweep(env, layout, spec);
  if (!s.ok()) return Fail(s.ToString());

  int start[2];
  if (::pipe(start) != 0) return Fail(std::string("pipe: ") + std::strerror(errno));
  std::fflush(nullptr);
  std::vector<pid_t> pids;
  for (int id = 0; id < o.claimers; ++id) {
    pid_t pid = ::fork();
    if (pid < 0) return Fail(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      ::close(start[1]);  // else the child would hold the pipe open itself
      std::_Exit(RunChild(id, start[0], o, layout, spec, *points));
    }
    pids.push_back(pid);
  }
  ::close(start[0]);
  const auto t0 = std::chrono::steady_clock::now();
  ::close(start[1]);  // EOF releases every child at once
  int child_failures = 0;
  for (pid_t pid : pids) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++child_failures;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // The check: count what the children say they committed, and what is on disk.
  std::vector<uint32_t> times(n, 0);
  uint64_t claims = 0, out_of_range = 0;
  ChildReport total;
  for (int id = 0; id < o.claimers; ++id) {
    std::ifstream in(layout.root() + "/claimed." + std::to_string(id));
    for (uint64_t i; in >> i;) {
      ++claims;
      if (i < n) {
        ++times[i];
      } else {
        ++out_of_range;
      }
    }
    ChildReport r;
    std::ifstream(layout.root() + "/stats." + std::to_string(id)) >> r.lost_races >>
        r.open_scanned >> r.errors >> r.timed_out;
    total.lost_races += r.lost_races;
    total.open_scanned += r.open_scanned;
    total.errors += r.errors;
    total.timed_out += r.timed_out;
  }
  uint64_t unique = 0, results = 0;
  for (uint64_t i = 0; i < n; ++i) {
    if (times[i] > 0) ++unique;
    if (env->Exists(layout.result_path(i))) ++results;
  }
  const uint64_t duplicates = claims - out_of_range - unique;
  const double per_s = seconds > 0 ? claims / seconds : 0;
  const double us_per_claim = claims > 0 ? seconds * 1e6 * o.claimers / claims : 0;

  const std::vector<std::pair<const char*, std::string>> fields = {
      {"points", std::to_string(n)},
      {"claimers", std::to_string(o.claimers)},
      {"claims", std::to_string(claims)},
      {"seconds", Fixed(seconds, 3)},
      {"claims_per_s", Fixed(per_s, 1)},
      {"us_per_claim", Fixed(us_per_claim, 1)},
      {"duplicates", std::to_string(duplicates)},
      {"missing", std::to_string(n - unique)},
      {"lost_races", std::to_string(total.lost_races)},
      {"results", std::to_string(results)},
      {"out_of_range", std::to_string(out_of_range)},
      {"open_scanned", std::to_string(total.open_scanned)},
      {"errors", std::to_string(total.errors)},
      {"child_failures", std::to_string(child_failures)},
      {"finished", total.timed_out == 0 ? "true" : "false"},
  };
  std::string line = o.json ? "{\"peer\": \"claimsweep\"" : "";
  for (const auto& [k, v] : fields) {
    if (o.json) {
      line += std::string(", \"") + k + "\": " + v;
    } else {
      line += std::string(line.empty() ? "" : " ") + k + "=" + v;
    }
  }
  std::printf("%s%s\n", line.c_str(), o.json ? "}" : "");
  return 0;
}

}  // namespace claimsweep

int main(int argc, char** argv) { return claimsweep::Main(argc, argv); }
