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

#include "trial/guardian.h"
#include "trial/signals.h"
#include "trial/write_all.h"

namespace claimsweep {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

Status RunCommand(const CommandRequest& req, const std::atomic<bool>& abort, double kill_grace_s,
                  CommandOutcome* out) {
  *out = CommandOutcome();
  if (req.argv.empty()) return Status::InvalidArgument("empty argv");
  // Ours to close: a duplicate of the caller's descriptor, or opened here.
  int log_fd = req.log_fd >= 0 ? ::fcntl(req.log_fd, F_DUPFD_CLOEXEC, 0)
                               : ::open(req.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (log_fd < 0) return Status::FromErrno("open", req.log_path, errno);
  // fds: the command's output. lifeline: only we hold its write end, so the
  // guardian sees EOF when we die, however we die. report: the command's pid.
  int fds[2], lifeline[2], report[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ::close(log_fd);
    return Status::FromErrno("pipe", req.log_path, errno);
  }
  if (::pipe2(lifeline, O_CLOEXEC) != 0) {
    int err = errno;
    for (int fd : {fds[0], fds[1], log_fd}) ::close(fd);
    return Status::FromErrno("pipe", req.log_path, err);
  }
  if (::pipe2(report, O_CLOEXEC) != 0) {
    int err = errno;
    for (int fd : {fds[0], fds[1], lifeline[0], lifeline[1], log_fd}) ::close(fd);
    return Status::FromErrno("pipe", req.log_path, err);
  }
  const auto start = Clock::now();
  // Block the forwarded signals across fork until the command's process group
  // is the forwarding target; they stay pending and are delivered (and
  // forwarded) when unblocked, so none is lost in between.
  sigset_t walltime, old_mask;
  sigemptyset(&walltime);
  for (int sig : kForwardedSignals) sigaddset(&walltime, sig);
  ::pthread_sigmask(SIG_BLOCK, &walltime, &old_mask);
  pid_t guardian = ::fork();
  if (guardian == 0) {
    for (int fd : {fds[0], lifeline[1], report[0], log_fd}) ::close(fd);
    RunGuardian(req, fds[1], lifeline[0], report[1]);
  }
  const int fork_errno = errno;
  for (int fd : {fds[1], lifeline[0], report[1]}) ::close(fd);
  GuardianReport rep;
  size_t got = 0;
  while (guardian > 0 && got < sizeof rep) {
    ssize_t n = ::read(report[0], reinterpret_cast<char*>(&rep) + got, sizeof rep - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(report[0]);
  if (guardian < 0 || got < sizeof rep || rep.command_pid <= 0) {
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    if (guardian > 0) ::waitpid(guardian, nullptr, 0);
    for (int fd : {fds[0], lifeline[1], log_fd}) ::close(fd);
    if (guardian < 0) return Status::FromErrno("fork for", req.argv[0], fork_errno);
    if (got == sizeof rep) return Status::FromErrno("fork for", req.argv[0], rep.fork_errno);
    return Status::IOError("the guardian process of '" + req.argv[0] + "' died before starting it");
  }
  const pid_t pid = rep.command_pid;  // the command's process group
  SetForwardTarget(pid);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

  ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  bool pipe_open = true, exited = false;
  int wstatus = 0;
  Clock::time_point term_sent{}, terminate_seen{};
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
      // The guardian exits as the command did, once the rest of its tree is gone.
      pid_t r = ::waitpid(guardian, &wstatus, WNOHANG);
      if (r == guardian) exited = true;
    }
    // SIGTERM, SIGHUP or SIGINT reached trial and was forwarded: a command
    // that ignores it is killed after the grace period, so trial always ends
    // and releases the trial (Slurm's SIGUSR1 warning alone leaves the
    // command the time until Slurm's own SIGTERM).
    if (!exited && TerminationRequested()) {
      if (terminate_seen == Clock::time_point{}) {
        terminate_seen = Clock::now();
      } else if (std::chrono::duration<double>(Clock::now() - terminate_seen).count() > kill_grace_s) {
        ::kill(-pid, SIGKILL);
      }
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
  // The guardian itself was killed: its command died with it (parent-death
  // signal), but not necessarily the rest of the command's process group.
  if (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) ::kill(-pid, SIGKILL);
  ::close(lifeline[1]);
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
