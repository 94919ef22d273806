#include "core/extend.h"

#include <pwd.h>
#include <unistd.h>

#include <functional>
#include <unordered_map>

#include <google/protobuf/util/message_differencer.h>

#include "core/publish.h"
#include "core/terminal_text.h"
#include "core/token.h"

namespace claimsweep {
namespace {

// A point's key, hashed to 128 bits by two unrelated hashes: the sets
// compared hold up to 2^32 points, and a false match would silently drop a
// new point, so 64 bits would not do.
struct Key {
  uint64_t a, b;
  bool operator==(const Key& o) const { return a == o.a && b == o.b; }
};
struct KeyHash {
  size_t operator()(const Key& k) const { return static_cast<size_t>(k.a ^ (k.b * 31)); }
};
Key KeyOf(const Point& p) {
  const std::string s = PointKey(p);
  uint64_t fnv = 1469598103934665603ULL;
  for (unsigned char c : s) fnv = (fnv ^ c) * 1099511628211ULL;
  return Key{std::hash<std::string>()(s), fnv};
}

std::string Describe(const Point& p) {
  std::string d;
  for (const auto& [name, value] : p.values) d += (d.empty() ? "" : ", ") + name + "=" + value;
  return TerminalSafe(d);
}

// Workers of every version judge each other's leases: each version's
// heartbeat must stay within a third of every other version's lease.
Status CheckLeases(const SweepPoints& current, const SweepSpec& next) {
  const ClaimPolicy& n = next.claim();
  for (uint32_t v = 1; v <= current.version(); ++v) {
    const ClaimPolicy& c = current.version_spec(v).claim();
    const std::string of = " of the workers of version " + std::to_string(v) + " (";
    if (n.heartbeat_seconds() * 3 > c.lease_seconds() + 1e-9)
      return Status::InvalidArgument(
          "claim.heartbeat_seconds " + FormatDouble(n.heartbeat_seconds()) +
          " is more than a third of the lease" + of + FormatDouble(c.lease_seconds()) +
          " s), which may still run: they would judge the new "
          "version's trials stale");
    if (c.heartbeat_seconds() * 3 > n.lease_seconds() + 1e-9)
      return Status::InvalidArgument("claim.lease_seconds " + FormatDouble(n.lease_seconds()) +
                                     " is less than three heartbeats" + of +
                                     FormatDouble(c.heartbeat_seconds()) +
                                     " s), which may still run: their trials would be judged "
                                     "stale");
  }
  return Status::OK();
}

}  // namespace

Status PlanExtension(const SweepPoints& current, const SweepSpec& next, ExtendPlan* plan,
                     const std::function<void(uint64_t, uint64_t)>& progress) {
  *plan = ExtendPlan();
  if (google::protobuf::util::MessageDifferencer::Equals(current.spec(), next)) {
    plan->unchanged = true;
    return Status::OK();
  }
  CS_RETURN_IF_ERROR(CheckSameTask(current.spec(), next));
  CS_RETURN_IF_ERROR(CheckLeases(current, next));
  auto space = PointSpace::Create(next);
  if (!space.ok()) return space.status();

  // The sweep's points, as a multiset of keys (a grid may repeat a value).
  std::unordered_map<Key, uint64_t, KeyHash> have;
  have.reserve(current.size());
  for (uint64_t i = 0; i < current.size(); ++i) ++have[KeyOf(current.At(i))];

  // The new spec's points in its order: a known one uses up its key; the
  // others are new, listed as strided runs.
  SpecVersion& rec = plan->record;
  const uint64_t total = space->size();
  for (uint64_t j = 0; j < total; ++j) {
    if (progress && (j & 0xfffff) == 0) progress(j, total);
    auto it = have.find(KeyOf(space->At(j)));
    if (it != have.end() && it->second > 0) {
      --it->second;
      continue;
    }
    const int n = rec.new_points_size();
    IndexRun* last = n > 0 ? rec.mutable_new_points(n - 1) : nullptr;
    if (last != nullptr && last->count() == 1) {
      last->set_stride(j - last->start());
      last->set_count(2);
    } else if (last != nullptr && j == last->start() + last->count() * last->stride()) {
      last->set_count(last->count() + 1);
    } else {
      IndexRun* r = rec.add_new_points();
      r->set_start(j);
      r->set_count(1);
      r->set_stride(1);
    }
    ++plan->added;
  }
  if (progress) progress(total, total);
  // Every point of the sweep must still be there. Only when one is missing
  // are the sweep's points walked again, to name the first.
  bool missing = false;
  for (const auto& [key, left] : have) missing = missing || left > 0;
  for (uint64_t i = 0; missing && i < current.size(); ++i) {
    const Point p = current.At(i);
    auto it = have.find(KeyOf(p));
    if (it->second == 0) continue;
    return Status::InvalidArgument(
        "point " + std::to_string(i) + " (" + Describe(p) +
        ") is not a point of the new spec: a new version must keep every point of the sweep, "
        "with the same values (it may add values, branches, samples; a spec frozen before "
        "format_version 3 draws random values by index, so only grid values appended last "
        "keep them)");
  }
  // SHA promotes the top 1/reduction of each rung: a rung's size, and so who
  // is promoted, depends on how many points there are. ASHA's decisions use
  // only the results published so far, so its sweeps may grow.
  const EarlyStopping& es = current.spec().early_stopping();
  if (plan->added > 0 && es.has_asha() && es.asha().synchronous())
    return Status::InvalidArgument(
        "the sweep uses synchronous early stopping (SHA), whose promotions depend on the number "
        "of points, so no point can be added (a version may still change claim settings and "
        "resources); start a new sweep, or use asynchronous early stopping (ASHA, "
        "synchronous: false), which may grow");
  if (current.size() + plan->added > (uint64_t{1} << 32))
    return Status::InvalidArgument("the extended sweep would have more than 2^32 points");
  rec.set_format_version(1);
  rec.set_version(current.version() + 1);
  rec.set_base_sha256(current.sha256());
  rec.set_first_index(current.size());
  rec.set_points(current.size() + plan->added);
  rec.set_created_at(NowIso8601());
  const struct passwd* pw = ::getpwuid(::geteuid());
  rec.set_created_by((pw != nullptr ? std::string(pw->pw_name) : std::to_string(::geteuid())) +
                     "@" + HostName());
  *rec.mutable_spec() = next;
  return Status::OK();
}

Status PublishExtension(Env* env, const SweepLayout& layout, const ExtendPlan& plan,
                        const std::string& token) {
  const std::string text = VersionFileText(plan.record);
  Status s = env->CreateDir(layout.versions_dir());
  if (!s.ok() && !s.IsAlreadyExists()) return s;
  // Whole and durable before it becomes visible, and one winner: the
  // commit's own primitive (link of an fsync'ed temp file).
  const std::string tmp = layout.tmp_path(token, ".version");
  CS_RETURN_IF_ERROR(env->CreateExclusive(tmp, text, /*sync=*/true));
  s = PublishFile(env, tmp, layout.version_path(plan.record.version()), text);
  env->RemoveFile(tmp).IgnoreError();
  if (s.IsAlreadyExists())
    return Status::AlreadyExists(
        layout.relative(layout.version_path(plan.record.version())) +
        " was published by another `sweep extend` while this one ran; run it again (it compares "
        "the new spec with that version)");
  return s;
}

}  // namespace claimsweep
