// RunProgram: see subprocess.h.
#include "core/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

extern char** environ;

namespace claimsweep {

Status RunProgram(const std::vector<std::string>& argv, const std::string& input, double timeout_s,
                  std::string* out, std::string* err, int* exit_code) {
  out->clear();
  err->clear();
  int in_p[2], out_p[2], err_p[2];
  if (::pipe2(in_p, O_CLOEXEC) != 0) return Status::FromErrno("pipe", argv[0], errno);
  if (::pipe2(out_p, O_CLOEXEC) != 0) {
    const int e = errno;
    for (int fd : in_p) ::close(fd);
    return Status::FromErrno("pipe", argv[0], e);
  }
  if (::pipe2(err_p, O_CLOEXEC) != 0) {
    const int e = errno;
    for (int fd : {in_p[0], in_p[1], out_p[0], out_p[1]}) ::close(fd);
    return Status::FromErrno("pipe", argv[0], e);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_p[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out_p[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_p[1], 2);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGUSR1, SIGTERM, SIGINT, SIGPIPE}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &defaults);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &fa, &at, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  ::close(in_p[0]);
  ::close(out_p[1]);
  ::close(err_p[1]);
  if (rc != 0) {
    ::close(in_p[1]);
    ::close(out_p[0]);
    ::close(err_p[0]);
    return Status::FromErrno("run", argv[0], rc);
  }
  // Feed stdin and drain both outputs without blocking on any of them.
  size_t fed = 0;
  int in_fd = in_p[1];
  if (input.empty()) {
    ::close(in_fd);
    in_fd = -1;
  } else {
    ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int fds[2] = {out_p[0], err_p[0]};
  std::string* sinks[2] = {out, err};
  bool timed_out = false;
  while (fds[0] >= 0 || fds[1] >= 0 || in_fd >= 0) {
    pollfd p[3];
    int n = 0;
    for (int k = 0; k < 2; ++k) {
      if (fds[k] >= 0) p[n++] = {fds[k], POLLIN, 0};
    }
    if (in_fd >= 0) p[n++] = {in_fd, POLLOUT, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    if (::poll(p, n, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int j = 0; j < n; ++j) {
      if (p[j].revents == 0) continue;
      if (p[j].fd == in_fd) {
        ssize_t w = ::write(in_fd, input.data() + fed, input.size() - fed);
        if (w > 0) fed += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) fed = input.size();
        if (fed == input.size()) {
          ::close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      for (int k = 0; k < 2; ++k) {
        if (p[j].fd != fds[k]) continue;
        char buf[4096];
        ssize_t r = ::read(fds[k], buf, sizeof buf);
        if (r > 0) {
          sinks[k]->append(buf, static_cast<size_t>(r));
        } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
          ::close(fds[k]);
          fds[k] = -1;
        }
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
  if (timed_out) ::kill(pid, SIGKILL);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return Status::IOError(argv[0] + " did not answer within " + std::to_string(timeout_s) + " s");
  *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return Status::OK();
}

}  // namespace claimsweep
