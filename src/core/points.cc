#include "core/points.h"

#include <cmath>

#include "core/rng.h"

namespace claimsweep {
namespace {

constexpr uint64_t kMaxPoints = uint64_t{1} << 32;  // indices are uint32 in records

// Uniform in [0, 1) with the top 53 bits of a draw.
double UnitFrom(uint64_t raw) { return static_cast<double>(raw >> 11) * 0x1.0p-53; }

}  // namespace

std::map<std::string, std::string> Point::AsMap() const {
  return std::map<std::string, std::string>(values.begin(), values.end());
}

Status ExpandGridParam(const GridParam& p, std::vector<std::string>* out) {
  out->clear();
  if (!p.has_range()) {
    out->assign(p.values().begin(), p.values().end());
    return Status::OK();
  }
  const Range& r = p.range();
  if (!std::isfinite(r.start()) || !std::isfinite(r.stop()) || !std::isfinite(r.step())) {
    return Status::InvalidArgument("range start, stop and step must be finite numbers");
  }
  if (!(r.step() > 0)) return Status::InvalidArgument("range step must be > 0");
  if (!(r.stop() > r.start()))
    return Status::InvalidArgument("range stop must be > start (stop is exclusive)");
  double n = std::ceil((r.stop() - r.start()) / r.step() - 1e-9);
  if (n > 1e7) return Status::InvalidArgument("range has more than 10,000,000 values");
  for (long k = 0; k < static_cast<long>(n); ++k) {
    double v = r.start() + static_cast<double>(k) * r.step();
    // Round away accumulated binary noise (0.30000000000000004 -> 0.3).
    out->push_back(FormatDouble(std::strtod(FormatSignificant(v, 12).c_str(), nullptr)));
  }
  return Status::OK();
}

Result<PointSpace> PointSpace::Create(const SweepSpec& spec) {
  PointSpace ps;
  ps.spec_ = spec;
  long double total = 1;
  for (const GridParam& p : spec.grid().param()) {
    std::vector<std::string> vals;
    Status s = ExpandGridParam(p, &vals);
    if (!s.ok())
      return Status::InvalidArgument("grid parameter '" + p.name() + "': " + s.message());
    if (vals.empty())
      return Status::InvalidArgument("grid parameter '" + p.name() + "' has no values");
    total *= static_cast<long double>(vals.size());
    ps.grid_values_.push_back(std::move(vals));
    ps.names_.push_back(p.name());
  }
  for (const RandomParam& p : spec.random().param()) ps.names_.push_back(p.name());
  ps.grid_size_ = 1;
  for (const auto& v : ps.grid_values_) ps.grid_size_ *= v.size();
  ps.samples_ = spec.has_random() && spec.random().samples() > 0 ? spec.random().samples() : 1;
  total *= static_cast<long double>(ps.samples_);
  if (total > static_cast<long double>(kMaxPoints)) {
    return Status::InvalidArgument("the sweep has more than 2^32 points");
  }
  ps.size_ = ps.grid_size_ * ps.samples_;
  return ps;
}

Point PointSpace::At(uint64_t index) const {
  Point pt;
  pt.index = index;
  uint64_t g = index / samples_;
  // Mixed radix, last parameter fastest.
  std::vector<size_t> digit(grid_values_.size());
  for (size_t k = grid_values_.size(); k-- > 0;) {
    digit[k] = g % grid_values_[k].size();
    g /= grid_values_[k].size();
  }
  for (size_t k = 0; k < grid_values_.size(); ++k) {
    pt.values.emplace_back(names_[k], grid_values_[k][digit[k]]);
  }
  SplitMix64 seeded(spec_.seed() ^ 0x5eed5eed5eed5eedULL);
  seeded.Next();
  SplitMix64 rng(seeded.state() ^ (index * 0xd1b54a32d192ed03ULL));
  for (const RandomParam& p : spec_.random().param()) {
    const uint64_t raw = rng.Next();
    const double u = UnitFrom(raw);
    std::string v;
    switch (p.distribution_case()) {
      case RandomParam::kUniform:
        v = FormatDouble(p.uniform().low() + u * (p.uniform().high() - p.uniform().low()));
        break;
      case RandomParam::kLogUniform: {
        double lo = std::log(p.log_uniform().low()), hi = std::log(p.log_uniform().high());
        v = FormatDouble(std::exp(lo + u * (hi - lo)));
        break;
      }
      case RandomParam::kIntUniform: {
        // In unsigned arithmetic: high - low overflows int64 for wide ranges
        // (e.g. the whole int64 range), and so would low + k.
        const int64_t lo = p.int_uniform().low(), hi = p.int_uniform().high();
        const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);  // values - 1
        uint64_t k;
        if (span < (uint64_t{1} << 53)) {
          // u has 53 bits: enough for every value of such a range (and these
          // draws are pinned by tests: sweeps frozen earlier keep their points).
          const long double scaled =
              static_cast<long double>(u) * (static_cast<long double>(span) + 1);
          k = scaled >= static_cast<long double>(span) ? span : static_cast<uint64_t>(scaled);
        } else {
          // Wider: all 64 bits of the same draw, so every value can come up
          // (through u only multiples of 2^11 and more could).
          const uint64_t values = span + 1;  // 0: the whole 2^64 range
          k = values == 0
                  ? raw
                  : static_cast<uint64_t>((static_cast<unsigned __int128>(raw) * values) >> 64);
        }
        v = std::to_string(static_cast<int64_t>(static_cast<uint64_t>(lo) + k));
        break;
      }
      case RandomParam::kChoice: {
        auto n = static_cast<size_t>(p.choice().values_size());
        v = p.choice().values(static_cast<int>(std::min(n - 1, static_cast<size_t>(u * n))));
        break;
      }
      case RandomParam::DISTRIBUTION_NOT_SET: break;
    }
    pt.values.emplace_back(p.name(), v);
  }
  return pt;
}

}  // namespace claimsweep
