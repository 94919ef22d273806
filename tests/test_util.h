// Helpers shared by the tests: temp directories and tiny sweeps.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/env.h"
#include "core/layout.h"
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

// ParseSpec's error for `text`, read as "my.textproto"; fails the test if
// the spec is accepted.
std::string ErrorOf(const std::string& text);

// Creates a sweep directory as `sweep init` does.
void InitSweep(const std::string& dir, const SweepSpec& spec);

// A sweep made as `sweep init` does from `spec_text`, in TMP/s.
struct InitedSweep {
  explicit InitedSweep(const std::string& spec_text)
      : spec(MustParse(spec_text)), layout(tmp.path() + "/s") {
    InitSweep(layout.root(), spec);
  }
  TempDir tmp;
  SweepSpec spec;
  SweepLayout layout;
};

// A new spec, parsed and frozen as `sweep extend` freezes it against
// `sweep` (its format version and spec_dir).
SweepSpec NextVersionSpec(const InitedSweep& sweep, const std::string& text);

std::string ReadAll(const std::string& path);
// How many times `needle` occurs in `haystack`, not overlapping.
size_t Count(const std::string& haystack, const std::string& needle);
// A train trial's metrics.csv rows cut to the columns a resumed run must
// reproduce exactly (epoch, train_loss, train_acc, val_loss, val_acc, lr);
// the timing columns cannot match.
std::vector<std::string> MetricsWithoutTimes(const std::string& csv);
// Writes `data` to `path` as is (truncating), for hand-made or damaged files.
void WriteRaw(const std::string& path, const std::string& data);

// For ASSERT_OK / EXPECT_OK: success, or a failure that prints the status.
inline ::testing::AssertionResult IsOk(const Status& s) {
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << s.ToString();
}
template <typename T>
::testing::AssertionResult IsOk(const Result<T>& r) {
  return IsOk(r.status());
}

}  // namespace claimsweep::testing

// ASSERT_TRUE(x.ok()) that says why not: the status's message on failure.
#define ASSERT_OK(expr) ASSERT_TRUE(::claimsweep::testing::IsOk(expr))
#define EXPECT_OK(expr) EXPECT_TRUE(::claimsweep::testing::IsOk(expr))
