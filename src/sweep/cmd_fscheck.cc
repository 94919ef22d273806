// `sweep fscheck DIR [--second-mount PATH] [--json]`: is DIR's filesystem fit
// for a sweep? The checks are core/fscheck.h's; this prints them.
#include <signal.h>

#include <csignal>
#include <cstdio>

#include "core/fscheck.h"
#include "core/json.h"
#include "output.pb.h"
#include "sweep/commands.h"

namespace claimsweep {
namespace {

std::string Octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

FsCheckJson ToJsonMessage(const FsCheckReport& r, const FsCheckOptions& o) {
  FsCheckJson j;
  j.set_dir(ValidUtf8(r.dir));
  j.set_safe(r.safe());
  j.set_filesystem(ValidUtf8(r.filesystem));
  char magic[32];
  std::snprintf(magic, sizeof magic, "0x%llx", static_cast<unsigned long long>(r.fs_magic));
  j.set_fs_magic(magic);
  j.set_mount_point(ValidUtf8(r.mount_point));
  j.set_mount_source(ValidUtf8(r.mount_source));
  j.set_mount_options(ValidUtf8(r.mount_options));
  j.set_network(r.network);
  j.set_mkdir_skew_seconds(r.mkdir_skew_seconds);
  j.set_create_skew_seconds(r.create_skew_seconds);
  j.set_touch_skew_seconds(r.touch_skew_seconds);
  j.set_resolution_seconds(r.resolution_seconds);
  j.set_touch_change_ms(r.touch_change_ms);
  j.set_lease_seconds(o.lease_seconds);
  j.set_heartbeat_seconds(o.heartbeat_seconds);
  j.set_free_bytes(static_cast<double>(r.free_bytes));
  j.set_total_bytes(static_cast<double>(r.total_bytes));
  j.set_free_inodes(static_cast<double>(r.free_inodes));
  j.set_total_inodes(static_cast<double>(r.total_inodes));
  j.set_dir_mode(Octal(r.dir_mode));
  j.set_dir_uid(r.dir_uid);
  j.set_new_dir_mode(Octal(r.new_dir_mode));
  if (!r.second_mount.empty()) {
    FsSecondMountJson* m = j.mutable_second_mount();
    m->set_path(ValidUtf8(r.second_mount));
    m->set_timeout_seconds(o.timeout_seconds);
    for (const auto& p : r.propagation) {
      FsPropagationJson* s = m->add_steps();
      s->set_change(p.change);
      s->set_shown(p.shown);
      s->set_milliseconds(p.milliseconds);
    }
  }
  for (const auto& f : r.findings) {
    FsFindingJson* x = j.add_findings();
    x->set_check(f.check);
    x->set_verdict(FsVerdictName(f.verdict));
    x->set_found(ValidUtf8(f.found));
    x->set_claimsweep(ValidUtf8(f.claimsweep));
    x->set_fix(ValidUtf8(f.fix));
  }
  return j;
}

void PrintText(const FsCheckReport& r) {
  std::printf("sweep fscheck %s\n", r.dir.c_str());
  for (const auto& f : r.findings) {
    std::printf("%-8s %s: %s\n", FsVerdictName(f.verdict), f.check.c_str(), f.found.c_str());
    if (!f.claimsweep.empty()) std::printf("         claimsweep: %s\n", f.claimsweep.c_str());
    const bool bad = f.verdict == FsVerdict::kWarning || f.verdict == FsVerdict::kUnsafe;
    if (!f.fix.empty()) std::printf("         %s: %s\n", bad ? "fix" : "note", f.fix.c_str());
  }
  int warnings = 0;
  for (const auto& f : r.findings) warnings += f.verdict == FsVerdict::kWarning;
  if (r.safe()) {
    std::printf("safe: claimsweep's primitives work in %s (%d warning%s)\n", r.dir.c_str(),
                warnings, warnings == 1 ? "" : "s");
  }
}

volatile std::sig_atomic_t g_stop = 0;
void OnStopSignal(int sig) { g_stop = sig; }

// SIGINT, SIGTERM, SIGHUP stop the checks (which then remove their directory).
void StopOnSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

}  // namespace

int CmdFsCheck(const FsCheckOptions& opts, bool json) {
  FsCheckOptions options = opts;
  options.stop = &g_stop;
  StopOnSignals();
  auto report = RunFsCheck(options);
  if (!report.ok()) return UsageError(report.status().message());
  if (report->interrupted) {
    std::fprintf(stderr,
                 "sweep: fscheck interrupted by signal %d; it removed its directory in %s\n",
                 static_cast<int>(g_stop), options.dir.c_str());
    return kExitInterrupted;
  }
  if (json) {
    std::string out;
    AppendJson(ToJsonMessage(*report, options), &out);
    std::printf("%s\n", out.c_str());
  } else {
    PrintText(*report);
  }
  if (report->safe()) return kExitOk;
  for (const auto& f : report->findings) {
    if (f.verdict != FsVerdict::kUnsafe) continue;
    std::fprintf(stderr, "sweep: %s is unsafe for a sweep: %s: %s; fix: %s\n", options.dir.c_str(),
                 f.check.c_str(), f.found.c_str(), f.fix.c_str());
  }
  return kExitFailed;
}

}  // namespace claimsweep
