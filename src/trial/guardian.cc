#include "trial/guardian.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
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

// What the guardian hands the command's clone: everything prepared before
// clone(), so the child (sharing G's memory, G suspended) only makes
// system calls and never allocates.
struct Spawn {
  char** argv = nullptr;
  int out_fd = -1;
  int cwd_fd = -1;
  int devnull = -1;
  pid_t guardian = 0;
  int report_fd = -1;     // the socket to `trial` (closed by exec)
  bool reported = false;  // the child sent the GuardianReport itself
  // Set by the child when it gives up: 126 (cannot enter cwd), 127 (cannot exec).
  int failed = 0;
  int err = 0;
};

// The command: its own process group, killed with its guardian. Runs on its
// own stack in G's memory until it execs (CLONE_VM|CLONE_VFORK).
int ExecCommand(void* arg) {
  Spawn* sp = static_cast<Spawn*>(arg);
  // Default actions first, then unblock: a walltime signal forwarded since
  // the clone now terminates us (the guardian ignores them; SIG_IGN would
  // survive exec). Without CLONE_SIGHAND the dispositions are our own copy.
  for (int sig : kForwardedSignals) ::signal(sig, SIG_DFL);
  ::signal(SIGCHLD, SIG_DFL);
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != sp->guardian) ::_exit(128 + SIGKILL);  // the guardian died before prctl
  // Our pid goes to `trial` before anything of the command runs: if the
  // guardian is killed from now on, `trial` still knows the group to kill.
  GuardianReport report;
  report.command_pid = ::getpid();
  WriteAllFd(sp->report_fd, &report, sizeof report);
  sp->reported = true;
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (sp->devnull >= 0) ::dup2(sp->devnull, 0);
  ::dup2(sp->out_fd, 1);
  ::dup2(sp->out_fd, 2);
  if (::fchdir(sp->cwd_fd) != 0) {
    sp->err = errno;
    sp->failed = 126;
    ::_exit(126);
  }
  ::execvp(sp->argv[0], sp->argv);  // PATH and the environment: G's `environ`, set for this command
  sp->err = errno;
  sp->failed = 127;
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
    auto it =
        std::lower_bound(parent_of.begin(), parent_of.end(), std::make_pair(found[i], pid_t{0}));
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

// One request: the header with its two descriptors, then the strings.
bool ReadRequest(int sock, GuardianRequest* req, int* out_fd, int* cwd_fd, std::string* payload) {
  char control[CMSG_SPACE(2 * sizeof(int))];
  struct iovec iov {
    req, sizeof *req
  };
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  } while (n < 0 && errno == EINTR);
  *out_fd = *cwd_fd = -1;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int fds[2] = {-1, -1};
    std::memcpy(fds, CMSG_DATA(c), std::min<size_t>(count, 2) * sizeof(int));
    *out_fd = fds[0];
    *cwd_fd = fds[1];
  }
  if (n != static_cast<ssize_t>(sizeof *req) || *out_fd < 0 || *cwd_fd < 0) return false;
  payload->resize(req->payload_bytes);
  return ReadAllFd(sock, payload->data(), payload->size());
}

void OnChild(int) {}

}  // namespace

void RunGuardian(int sock) {
  ::prctl(PR_SET_NAME, "trial-guardian");
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  for (int sig : kForwardedSignals) ::signal(sig, SIG_IGN);
  // SIGCHLD only interrupts ppoll below (no lost wake-up between reaping and
  // waiting); a one-second timeout is the safety net. SIGPIPE stays blocked:
  // if `trial` died before reading a report, writing it must not kill us
  // before we kill the command. (C unblocks both before exec.)
  sigset_t blocked, poll_mask, all, before_clone;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGCHLD);
  sigaddset(&blocked, SIGPIPE);
  ::sigprocmask(SIG_BLOCK, &blocked, &poll_mask);
  sigaddset(&poll_mask, SIGPIPE);
  sigfillset(&all);
  struct sigaction sa {};
  sa.sa_handler = OnChild;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGCHLD, &sa, nullptr);

  const pid_t self = ::getpid();
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  // The environment every command starts from: ours, as `trial` had it.
  std::vector<char*> base_env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) base_env.push_back(*e);
  // The command's stack until it execs (execvp's PATH search uses it too).
  constexpr size_t kStack = 256 * 1024;
  void* stack = ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) ::_exit(127);

  for (;;) {
    GuardianRequest req;
    int out_fd = -1, cwd_fd = -1;
    std::string payload;
    // EOF (or anything unreadable): `trial` is gone, and no command runs.
    if (!ReadRequest(sock, &req, &out_fd, &cwd_fd, &payload)) ::_exit(0);
    std::vector<char*> argv, strings;
    for (size_t b = 0; b < payload.size();) {
      strings.push_back(&payload[b]);
      b = payload.find('\0', b);
      if (b == std::string::npos) break;
      ++b;
    }
    if (req.argc == 0 || strings.size() < size_t{req.argc} + req.envc + 1) ::_exit(127);
    argv.assign(strings.begin(), strings.begin() + req.argc);
    argv.push_back(nullptr);
    // Our environment with the request's entries set (as setenv would: a
    // key already there is replaced in place, a new one appended).
    std::vector<char*> envp(base_env.begin(), base_env.end());
    for (uint32_t i = 0; i < req.envc; ++i) {
      char* kv = strings[req.argc + i];
      const size_t key = std::strcspn(kv, "=") + 1;  // with the '='
      auto it = std::find_if(envp.begin(), envp.end(),
                             [&](const char* e) { return std::strncmp(e, kv, key) == 0; });
      if (it != envp.end()) {
        *it = kv;
      } else {
        envp.push_back(kv);
      }
    }
    envp.push_back(nullptr);
    const std::string cwd = strings[req.argc + req.envc];

    Spawn sp;
    sp.argv = argv.data();
    sp.out_fd = out_fd;
    sp.cwd_fd = cwd_fd;
    sp.devnull = devnull;
    sp.guardian = self;
    sp.report_fd = sock;
    char** saved_env = environ;
    environ = envp.data();
    ::sigprocmask(SIG_BLOCK, &all, &before_clone);  // no handler runs in the child on our stack
    GuardianReport report;
    report.command_pid = ::clone(ExecCommand, static_cast<char*>(stack) + kStack,
                                 CLONE_VM | CLONE_VFORK | SIGCHLD, &sp);
    report.fork_errno = report.command_pid < 0 ? errno : 0;
    ::sigprocmask(SIG_SETMASK, &before_clone, nullptr);
    environ = saved_env;
    // Here C has exec'd or given up (CLONE_VFORK): its own words go where
    // its output would have gone.
    if (sp.failed == 126) {
      Say(out_fd, "cannot enter " + TerminalSafe(cwd) + ": " + std::strerror(sp.err));
    } else if (sp.failed == 127) {
      Say(out_fd, "cannot run '" + TerminalSafe(argv[0]) + "': " + std::strerror(sp.err));
    }
    ::close(cwd_fd);
    if (!sp.reported) WriteAllFd(sock, &report, sizeof report);  // could not start it
    const pid_t cmd = report.command_pid;
    if (cmd < 0) {
      ::close(out_fd);
      continue;
    }

    GuardianDone done;
    for (bool running = true; running;) {
      struct pollfd p {
        sock, POLLIN, 0
      };
      struct timespec second {
        1, 0
      };
      if (::ppoll(&p, 1, &second, &poll_mask) > 0) {
        // Only EOF can come while C runs: `trial` sends nothing then. It died: so does its command.
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
          ::waitpid(cmd, &done.wait_status, 0);
          KillDescendants();
          running = false;
          break;
        }
        ::waitpid(si.si_pid, nullptr, 0);  // an orphan of the command, inherited as subreaper
      }
    }
    // Our end of the output pipe last: `trial` sees its EOF and our report
    // together (one wake-up, not two), and never before the tree is gone.
    ::close(out_fd);
    WriteAllFd(sock, &done, sizeof done);
  }
}

}  // namespace claimsweep
