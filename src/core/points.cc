#include "core/points.h"

#include <algorithm>
#include <cmath>

#include "core/rng.h"

namespace claimsweep {
namespace {

constexpr uint64_t kMaxPoints = uint64_t{1} << 32;  // indices are uint32 in records

// Uniform in [0, 1) with the top 53 bits of a draw.
double UnitFrom(uint64_t raw) { return static_cast<double>(raw >> 11) * 0x1.0p-53; }

// One draw of `p` from `rng` (one Next() per parameter, whatever its distribution).
std::string Draw(const RandomParam& p, SplitMix64* rng) {
  const uint64_t raw = rng->Next();
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
  return v;
}

}  // namespace

std::map<std::string, std::string> Point::AsMap() const {
  return std::map<std::string, std::string>(values.begin(), values.end());
}

const std::string* Point::Find(const std::string& name) const {
  for (const auto& [k, v] : values) {
    if (k == name) return &v;
  }
  return nullptr;
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

size_t PointSpace::Slot(const std::string& name) {
  for (size_t k = 0; k < names_.size(); ++k) {
    if (names_[k] == name) return k;
  }
  names_.push_back(name);
  return names_.size() - 1;
}

Status PointSpace::AddPart(const google::protobuf::RepeatedPtrField<GridParam>& params,
                           const google::protobuf::RepeatedPtrField<Zip>& zips,
                           const google::protobuf::RepeatedPtrField<RandomParam>& random,
                           Part* part, long double* size) {
  *size = 1;
  auto axis_of = [&](const GridParam& p, Axis* axis) -> Status {
    std::vector<std::string> vals;
    Status s = ExpandGridParam(p, &vals);
    if (!s.ok())
      return Status::InvalidArgument("grid parameter '" + p.name() + "': " + s.message());
    if (vals.empty())
      return Status::InvalidArgument("grid parameter '" + p.name() + "' has no values");
    if (!axis->columns.empty() && vals.size() != axis->columns[0].size()) {
      return Status::InvalidArgument(
          "zip: parameter '" + p.name() + "' has " + std::to_string(vals.size()) + " values, '" +
          names_[axis->slots[0]] + "' " + std::to_string(axis->columns[0].size()));
    }
    axis->slots.push_back(Slot(p.name()));
    axis->columns.push_back(std::move(vals));
    return Status::OK();
  };
  for (const GridParam& p : params) {
    Axis axis;
    CS_RETURN_IF_ERROR(axis_of(p, &axis));
    part->axes.push_back(std::move(axis));
  }
  for (const Zip& z : zips) {
    if (z.param_size() == 0) return Status::InvalidArgument("a zip has no param");
    Axis axis;
    for (const GridParam& p : z.param()) CS_RETURN_IF_ERROR(axis_of(p, &axis));
    part->axes.push_back(std::move(axis));
  }
  for (const Axis& a : part->axes) *size *= static_cast<long double>(a.columns[0].size());
  for (const RandomParam& p : random) part->random.emplace_back(Slot(p.name()), p);
  if (*size <= static_cast<long double>(kMaxPoints)) {
    part->size = 1;
    for (const Axis& a : part->axes) part->size *= a.columns[0].size();
  }
  return Status::OK();
}

Result<PointSpace> PointSpace::Create(const SweepSpec& spec) {
  PointSpace ps;
  ps.seed_ = spec.seed();
  ps.keyed_draws_ = spec.format_version() >= 3;
  const Grid& grid = spec.grid();
  long double branches = grid.branch_size() == 0 ? 1 : 0;
  for (const Branch& b : grid.branch()) {
    Part part;
    long double n = 1;
    CS_RETURN_IF_ERROR(ps.AddPart(b.param(), b.zip(), b.random(), &part, &n));
    branches += n;
    ps.branches_.push_back(std::move(part));
  }
  long double shared = 1;
  CS_RETURN_IF_ERROR(
      ps.AddPart(grid.param(), grid.zip(), spec.random().param(), &ps.shared_, &shared));
  ps.samples_ = spec.has_random() && spec.random().samples() > 0 ? spec.random().samples() : 1;
  if (branches * shared * static_cast<long double>(ps.samples_) >
      static_cast<long double>(kMaxPoints)) {
    return Status::InvalidArgument("the sweep has more than 2^32 points");
  }
  ps.branch_total_ = ps.branches_.empty() ? 1 : 0;
  for (const Part& b : ps.branches_) {
    ps.branch_start_.push_back(ps.branch_total_);
    ps.branch_total_ += b.size;
  }
  ps.grid_size_ = ps.branch_total_ * ps.shared_.size;
  for (size_t k = 0; k < ps.names_.size(); ++k) ps.by_name_.push_back(k);
  std::sort(ps.by_name_.begin(), ps.by_name_.end(),
            [&](size_t a, size_t b) { return ps.names_[a] < ps.names_[b]; });
  ps.size_ = ps.grid_size_ * ps.samples_;
  return ps;
}

// Mixed radix over the part's axes, the last fastest.
void PointSpace::Decode(const Part& part, uint64_t digits,
                        std::vector<const std::string*>* slot) const {
  for (size_t k = part.axes.size(); k-- > 0;) {
    const Axis& a = part.axes[k];
    const size_t n = a.columns[0].size();
    const size_t d = digits % n;
    digits /= n;
    for (size_t c = 0; c < a.slots.size(); ++c) (*slot)[a.slots[c]] = &a.columns[c][d];
  }
}

Point PointSpace::At(uint64_t index) const {
  const uint64_t g = index / samples_, sample = index % samples_;
  std::vector<const std::string*> slot(names_.size(), nullptr);
  const Part* branch = nullptr;
  if (!branches_.empty()) {
    const uint64_t local = g / shared_.size;
    const size_t b =
        static_cast<size_t>(std::upper_bound(branch_start_.begin(), branch_start_.end(), local) -
                            branch_start_.begin() - 1);
    branch = &branches_[b];
    Decode(*branch, local - branch_start_[b], &slot);
  }
  Decode(shared_, g % shared_.size, &slot);

  uint64_t stream;
  if (keyed_draws_) {
    // The grid point's identity: its name=value pairs sorted by name (random
    // slots are still empty here).
    Hash64 h;
    for (size_t k : by_name_) {
      if (slot[k] == nullptr) continue;
      h.Add(names_[k]);
      h.Add(*slot[k]);
    }
    stream = MixSeed(seed_ ^ 0x6b657965645f7633ULL, h.value(), sample);
  } else {
    // Sweeps frozen before format_version 3 (their trials ran with these).
    SplitMix64 seeded(seed_ ^ 0x5eed5eed5eed5eedULL);
    seeded.Next();
    stream = seeded.state() ^ (index * 0xd1b54a32d192ed03ULL);
  }
  SplitMix64 rng(stream);
  std::vector<std::string> drawn(names_.size());
  for (const Part* part : {&shared_, branch}) {
    if (part == nullptr) continue;
    for (const auto& [k, p] : part->random) {
      drawn[k] = Draw(p, &rng);
      slot[k] = &drawn[k];
    }
  }
  Point pt;
  pt.index = index;
  pt.values.reserve(slot.size());
  for (size_t k = 0; k < slot.size(); ++k) {
    if (slot[k] != nullptr) pt.values.emplace_back(names_[k], *slot[k]);
  }
  return pt;
}

}  // namespace claimsweep
