// Hand-made early-stopping sweeps (core/rungs.h's layout) for the readers'
// tests: configuration c's rung 0 is trials/<c>, rung k >= 1 the item
// stages/rung-<k>/items/<c>-0000, an unstarted promotion its announcement.
// Configuration c's val_acc at rung k is (10c + k) / 100, written as
// "0.<c><k>" (c < 10) or "<c/10>.<c%10><k>", each record 1 s long.
#pragma once

#include <sys/stat.h>

#include <string>

#include "core/layout.h"
#include "core/rungs.h"
#include "test_util.h"

namespace claimsweep::testing {

// `n` configurations seed = 0 .. n-1, SHA on val_acc at 1, 3, 9 epochs, reduction 3.
inline std::string RungSpec(int n) {
  std::string values;
  for (int c = 0; c < n; ++c) values += " values: \"" + std::to_string(c) + "\"";
  return "name: \"es\"\n"
         "grid { param { name: \"seed\"" +
         values +
         " } }\n"
         "train { model: \"resnet_cifar\" depth: 8 dataset: \"d\" }\n"
         "early_stopping { asha { metric: \"val_acc\" maximize: true min_epochs: 1 max_epochs: 9 "
         "reduction: 3 synchronous: true } }\n"
         "claim { lease_seconds: 300 heartbeat_seconds: 1 max_attempts: 3 }\n";
}

inline void MakeDirs(const std::string& path) {
  for (size_t p = 1; p != std::string::npos; p = path.find('/', p + 1))
    ::mkdir(path.substr(0, p).c_str(), 0755);
  ::mkdir(path.c_str(), 0755);
}

// "0.82" for c = 8, k = 2.
inline std::string RungValue(uint64_t c, uint32_t k) {
  const uint64_t v = 10 * c + k;
  std::string frac = std::to_string(v % 100);
  if (frac.size() < 2) frac = "0" + frac;
  return std::to_string(v / 100) + "." + frac;
}

struct RungSweep {
  explicit RungSweep(int n) : sweep(RungSpec(n)), root(sweep.layout) {}
  InitedSweep sweep;
  const SweepLayout& root;
  const int budgets[3] = {1, 3, 9};

  // An open attempt 1 (fresh heartbeat): running.
  void Running(uint32_t k, uint64_t c) {
    const SweepLayout q = RungQueue(root, k);
    MakeDirs(q.attempt_dir(RungKey(k, c), 1));
    WriteRaw(q.owner_path(RungKey(k, c), 1), "{}");
  }
  // c done at rung k: its record as core/rungs.h describes it, and its
  // score marker.
  void Done(uint32_t k, uint64_t c) {
    Running(k, c);
    const SweepLayout q = RungQueue(root, k);
    const std::string item = k == 0 ? "" : ItemName(RungKey(k, c));
    WriteRaw(
        q.result_path(RungKey(k, c)),
        "{\"index\":" + std::to_string(c) + ",\"attempt\":1,\"outcome\":\"done\"," +
            (k == 0 ? "" : "\"stage\":\"" + RungStageName(k) + "\",\"item\":\"" + item + "\",") +
            "\"params\":{\"seed\":\"" + std::to_string(c) +
            "\"},\"metrics\":{\"val_acc\":" + RungValue(c, k) +
            "},\"duration_seconds\":1,\"total_seconds\":1,\"rung\":" + std::to_string(k) +
            ",\"budget\":" + std::to_string(budgets[k]) + "}");
    MakeDirs(RungScoresDir(root, k));
    WriteRaw(RungScoresDir(root, k) + "/" + TrialName(c) + "=" + RungValue(c, k), "");
  }
  // c failed for good at rung k (3 attempts of 3).
  void Failed(uint32_t k, uint64_t c) {
    const SweepLayout q = RungQueue(root, k);
    for (uint32_t a = 1; a <= 3; ++a) {
      MakeDirs(q.attempt_dir(RungKey(k, c), a));
      WriteRaw(q.owner_path(RungKey(k, c), a), "{}");
      WriteRaw(q.failed_path(RungKey(k, c), a),
               "{\"index\":" + std::to_string(c) + ",\"attempt\":" + std::to_string(a) +
                   ",\"outcome\":\"failed\",\"message\":\"exit status 1\"}");
    }
    MakeDirs(RungScoresDir(root, k));
    WriteRaw(RungScoresDir(root, k) + "/" + TrialName(c) + "=fail", "");
  }
  // c promoted to rung k >= 1, not started: its announcement only.
  void Announced(uint32_t k, uint64_t c) {
    const SweepLayout q = RungQueue(root, k);
    MakeDirs(q.leases_dir());
    WriteRaw(q.released_lease_path(RungKey(k, c), 0), "");
  }
  // trials/<c>/metrics.csv with one row per epoch up to `epochs`.
  void Curve(uint64_t c, int epochs) {
    std::string csv = "epoch,val_acc\n";
    for (int e = 1; e <= epochs; ++e)
      csv += std::to_string(e) + "," + std::to_string(0.1 * e + 0.01 * c) + "\n";
    WriteRaw(root.metrics_csv_path(c, false), csv);
  }
  // The SHA tree of n = 3^m configurations: every one done at rung 0, the
  // top third (the highest c, whose values are highest) at rung 1, the top
  // ninth at rung 2.
  void FullTree(uint64_t n) {
    for (uint64_t c = 0; c < n; ++c) Done(0, c);
    for (uint64_t c = n - n / 3; c < n; ++c) Done(1, c);
    for (uint64_t c = n - n / 9; c < n; ++c) Done(2, c);
  }
};

}  // namespace claimsweep::testing
