#include "trial/signals.h"

#include <signal.h>

#include <atomic>

namespace claimsweep {
namespace {

std::atomic<int> g_signal{0};
std::atomic<pid_t> g_target{0};
std::atomic<bool> g_terminate{false};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<pid_t>::is_always_lock_free,
              "used from a signal handler");

void OnSignal(int sig) {
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);
  if (sig != SIGUSR1) g_terminate.store(true);
  pid_t pg = g_target.load();
  if (pg > 0) ::kill(-pg, sig);
}

}  // namespace

void InstallSignalForwarding() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : kForwardedSignals) ::sigaction(sig, &sa, nullptr);
}

int ReceivedSignal() { return g_signal.load(); }

bool TerminationRequested() { return g_terminate.load(); }

void SetForwardTarget(pid_t pgid) {
  g_target.store(pgid);
  // A signal that arrived before the child existed is delivered now.
  int sig = g_signal.load();
  if (pgid > 0 && sig != 0) ::kill(-pgid, sig);
}

}  // namespace claimsweep
