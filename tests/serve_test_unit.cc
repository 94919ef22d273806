// `sweep serve`'s checks of who may use it (src/sweep/serve_auth.h) and its
// incremental reader (src/sweep/live_sweep.h), in-process.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/claim.h"
#include "core/json.h"
#include "core/points.h"
#include "records.pb.h"
#include "sweep/live_sweep.h"
#include "sweep/serve_auth.h"
#include "test_util.h"

namespace claimsweep {
namespace {

const std::string kToken(64, 'a');
const std::string kCookie = ServeCookieName(8123);

TEST(ServeAuth, TokensAre64HexDigitsFromUrandomAndDiffer) {
  std::string a, b;
  ASSERT_OK(NewRandomToken(&a));
  ASSERT_OK(NewRandomToken(&b));
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos) << a;
  EXPECT_NE(a, b);
}

TEST(ServeAuth, OnlyTheExactTokenInTheQueryOrTheCookieGetsIn) {
  EXPECT_TRUE(RequestHasToken(kToken, kToken, "", kCookie));
  EXPECT_TRUE(
      RequestHasToken(kToken, "", "x=1; claimsweep_token_8123=" + kToken + "; y=2", kCookie));
  EXPECT_TRUE(RequestHasToken(kToken, "", "claimsweep_token_8123=" + kToken, kCookie));
  EXPECT_FALSE(RequestHasToken(kToken, "", "", kCookie));
  EXPECT_FALSE(RequestHasToken(kToken, kToken.substr(0, 63), "", kCookie));  // a prefix
  EXPECT_FALSE(RequestHasToken(kToken, kToken + "a", "", kCookie));
  EXPECT_FALSE(RequestHasToken(kToken, std::string(64, 'b'), "", kCookie));
  EXPECT_FALSE(
      RequestHasToken(kToken, "", "xclaimsweep_token_8123=" + kToken, kCookie));  // another cookie
  EXPECT_FALSE(RequestHasToken(kToken, "", "claimsweep_token_8123=" + kToken.substr(1), kCookie));
  EXPECT_FALSE(RequestHasToken("", "", "", kCookie));  // no token: nobody, not everybody
  // Another port's server's cookie (same host: the browser sends both).
  EXPECT_FALSE(RequestHasToken(kToken, "", "claimsweep_token_8124=" + kToken, kCookie));
  EXPECT_EQ(kCookie, "claimsweep_token_8123");
  EXPECT_EQ(CookieValue("a=1;b=2;  c=3", "c"), "3");
  EXPECT_EQ(CookieValue("a=1", "b"), "");
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

TEST(ServeAuth, TheTokenFileIsPrivateAndAnOpenRuntimeDirIsRefused) {
  testing::TempDir tmp;
  const char* old = std::getenv("XDG_RUNTIME_DIR");
  const std::string saved = old ? old : "";
  ::setenv("XDG_RUNTIME_DIR", tmp.path().c_str(), 1);
  std::string path;
  ASSERT_OK(WriteTokenFile(8123, "http://127.0.0.1:8123/?token=x", &path));
  EXPECT_EQ(path, tmp.path() + "/claimsweep/serve-8123.url");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((tmp.path() + "/claimsweep").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(testing::ReadAll(path), "http://127.0.0.1:8123/?token=x\n");
  // A directory others can read (planted, or made by hand) is not used.
  ::chmod((tmp.path() + "/claimsweep").c_str(), 0755);
  Status s = WriteTokenFile(8124, "u", &path);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a private directory"), std::string::npos) << s.ToString();
  if (old) {
    ::setenv("XDG_RUNTIME_DIR", saved.c_str(), 1);
  } else {
    ::unsetenv("XDG_RUNTIME_DIR");
  }
}

// A sweep of 4 points whose trials are claimed and committed here.
struct FourPoints {
  testing::InitedSweep sweep{R"(grid { param { name: "x" values: ["1", "2", "3", "4"] } }
                                command { argv: "true" }
                                claim { lease_seconds: 30 heartbeat_seconds: 1 max_attempts: 2 })"};
  Result<PointSpace> ps = PointSpace::Create(sweep.spec);
  Claimer claimer{Env::Default(), sweep.layout, sweep.spec.claim(), ps->size(), "a"};

  Claim ClaimOne() {
    Claim c;
    EXPECT_OK(claimer.ClaimNext(&c));
    return c;
  }
  void Commit(const Claim& c) {
    TrialResult r;
    r.set_format_version(kJsonRecordVersion);
    r.set_index(static_cast<uint32_t>(c.index));
    r.set_attempt(c.attempt);
    r.set_outcome("done");
    for (const auto& [k, v] : ps->At(c.index).values) (*r.mutable_params())[k] = v;
    (*r.mutable_metrics()->mutable_fields())["val_acc"].set_number_value(0.5);
    EXPECT_OK(claimer.Commit(c, ToJson(r)));
  }
};

size_t Count(const SweepResults& r, TrialState s) { return r.counts[static_cast<int>(s)]; }

// Each Poll re-reads what changed (and the running trials), not the sweep.
void ExpectIncremental(bool inotify) {
  FourPoints f;
  f.Commit(f.ClaimOne());  // trial 0 done
  f.Commit(f.ClaimOne());  // trial 1 done
  LiveSweep::Options o;
  o.use_inotify = inotify;
  o.scan_per_poll = 1;  // the bounded scan: one directory a poll
  LiveSweep live(f.sweep.layout.root(), o);
  ASSERT_OK(live.Open());
  EXPECT_EQ(live.watching(), inotify);
  EXPECT_EQ(Count(live.results(), TrialState::kDone), 2u);
  bool changed = true;
  ASSERT_OK(live.Poll(&changed));
  EXPECT_FALSE(changed);
  EXPECT_LE(live.last_reloaded(), inotify ? 0u : 1u);

  const Claim c = f.ClaimOne();  // trial 2: newly claimed, running
  ASSERT_OK(live.Poll(&changed));
  EXPECT_TRUE(changed);
  EXPECT_EQ(live.results().trials.size(), 3u);
  EXPECT_EQ(Count(live.results(), TrialState::kRunning), 1u);
  EXPECT_LE(live.last_reloaded(), 2u) << "re-read more than what changed";
  f.Commit(c);
  ASSERT_OK(live.Poll(&changed));
  EXPECT_TRUE(changed);
  EXPECT_EQ(Count(live.results(), TrialState::kDone), 3u);
  EXPECT_EQ(Count(live.results(), TrialState::kPending), 1u);

  // A done trial's files change behind the server's back: seen, at once
  // with inotify, else within (claimed / scan_per_poll) polls.
  ASSERT_EQ(::unlink(f.sweep.layout.result_path(0).c_str()), 0);
  bool seen = false;
  for (int poll = 0; poll < (inotify ? 1 : 3) && !seen; ++poll) {
    ASSERT_OK(live.Poll(&changed));
    EXPECT_LE(live.last_reloaded(), 1u);
    seen = live.results().trials[0].state != TrialState::kDone;
  }
  EXPECT_TRUE(seen) << "the removed result.json was not noticed";
}

TEST(LiveSweep, InotifyRereadsOnlyTheTrialsThatChanged) { ExpectIncremental(true); }
TEST(LiveSweep, WithoutInotifyBoundedScansFindEveryChange) { ExpectIncremental(false); }

}  // namespace
}  // namespace claimsweep
