#include "core/find_sweep.h"

#include "core/layout.h"

namespace claimsweep {
namespace {

bool IsSweep(Env* env, const std::string& dir) {
  SweepLayout l(dir);
  FileInfo info;
  return env->Stat(l.spec_path(), &info).ok() && env->Stat(l.trials_dir(), &info).ok() &&
         info.is_dir;
}

}  // namespace

Result<std::string> FindSweepDir(Env* env, const char* sweep_dir_env, const std::string& cwd) {
  if (sweep_dir_env != nullptr && *sweep_dir_env != 0) {
    std::string d = sweep_dir_env;
    // Absolute: commands run inside their trial directory, so a relative
    // {sweep_dir} or $SWEEP_DIR handed to them would point elsewhere.
    if (d[0] != '/') d = cwd + "/" + d;
    if (!IsSweep(env, d)) {
      return Status::NotFound("SWEEP_DIR=" + d + " is not a sweep directory (no " + kSpecFileName +
                              " and trials/); create it with `sweep init SPEC " + d + "`");
    }
    return d;
  }
  std::string d = cwd;
  for (;;) {
    if (IsSweep(env, d)) return d;
    if (d == "/" || d.empty()) break;
    auto slash = d.find_last_of('/');
    d = slash == 0 ? "/" : d.substr(0, slash);
  }
  return Status::NotFound(
      "no sweep found: SWEEP_DIR is not set and neither " + cwd +
      " nor any parent holds a sweep; set SWEEP_DIR or cd into the sweep directory");
}

}  // namespace claimsweep
