// `sweep data synth`, `sweep data import` and `sweep data inspect`.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "core/number_format.h"
#include "data/dataset.h"
#include "data/import_cifar10.h"
#include "data/import_mnist.h"
#include "sweep/commands.h"

namespace claimsweep {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// InvalidArgument is the user's mistake (exit 2); anything else failed (1).
int FromStatus(const Status& s) {
  return s.code() == Status::Code::kInvalidArgument ? UsageError(s.message())
                                                    : Failure(s.message());
}

std::string Counts(const DatasetManifest& m) {
  std::string out;
  uint64_t total = 0;
  for (const auto& sp : m.split()) {
    out += (out.empty() ? "" : ", ") + sp.name() + " " + std::to_string(sp.count());
    total += sp.count();
  }
  return std::to_string(total) + " examples (" + out + ")";
}

std::string Doubles(const google::protobuf::RepeatedField<double>& v) {
  std::string out;
  for (double d : v) out += (out.empty() ? "" : " ") + FormatFixed(d, 4);
  return out.empty() ? "-" : out;
}

int Summarize(const std::string& dir, double seconds) {
  auto m = ReadManifest(Env::Default(), dir);
  if (!m.ok()) return Failure(m.status().message());
  std::printf("wrote %s: %s, %d classes, %ux%ux%u, in %.2f s\n", dir.c_str(), Counts(*m).c_str(),
              m->classes_size(), m->height(), m->width(), m->channels(), seconds);
  return 0;
}

}  // namespace

int CmdDataSynth(const SynthOptions& options, const std::string& out_dir) {
  const auto t0 = Clock::now();
  Status s = Synthesize(options, out_dir);
  if (!s.ok()) return FromStatus(s);
  return Summarize(out_dir, SecondsSince(t0));
}

int CmdDataImport(const std::string& format, const std::string& out_dir, const std::string& src,
                  double val_fraction) {
  ImportOptions o;
  o.val_fraction = val_fraction;
  const auto t0 = Clock::now();
  Status s;
  if (format == "cifar10") {
    s = ImportCifar10(src, out_dir, o);
  } else if (format == "mnist") {
    s = ImportMnist(src, out_dir, o);
  } else {
    return UsageError("unknown dataset format '" + format + "' (cifar10 or mnist)");
  }
  if (!s.ok()) return FromStatus(s);
  return Summarize(out_dir, SecondsSince(t0));
}

int CmdDataInspect(const std::string& dir) {
  Env* env = Env::Default();
  auto m = ReadManifest(env, dir);
  if (!m.ok()) return Failure(m.status().message());
  std::string classes;
  for (const auto& c : m->classes()) classes += (classes.empty() ? "" : " ") + c;
  std::printf("dataset:  %s (%s)\n", m->name().c_str(), dir.c_str());
  if (!m->source().empty()) std::printf("source:   %s\n", m->source().c_str());
  std::printf("classes:  %d: %s\n", m->classes_size(), classes.c_str());
  std::printf("shape:    %ux%ux%u (height x width x channels, uint8)\n", m->height(), m->width(),
              m->channels());
  for (const auto& sp : m->split()) {
    uint64_t bytes = 0;
    for (const auto& sh : sp.shard()) bytes += sh.bytes();
    std::printf("split:    %-6s %8llu examples in %d shard%s, %.1f MiB\n", sp.name().c_str(),
                static_cast<unsigned long long>(sp.count()), sp.shard_size(),
                sp.shard_size() == 1 ? "" : "s", double(bytes) / (1 << 20));
  }
  std::printf("mean:     %s\n", Doubles(m->mean()).c_str());
  std::printf("std:      %s\n", Doubles(m->std()).c_str());
  std::fflush(stdout);

  // Progress on a terminal only, redrawn at most ten times a second; logs
  // get the final line alone.
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  auto last = Clock::now() - std::chrono::seconds(1);
  auto progress = [&](uint64_t done, uint64_t total) {
    if (!tty || (done != total && Clock::now() - last < std::chrono::milliseconds(100))) return;
    last = Clock::now();
    std::fprintf(stderr, "\rverifying: %llu/%llu records", static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total));
  };
  const auto t0 = Clock::now();
  uint64_t records = 0;
  Status s = VerifyDataset(env, dir, progress, &records);
  if (tty) std::fprintf(stderr, "\n");
  if (!s.ok()) return Failure(s.ToString());
  std::fprintf(stderr, "verified %llu records in %.2f s\n",
               static_cast<unsigned long long>(records), SecondsSince(t0));
  std::printf("ok: %llu records verified\n", static_cast<unsigned long long>(records));
  return 0;
}

}  // namespace claimsweep
