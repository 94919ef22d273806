#include "trial/guardian.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/terminal_text.h"
#include "trial/log.h"
#include "trial/signals.h"
#include "trial/write_all.h"

namespace claimsweep {
namespace {

// A line of trial's own into the command's output, in the log's format
// (FormatLogLine: no spdlog and no lock after fork, where another thread of
// `trial` may have held one).
void Say(int fd, const std::string& m) {
  const std::string line = FormatLogLineNow(LogLevel::kError, m);
  WriteAllFd(fd, line.data(), line.size());
}

// The command: its own process group, killed with its guardian.
[[noreturn]] void ExecCommand(const CommandRequest& req, int out_fd, pid_t guardian) {
  // Default actions first, then unblock: a walltime signal forwarded since
  // the fork now terminates us (the guardian ignores them; SIG_IGN would
  // survive exec).
  for (int sig : kForwardedSignals) ::signal(sig, SIG_DFL);
  ::signal(SIGCHLD, SIG_DFL);
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != guardian) ::_exit(128 + SIGKILL);  // the guardian died before prctl
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, 0);
  ::dup2(out_fd, 1);
  ::dup2(out_fd, 2);
  if ((req.cwd_fd >= 0 ? ::fchdir(req.cwd_fd) : ::chdir(req.cwd.c_str())) != 0) {
    Say(2, "cannot enter " + TerminalSafe(req.cwd) + ": " + std::strerror(errno));
    ::_exit(126);
  }
  for (const std::string& kv : req.extra_env) {
    size_t eq = kv.find('=');
    ::setenv(kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), 1);
  }
  std::vector<char*> argv;
  for (const std::string& a : req.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  Say(2, "cannot run '" + TerminalSafe(req.argv[0]) + "': " + std::strerror(errno));
  ::_exit(127);
}

// Every live descendant of this process, from the parent links in /proc.
std::vector<pid_t> Descendants() {
  std::vector<std::pair<pid_t, pid_t>> parent_of;  // (ppid, pid)
  if (DIR* d = ::opendir("/proc")) {
    while (struct dirent* e = ::readdir(d)) {
      char* end = nullptr;
      const long pid = std::strtol(e->d_name, &end, 10);
      if (pid <= 0 || *end != 0) continue;
      char path[64], buf[512];
      std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
      int fd = ::open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      ssize_t n = ::read(fd, buf, sizeof buf - 1);
      ::close(fd);
      if (n <= 0) continue;
      buf[n] = 0;
      // "pid (comm) state ppid ...": comm may hold anything, even ") ".
      const char* paren = std::strrchr(buf, ')');
      char state = 0;
      int ppid = 0;
      if (!paren || std::sscanf(paren + 1, " %c %d", &state, &ppid) != 2 || state == 'Z') continue;
      parent_of.emplace_back(ppid, static_cast<pid_t>(pid));
    }
    ::closedir(d);
  }
  std::sort(parent_of.begin(), parent_of.end());
  std::vector<pid_t> found{::getpid()};
  for (size_t i = 0; i < found.size(); ++i) {
    auto it = std::lower_bound(parent_of.begin(), parent_of.end(), std::make_pair(found[i], pid_t{0}));
    for (; it != parent_of.end() && it->first == found[i]; ++it) found.push_back(it->second);
  }
  found.erase(found.begin());
  return found;
}

// Reaps children that have exited, without blocking; false once none is left.
bool ReapExited() {
  for (;;) {
    pid_t r = ::waitpid(-1, nullptr, WNOHANG);
    if (r > 0) continue;
    return !(r < 0 && errno == ECHILD);
  }
}

// SIGKILLs every descendant until none is left (each killed parent's children
// are re-parented to us, the subreaper, and found by the next scan). Gives up
// after a few seconds: a process stuck in uninterruptible sleep dies when its
// I/O returns, with the SIGKILL already pending.
void KillDescendants() {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (ReapExited() && std::chrono::steady_clock::now() < give_up) {
    for (pid_t p : Descendants()) ::kill(p, SIGKILL);
    ::usleep(2000);
  }
}

// Ends this process the way the command ended, so `trial` reads its status.
[[noreturn]] void ExitAs(int wstatus) {
  if (WIFSIGNALED(wstatus)) {
    const int sig = WTERMSIG(wstatus);
    struct rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);  // the command's core (if any) is its own
    ::signal(sig, SIG_DFL);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, sig);
    ::sigprocmask(SIG_UNBLOCK, &only, nullptr);
    ::raise(sig);
    ::_exit(128 + sig);
  }
  ::_exit(WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 127);
}

void OnChild(int) {}

}  // namespace

void RunGuardian(const CommandRequest& req, int out_fd, int lifeline_fd, int report_fd) {
  ::prctl(PR_SET_NAME, "trial-guardian");
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  for (int sig : kForwardedSignals) ::signal(sig, SIG_IGN);
  // SIGCHLD only interrupts ppoll below (no lost wake-up between reaping and
  // waiting); a one-second timeout is the safety net. SIGPIPE stays blocked:
  // if `trial` died before reading the report, writing it must not kill us
  // before we kill the command. (C unblocks both before exec.)
  sigset_t blocked, poll_mask;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGCHLD);
  sigaddset(&blocked, SIGPIPE);
  ::sigprocmask(SIG_BLOCK, &blocked, &poll_mask);
  sigaddset(&poll_mask, SIGPIPE);
  struct sigaction sa{};
  sa.sa_handler = OnChild;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGCHLD, &sa, nullptr);

  const pid_t self = ::getpid();
  GuardianReport report;
  report.command_pid = ::fork();
  report.fork_errno = report.command_pid < 0 ? errno : 0;
  if (report.command_pid == 0) {
    ::close(lifeline_fd);
    ::close(report_fd);
    ExecCommand(req, out_fd, self);
  }
  const pid_t cmd = report.command_pid;
  // Also done in C: whichever runs first; the group exists before `trial`
  // learns the pid and forwards signals to it.
  if (cmd > 0) ::setpgid(cmd, cmd);
  ::close(out_fd);
  WriteAllFd(report_fd, &report, sizeof report);
  ::close(report_fd);
  if (cmd < 0) ::_exit(127);

  for (;;) {
    struct pollfd p{lifeline_fd, POLLIN, 0};
    struct timespec second{1, 0};
    if (::ppoll(&p, 1, &second, &poll_mask) > 0) {
      // Only EOF can come: `trial` never writes. It died: so does its command.
      ::kill(-cmd, SIGKILL);
      KillDescendants();
      ::_exit(128 + SIGKILL);
    }
    // Peek first (WNOWAIT): while C is an unreaped zombie its pid, and so its
    // process group id, cannot be reused, so killing the group is safe.
    for (;;) {
      siginfo_t si{};
      if (::waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0) break;
      if (si.si_pid == cmd) {
        ::kill(-cmd, SIGKILL);
        int wstatus = 0;
        ::waitpid(cmd, &wstatus, 0);
        KillDescendants();
        ExitAs(wstatus);
      }
      ::waitpid(si.si_pid, nullptr, 0);  // an orphan of the command, inherited as subreaper
    }
  }
}

}  // namespace claimsweep
