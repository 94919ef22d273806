// Real processes for the process tests: spawn `trial`/`sweep`, wait, kill.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace claimsweep::testing {

struct Spawned {
  pid_t pid = -1;
  std::string output_path;  // stdout+stderr
};

// Starts argv with `env` added to ours (KEY=VALUE), output to `output_path`.
Spawned Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
              const std::string& cwd, const std::string& output_path);
// Exit code, or 128+signal.
int WaitExit(pid_t pid);
// Kills a trial and its command as a node failure would. `trial` first: were
// its child killed first, `trial` could record that death as a failure before
// its own SIGKILL landed. (Killing `trial` alone also ends the command: see
// trial_orphans_test.cc; the pkill is for whatever is still its child.)
void KillNineWithChildren(pid_t pid);

struct RunResult {
  int exit_code;
  std::string output;
};
RunResult RunProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                     const std::string& cwd = ".");

// Polls `cond` every 20 ms for up to `seconds`; returns its last value.
bool WaitFor(const std::function<bool()>& cond, double seconds);

// `sweep status DIR --format json`'s counts as a map: the trials', or with
// `stage` that stage's (`--stage S`).
std::map<std::string, long> StatusCounts(const std::string& dir, const std::string& stage = "");

// Lines of `path`, counted: line -> occurrences.
std::map<std::string, int> CountLines(const std::string& path);

}  // namespace claimsweep::testing
