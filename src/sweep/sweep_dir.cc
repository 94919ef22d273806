// Which sweep a `sweep` command works on when DIR is left out.
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "core/find_sweep.h"
#include "core/spec.h"
#include "sweep/commands.h"

namespace claimsweep {

bool ResolveSweepDir(std::string* dir) {
  if (!dir->empty()) return true;
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) cwd[0] = 0;
  auto found = FindSweepDir(Env::Default(), std::getenv("SWEEP_DIR"), cwd);
  if (!found.ok()) {
    UsageError(found.status().message() + " (or name it: DIR)");
    return false;
  }
  *dir = *found;
  return true;
}

bool OpenSweep(const std::string& dir, OpenedSweep* out) {
  out->env = NewSweepEnv(dir);
  auto ps = ReadSweepPoints(out->env.get(), dir);
  if (!ps.ok()) return UsageError(ps.status().message()), false;
  out->spec = ps->spec();
  out->points = std::move(*ps);
  return true;
}

bool IsIndexArgument(const std::string& arg) {
  uint64_t lo = 0, hi = 0;
  const size_t dash = arg.find('-');
  if (dash == std::string::npos) return ParseIndex(arg, &lo);
  return ParseIndex(arg.substr(0, dash), &lo) && ParseIndex(arg.substr(dash + 1), &hi);
}

void TakeDirArgument(std::vector<std::string>* args, std::string* dir) {
  if (!args->empty() && !IsIndexArgument(args->front())) {
    *dir = args->front();
    args->erase(args->begin());
  }
}

}  // namespace claimsweep
