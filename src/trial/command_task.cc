#include "trial/command_task.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cstring>

#include "trial/signals.h"

extern char** environ;

namespace claimsweep {
namespace {

using Clock = std::chrono::steady_clock;

void WriteAllFd(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

[[noreturn]] void ExecChild(const CommandRequest& req, int out_fd) {
  ::setpgid(0, 0);
  // Default actions first, then unblock: a walltime signal that arrived since
  // the fork now terminates us, instead of running trial's inherited handler
  // in this process and being lost.
  for (int sig : {SIGUSR1, SIGTERM, SIGINT}) ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, 0);
  ::dup2(out_fd, 1);
  ::dup2(out_fd, 2);
  if (::chdir(req.cwd.c_str()) != 0) {
    std::string m = "trial: cannot enter " + req.cwd + ": " + std::strerror(errno) + "\n";
    WriteAllFd(2, m.data(), m.size());
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
  std::string m = "trial: cannot run '" + req.argv[0] + "': " + std::strerror(errno) + "\n";
  WriteAllFd(2, m.data(), m.size());
  ::_exit(127);
}

}  // namespace

Status RunCommand(const CommandRequest& req, const std::atomic<bool>& abort, double kill_grace_s,
                  CommandOutcome* out) {
  *out = CommandOutcome();
  if (req.argv.empty()) return Status::InvalidArgument("empty argv");
  int log_fd = ::open(req.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (log_fd < 0) return Status::FromErrno("open", req.log_path, errno);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ::close(log_fd);
    return Status::FromErrno("pipe", req.log_path, errno);
  }
  const auto start = Clock::now();
  // Block the walltime signals across fork until the child's process group is
  // the forwarding target; they stay pending and are delivered (and
  // forwarded) when unblocked, so none is lost in between.
  sigset_t walltime, old_mask;
  sigemptyset(&walltime);
  for (int sig : {SIGUSR1, SIGTERM, SIGINT}) sigaddset(&walltime, sig);
  ::pthread_sigmask(SIG_BLOCK, &walltime, &old_mask);
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    ::close(fds[0]);
    ::close(fds[1]);
    ::close(log_fd);
    return Status::FromErrno("fork for", req.argv[0], err);
  }
  if (pid == 0) {
    ::close(fds[0]);
    ExecChild(req, fds[1]);
  }
  ::close(fds[1]);
  ::setpgid(pid, pid);  // also done in the child: whichever runs first wins the race
  SetForwardTarget(pid);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  bool pipe_open = true, exited = false;
  int wstatus = 0;
  Clock::time_point term_sent{};
  int wait_us = 200;
  char buf[1 << 14];
  while (!exited || pipe_open) {
    if (pipe_open) {
      struct pollfd p{fds[0], POLLIN, 0};
      ::poll(&p, 1, exited ? 0 : 100);
      for (;;) {
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n > 0) {
          WriteAllFd(log_fd, buf, static_cast<size_t>(n));
          WriteAllFd(1, buf, static_cast<size_t>(n));
          continue;
        }
        if (n == 0) pipe_open = false;
        // EAGAIN: nothing more now. After the child exited, a grandchild may
        // still hold the pipe: stop reading rather than wait for it.
        if (n < 0 && errno == EINTR) continue;
        if (exited) pipe_open = false;
        break;
      }
    } else {
      // The child closed its output, so it is usually exiting now: poll for it
      // quickly at first, then back off.
      ::usleep(wait_us);
      wait_us = std::min(wait_us * 2, 50000);
    }
    if (!exited) {
      pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
      if (r == pid) exited = true;
    }
    if (!exited && abort.load()) {
      if (!out->aborted) {
        out->aborted = true;
        term_sent = Clock::now();
        ::kill(-pid, SIGTERM);
      } else if (std::chrono::duration<double>(Clock::now() - term_sent).count() > kill_grace_s) {
        ::kill(-pid, SIGKILL);
      }
    }
  }
  SetForwardTarget(0);
  ::close(fds[0]);
  ::close(log_fd);
  out->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (WIFEXITED(wstatus)) {
    out->exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    out->term_signal = WTERMSIG(wstatus);
  }
  return Status::OK();
}

}  // namespace claimsweep
