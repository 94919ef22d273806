#include "process_util.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "test_util.h"

namespace claimsweep::testing {

Spawned Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
              const std::string& cwd, const std::string& output_path) {
  Spawned s;
  s.output_path = output_path;
  s.pid = ::fork();
  if (s.pid == 0) {
    int fd = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    if (::chdir(cwd.c_str()) != 0) ::_exit(120);
    for (const auto& kv : env) {
      auto eq = kv.find('=');
      ::setenv(kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), 1);
    }
    std::vector<char*> a;
    for (const auto& x : argv) a.push_back(const_cast<char*>(x.c_str()));
    a.push_back(nullptr);
    ::execvp(a[0], a.data());
    ::_exit(121);
  }
  return s;
}

void KillNineWithChildren(pid_t pid) {
  ::kill(pid, SIGKILL);
  if (::system(("pkill -KILL -P " + std::to_string(pid) + " 2>/dev/null").c_str()) < 0) {
    // pkill could not be started: the command ends with its guardian anyway.
  }
}

int WaitExit(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
  }
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return 128 + WTERMSIG(st);
}

RunResult RunProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                     const std::string& cwd) {
  TempDir t;
  Spawned s = Spawn(argv, env, cwd, t.path() + "/out");
  int rc = WaitExit(s.pid);
  return {rc, ReadAll(s.output_path)};
}

bool WaitFor(const std::function<bool()>& cond, double seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

std::map<std::string, long> StatusCounts(const std::string& dir, const std::string& stage) {
  std::vector<std::string> args = {SWEEP_BIN, "status", dir, "--format", "json"};
  if (!stage.empty()) args.insert(args.end(), {"--stage", stage});
  RunResult r = RunProcess(args);
  // The stages' objects (after the trials' counts) have counts of the same names.
  const std::string counts = r.output.substr(0, r.output.find(",\"stages\":"));
  std::map<std::string, long> m;
  std::regex kv("\"([a-z]+)\":([0-9]+)");
  for (std::sregex_iterator it(counts.begin(), counts.end(), kv), end; it != end; ++it) {
    m[(*it)[1]] = std::stol((*it)[2]);
  }
  return m;
}

std::map<std::string, int> CountLines(const std::string& path) {
  std::map<std::string, int> m;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) m[l]++;
  return m;
}

}  // namespace claimsweep::testing
