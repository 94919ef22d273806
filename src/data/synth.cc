#include "data/synth.h"

#include <algorithm>

#include "core/rng.h"
#include "data/dataset.h"

namespace claimsweep {
namespace {

// Fixed-point: coordinates in 1/256 pixel (Q8), cos/sin in Q14.
constexpr int64_t kQ8 = 256;
constexpr int64_t kQ14 = 16384;
constexpr int kShapes = 6;  // disk, square, triangle, diamond, plus, ring

int64_t Abs(int64_t v) { return v < 0 ? -v : v; }

// Distinct base colours (RGB), one per class modulo 10.
constexpr uint8_t kPalette[10][3] = {{230, 60, 50},  {60, 180, 75},  {255, 225, 25}, {0, 130, 200},
                                     {245, 130, 48}, {145, 30, 180}, {70, 240, 240}, {240, 50, 230},
                                     {210, 245, 60}, {250, 190, 212}};

// sin(x) for x in [0, pi/2] by its Taylor series, using + and * only: libm's
// sin may differ in the last bit between versions, and the result is rounded
// to Q14 anyway.
double SinQuarter(double x) {
  double term = x, sum = x;
  for (int k = 1; k < 12; ++k) {
    term *= -x * x / double((2 * k) * (2 * k + 1));
    sum += term;
  }
  return sum;
}

// cos and sin of `turn` / 4096 of a full turn, in Q14.
void CosSin(int64_t turn, int64_t* c, int64_t* s) {
  turn = ((turn % 4096) + 4096) % 4096;
  const double kHalfPi = 1.57079632679489661923;
  auto sin_turn = [&](int64_t t) -> int64_t {  // sin of t/4096 turn
    t = ((t % 4096) + 4096) % 4096;
    int64_t sign = t >= 2048 ? -1 : 1;
    t %= 2048;
    if (t > 1024) t = 2048 - t;
    double v = SinQuarter(double(t) / 1024.0 * kHalfPi);
    return sign * int64_t(v * kQ14 + 0.5);
  };
  *s = sin_turn(turn);
  *c = sin_turn(turn + 1024);
}

bool InShape(int shape, int64_t dx, int64_t dy, int64_t r) {
  const int64_t ax = Abs(dx), ay = Abs(dy);
  switch (shape) {
    case 0: return dx * dx + dy * dy <= r * r;                                // disk
    case 1: return std::max(ax, ay) * 10 <= r * 8;                            // square
    case 2: return dy >= -r && dy * 10 <= r * 7 && ax * 17 <= (dy + r) * 10;  // triangle
    case 3: return ax + ay <= r;                                              // diamond
    case 4: return (ax * 3 <= r && ay <= r) || (ay * 3 <= r && ax <= r);      // plus
    default: {                                                                // ring
      const int64_t d2 = dx * dx + dy * dy;
      return d2 <= r * r && d2 * 100 >= r * r * 30;
    }
  }
}

// A triangle wave in 0..256 along u_q22 (a Q8 coordinate times a Q14 cosine).
int64_t Triangle(int64_t u_q22, int64_t period, int64_t phase) {
  const int64_t u = u_q22 / kQ14;
  const int64_t t = (((u + phase) % period) + period) % period;
  return Abs(2 * t - period) * 256 / period;
}

uint64_t SplitTag(const std::string& split) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char ch : split) h = (h ^ ch) * 1099511628211ull;
  return h;
}

uint8_t Clamp(int64_t v) { return uint8_t(std::min<int64_t>(255, std::max<int64_t>(0, v))); }

}  // namespace

Status CheckSynthOptions(const SynthOptions& o) {
  auto bad = [](const std::string& what, int64_t v) {
    return Status::InvalidArgument(what + ", not " + std::to_string(v) + "; nothing was written");
  };
  if (o.channels != 1 && o.channels != 3)
    return bad("--channels must be 1 (grey) or 3 (RGB)", o.channels);
  if (o.classes < 2 || o.classes > 1000) return bad("--classes must be in 2..1000", o.classes);
  // 8 is what resnet_cifar needs; SqueezeNet needs 17 (1.1) or 21 (1.0).
  if (o.size < 8 || o.size > 1024) {
    return bad("--size must be in 8..1024 (squeezenet1_1 needs at least 17, squeezenet1_0 21)",
               o.size);
  }
  if (o.train < 1) return bad("--train must be at least 1", o.train);
  if (o.val < 1)
    return bad("--val must be at least 1 (training evaluates on val every epoch)", o.val);
  if (o.test < 0) return bad("--test must be at least 0", o.test);
  return Status::OK();
}

void SynthesizeExample(const SynthOptions& o, const std::string& split, uint64_t index,
                       std::string* image, int* label) {
  SplitMix64 rng(MixSeed(o.seed, SplitTag(split), index));
  const int64_t S = o.size, C = o.channels;
  const int k = int(rng.Uniform(uint64_t(o.classes)));
  *label = k;

  // Orientation: class k's stripes lie at k/classes of a half turn, +-45% of
  // the gap to the next class, so neighbours nearly touch.
  const int64_t step = 2048 / o.classes;
  const int64_t turn = k * 2048 / o.classes + rng.Range(-step * 45 / 100, step * 45 / 100);
  int64_t cs, sn;
  CosSin(turn, &cs, &sn);

  const int64_t r = S * kQ8 * rng.Range(20, 40) / 100;  // shape radius
  const int64_t cx = S * kQ8 * rng.Range(30, 70) / 100;
  const int64_t cy = S * kQ8 * rng.Range(30, 70) / 100;
  const int64_t period = std::max<int64_t>(3 * kQ8, S * kQ8 * rng.Range(12, 20) / 100);
  const int64_t phase = int64_t(rng.Uniform(uint64_t(period)));
  const int64_t depth = rng.Range(110, 200);  // how dark the dark stripes are, /256
  // A faint distractor texture on the background, at any angle.
  int64_t bcs, bsn;
  CosSin(int64_t(rng.Uniform(4096)), &bcs, &bsn);
  const int64_t bperiod = std::max<int64_t>(3 * kQ8, S * kQ8 * rng.Range(10, 25) / 100);
  const int64_t bamp = rng.Range(0, 40);

  int64_t fg[4], bg[4];
  const bool random_tint = rng.Uniform(3) == 0;
  for (int64_t c = 0; c < C; ++c) {
    fg[c] = random_tint ? int64_t(rng.Uniform(256)) : kPalette[k % 10][c % 3] + rng.Range(-30, 30);
    fg[c] = Clamp(fg[c]);
    bg[c] = int64_t(rng.Uniform(256));
  }
  // Keep the shape visible: the background differs from the tint somewhere.
  int64_t diff = 0;
  for (int64_t c = 0; c < C; ++c) diff = std::max(diff, Abs(fg[c] - bg[c]));
  if (diff < 64) {
    for (int64_t c = 0; c < C; ++c) bg[c] = fg[c] >= 128 ? fg[c] - 100 : fg[c] + 100;
  }

  const int shape = k % kShapes;
  image->resize(size_t(S * S * C));
  uint8_t* px = reinterpret_cast<uint8_t*>(image->data());
  for (int64_t y = 0; y < S; ++y) {
    const int64_t dy = y * kQ8 + kQ8 / 2 - cy;
    for (int64_t x = 0; x < S; ++x) {
      const int64_t dx = x * kQ8 + kQ8 / 2 - cx;
      const bool inside = InShape(shape, dx, dy, r);
      int64_t shade = 256, texture = 0;  // /256 of the tint; added to the background
      if (inside) {
        shade = 256 - depth * Triangle(dx * cs + dy * sn, period, phase) / 256;
      } else {
        texture = bamp * Triangle(dx * bcs + dy * bsn, bperiod, 0) / 256 - bamp / 2;
      }
      for (int64_t c = 0; c < C; ++c) {
        const int64_t v = inside ? fg[c] * shade / 256 : bg[c] + texture;
        *px++ = Clamp(v + rng.Range(-20, 20));
      }
    }
  }
}

Status Synthesize(const SynthOptions& o, const std::string& out_dir) {
  CS_RETURN_IF_ERROR(CheckSynthOptions(o));
  std::vector<std::string> classes;
  for (int k = 0; k < o.classes; ++k) classes.push_back("class" + std::to_string(k));
  DatasetWriter w(out_dir, "synth", classes, uint32_t(o.size), uint32_t(o.size),
                  uint32_t(o.channels), o.records_per_shard);
  w.set_source("synth seed=" + std::to_string(o.seed) + " classes=" + std::to_string(o.classes) +
               " size=" + std::to_string(o.size) + " channels=" + std::to_string(o.channels));
  std::string image;
  int label = 0;
  const std::pair<const char*, int64_t> splits[] = {
      {"train", o.train}, {"val", o.val}, {"test", o.test}};
  for (const auto& [split, count] : splits) {
    for (int64_t i = 0; i < count; ++i) {
      SynthesizeExample(o, split, uint64_t(i), &image, &label);
      CS_RETURN_IF_ERROR(w.AddExample(split, image, label));
    }
  }
  return w.Finish();
}

}  // namespace claimsweep
