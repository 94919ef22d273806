#include "trial/command_task.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "trial/guardian.h"
#include "trial/signals.h"
#include "trial/write_all.h"

namespace claimsweep {
namespace {

using Clock = std::chrono::steady_clock;

// This process's guardian (guardian.h), started by the first command and
// kept for the next ones. Only the thread running commands touches it.
struct GuardianProcess {
  pid_t pid = -1;
  int sock = -1;  // our end of the socket pair; G sees EOF when we die, however we die
  ~GuardianProcess() { Stop(); }
  // Closes our end (G exits at once: no command runs) and reaps G.
  void Stop() {
    if (sock >= 0) ::close(sock);
    if (pid > 0) ::waitpid(pid, nullptr, 0);
    sock = pid = -1;
  }
  Status Start() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      return Status::FromErrno("socketpair for", "the guardian", errno);
    // Forked with the forwarded signals blocked (the caller blocks them): G
    // keeps them blocked and ignored.
    pid_t g = ::fork();
    if (g == 0) {
      ::close(sv[0]);
      RunGuardian(sv[1]);
    }
    const int err = errno;
    ::close(sv[1]);
    if (g < 0) {
      ::close(sv[0]);
      return Status::FromErrno("fork for", "the guardian", err);
    }
    pid = g;
    sock = sv[0];
    return Status::OK();
  }
};
GuardianProcess g_guardian;

bool SendAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Sends one command to G and reads back its report.
enum class Sent { kOk, kGuardianGone, kNoReport };
Sent Request(const CommandRequest& req, int out_fd, int cwd_fd, GuardianReport* rep) {
  std::string payload;
  for (const std::string& a : req.argv) payload.append(a).push_back('\0');
  for (const std::string& e : req.extra_env) payload.append(e).push_back('\0');
  payload.append(req.cwd).push_back('\0');
  GuardianRequest head;
  head.payload_bytes = static_cast<uint32_t>(payload.size());
  head.argc = static_cast<uint32_t>(req.argv.size());
  head.envc = static_cast<uint32_t>(req.extra_env.size());
  char control[CMSG_SPACE(2 * sizeof(int))] = {};
  struct iovec iov {
    &head, sizeof head
  };
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(2 * sizeof(int));
  const int fds[2] = {out_fd, cwd_fd};
  std::memcpy(CMSG_DATA(c), fds, sizeof fds);
  ssize_t n;
  do {
    n = ::sendmsg(g_guardian.sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  // Refused at once: G was gone before this command (nothing of it ran).
  if (n != static_cast<ssize_t>(sizeof head)) return Sent::kGuardianGone;
  if (!SendAll(g_guardian.sock, payload.data(), payload.size()) ||
      !ReadAllFd(g_guardian.sock, rep, sizeof *rep)) {
    return Sent::kNoReport;
  }
  return Sent::kOk;
}

}  // namespace

Status RunCommand(const CommandRequest& req, const std::atomic<bool>& abort, double kill_grace_s,
                  CommandOutcome* out) {
  *out = CommandOutcome();
  if (req.argv.empty()) return Status::InvalidArgument("empty argv");
  // The caller's descriptors, or ours (opened here, closed on return).
  struct Own {
    int log = -1, cwd = -1;
    ~Own() {
      for (int f : {log, cwd}) {
        if (f >= 0) ::close(f);
      }
    }
  } own;
  int log_fd = req.log_fd;
  if (log_fd < 0) {
    log_fd = own.log =
        ::open(req.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (log_fd < 0) return Status::FromErrno("open", req.log_path, errno);
  }
  int cwd_fd = req.cwd_fd;
  if (cwd_fd < 0) {
    cwd_fd = own.cwd = ::open(req.cwd.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cwd_fd < 0) return Status::FromErrno("open", req.cwd, errno);
  }
  // fds: the command's output.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno("pipe", req.log_path, errno);
  const auto start = Clock::now();
  // Block the forwarded signals until the command's process group is the
  // forwarding target; they stay pending and are delivered (and forwarded)
  // when unblocked, so none is lost in between.
  sigset_t walltime, old_mask;
  sigemptyset(&walltime);
  for (int sig : kForwardedSignals) sigaddset(&walltime, sig);
  ::pthread_sigmask(SIG_BLOCK, &walltime, &old_mask);
  GuardianReport rep;
  Status started;
  Sent sent = Sent::kGuardianGone;
  // A guardian that died since the last command (killed by hand) is
  // replaced, once; one that died while taking this command is not (the
  // command may have started: it died with its guardian).
  for (int tries = 0; tries < 2 && sent == Sent::kGuardianGone; ++tries) {
    if (g_guardian.pid <= 0) started = g_guardian.Start();
    if (!started.ok()) break;
    sent = Request(req, fds[1], cwd_fd, &rep);
    if (sent != Sent::kOk) g_guardian.Stop();
  }
  ::close(fds[1]);
  if (sent != Sent::kOk || rep.command_pid <= 0) {
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    ::close(fds[0]);
    if (!started.ok()) return started;
    if (sent == Sent::kOk) return Status::FromErrno("fork for", req.argv[0], rep.fork_errno);
    return Status::IOError("the guardian process of '" + req.argv[0] + "' died before starting it");
  }
  const pid_t pid = rep.command_pid;  // the command's process group
  SetForwardTarget(pid);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);  // a new pipe's read end: O_RDONLY, no other status flag
  bool pipe_open = true, exited = false;
  int wstatus = 0;
  Clock::time_point term_sent{}, terminate_seen{};
  char buf[1 << 14];
  while (!exited || pipe_open) {
    // The command's output, and G's word that the command and its tree are gone.
    struct pollfd p[2];
    nfds_t n = 0;
    if (pipe_open) p[n++] = {fds[0], POLLIN, 0};
    if (!exited) p[n++] = {g_guardian.sock, POLLIN, 0};
    ::poll(p, n, exited ? 0 : 100);
    if (pipe_open) {
      for (;;) {
        ssize_t r = ::read(fds[0], buf, sizeof buf);
        if (r > 0) {
          WriteAllFd(log_fd, buf, static_cast<size_t>(r));
          WriteAllFd(1, buf, static_cast<size_t>(r));
          continue;
        }
        if (r == 0) pipe_open = false;
        // EAGAIN: nothing more now. After the child exited, a grandchild may
        // still hold the pipe: stop reading rather than wait for it.
        if (r < 0 && errno == EINTR) continue;
        if (exited) pipe_open = false;
        break;
      }
    }
    if (!exited && (p[n - 1].revents & (POLLIN | POLLHUP | POLLERR))) {
      GuardianDone done;
      if (ReadAllFd(g_guardian.sock, &done, sizeof done)) {
        wstatus = done.wait_status;
      } else {
        // The guardian itself died (killed): its command died with it
        // (parent-death signal), but not necessarily the rest of the
        // command's process group. Its own status stands for the command's.
        const pid_t g = g_guardian.pid;
        ::close(g_guardian.sock);
        g_guardian.sock = g_guardian.pid = -1;
        ::waitpid(g, &wstatus, 0);
        if (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) ::kill(-pid, SIGKILL);
      }
      exited = true;
    }
    // SIGTERM, SIGHUP or SIGINT reached trial and was forwarded: a command
    // that ignores it is killed after the grace period, so trial always ends
    // and releases the trial (Slurm's SIGUSR1 warning alone leaves the
    // command the time until Slurm's own SIGTERM).
    if (!exited && TerminationRequested()) {
      if (terminate_seen == Clock::time_point{}) {
        terminate_seen = Clock::now();
      } else if (std::chrono::duration<double>(Clock::now() - terminate_seen).count() >
                 kill_grace_s) {
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
  ::close(fds[0]);
  out->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (WIFEXITED(wstatus)) {
    out->exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    out->term_signal = WTERMSIG(wstatus);
  }
  return Status::OK();
}

}  // namespace claimsweep
