// Helpers shared by the tests: temp directories and tiny sweeps.
#pragma once

#include <string>
#include <vector>

#include "core/env.h"
#include "core/spec.h"

namespace claimsweep::testing {

// A fresh empty directory under $TMPDIR (or /tmp), removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Parses `text` as a spec; fails the test on error.
SweepSpec MustParse(const std::string& text);

// Creates a sweep directory as `sweep init` does.
void InitSweep(const std::string& dir, const SweepSpec& spec);

std::string ReadAll(const std::string& path);
// A train trial's metrics.csv rows cut to the columns a resumed run must
// reproduce exactly (epoch, train_loss, train_acc, val_loss, val_acc, lr);
// the timing columns cannot match.
std::vector<std::string> MetricsWithoutTimes(const std::string& csv);
// Writes `data` to `path` as is (truncating), for hand-made or damaged files.
void WriteRaw(const std::string& path, const std::string& data);

}  // namespace claimsweep::testing
