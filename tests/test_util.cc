#include "test_util.h"

#include "core/security.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/layout.h"
#include "core/spec_digest.h"

namespace claimsweep::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/claimsweep-test.XXXXXX";
  char* p = ::mkdtemp(tmpl.data());
  if (p == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ErrorOf(const std::string& text) {
  auto s = ParseSpec(text, "my.textproto");
  EXPECT_FALSE(s.ok()) << "spec was accepted:\n" << text;
  return s.ok() ? "" : s.status().message();
}

SweepSpec MustParse(const std::string& text) {
  auto s = ParseSpec(text, "test.textproto");
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return SweepSpec();
  SweepSpec spec = *s;
  ApplyDefaults(&spec);
  return spec;
}

void InitSweep(const std::string& dir, const SweepSpec& spec) {
  Env* env = Env::Default();
  SweepLayout l(dir);
  for (const auto& d : {dir, l.trials_dir(), l.leases_dir(), l.tmp_dir()})
    ASSERT_TRUE(env->CreateDirs(d).ok());
  for (const std::string& name : StageNames(spec)) {  // stages, and early stopping's rungs
    const SweepLayout queue = SweepLayout::ForStage(dir, name);
    for (const auto& d : {queue.trials_dir(), queue.leases_dir()})
      ASSERT_TRUE(env->CreateDirs(d).ok());
  }
  ASSERT_TRUE(WriteFrozenSpec(env, l, FreezeSpec(spec)).ok());
}

SweepSpec NextVersionSpec(const InitedSweep& sweep, const std::string& text) {
  SweepSpec s = MustParse(text);
  ApplyDefaults(&s);
  auto frozen = ReadFrozenSpec(Env::Default(), sweep.layout.root());
  EXPECT_TRUE(frozen.ok()) << frozen.status().ToString();
  if (!frozen.ok()) return s;
  s.set_format_version(frozen->format_version());
  s.set_spec_dir(frozen->spec_dir());
  return s;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos;
       p = haystack.find(needle, p + needle.size()))
    ++n;
  return n;
}

void WriteRaw(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), std::streamsize(data.size()));
}

std::vector<std::string> MetricsWithoutTimes(const std::string& csv) {
  std::vector<std::string> rows;
  std::istringstream in(csv);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f;
    std::stringstream ls(line);
    for (std::string x; std::getline(ls, x, ',');) f.push_back(x);
    if (f.size() >= 6)
      rows.push_back(f[0] + "," + f[1] + "," + f[2] + "," + f[3] + "," + f[4] + "," + f[5]);
  }
  return rows;
}

}  // namespace claimsweep::testing
