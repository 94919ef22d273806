// The baseline of bench/trial_overhead.sh: P processes, released together,
// that only spawn a program (default `true`, looked up in PATH) and wait for
// it, N times in all. posix_spawnp (glibc: clone(CLONE_VM|CLONE_VFORK), no
// page-table copy) is the cheapest honest way to start a program, so the
// ratio trial/spawn is the cost of everything `trial` adds per trial.
// --fork spawns with fork + execvp + waitpid instead, as a shell loop or a
// plain C program does (the page tables are copied at every fork).
//
//   spawn_bench --procs P --total N [--prog PROGRAM] [--fork]
//
// Prints `spawns=N seconds=S spawns_per_s=R failures=F` on one line.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

int main(int argc, char** argv) {
  int procs = 8;
  long total = 4000;
  std::string prog = "true";
  bool use_fork = false;
  for (int i = 1; i < argc; i += 2) {
    if (!std::strcmp(argv[i], "--fork")) {
      use_fork = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "usage: spawn_bench --procs P --total N [--prog PROGRAM] [--fork]\n");
      return 2;
    }
    if (!std::strcmp(argv[i], "--procs"))
      procs = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--total"))
      total = std::atol(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--prog"))
      prog = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: spawn_bench --procs P --total N [--prog PROGRAM] [--fork]\n");
      return 2;
    }
  }
  if (procs < 1 || total < 1) return 2;
  int go[2];
  if (::pipe(go) != 0) return 1;
  std::vector<pid_t> kids;
  for (int p = 0; p < procs; ++p) {
    const long mine = total / procs + (p < total % procs ? 1 : 0);
    pid_t k = ::fork();
    if (k < 0) return 1;
    if (k == 0) {
      ::close(go[1]);
      char c;
      if (::read(go[0], &c, 1) < 0) _exit(1);  // EOF: released
      char* args[] = {const_cast<char*>(prog.c_str()), nullptr};
      int failed = 0;
      for (long i = 0; i < mine; ++i) {
        pid_t pid = -1;
        int st = 0;
        if (use_fork) {
          pid = ::fork();
          if (pid == 0) {
            ::execvp(args[0], args);
            _exit(127);
          }
        }
        if ((use_fork ? pid < 0
                      : ::posix_spawnp(&pid, prog.c_str(), nullptr, nullptr, args, environ) != 0) ||
            ::waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
          ++failed;
        }
      }
      _exit(failed ? 1 : 0);
    }
    kids.push_back(k);
  }
  ::close(go[0]);
  const auto t0 = std::chrono::steady_clock::now();
  ::close(go[1]);
  int failures = 0;
  for (pid_t k : kids) {
    int st = 0;
    if (::waitpid(k, &st, 0) != k || !WIFEXITED(st) || WEXITSTATUS(st) != 0) ++failures;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("spawns=%ld seconds=%.3f spawns_per_s=%.0f failures=%d\n", total, s, total / s,
              failures);
  return failures ? 1 : 0;
}
