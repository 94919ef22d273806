#include "core/sweep_points.h"

#include <algorithm>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>

#include "core/sha256.h"
#include "core/spec.h"

namespace claimsweep {
namespace {

using google::protobuf::TextFormat;
using google::protobuf::util::MessageDifferencer;

constexpr uint32_t kVersionRecordFormat = 1;
// A version file holds runs, not points: even a sweep of millions of points
// needs few (a product's new points form strided runs). The bound keeps a
// planted huge file from being read whole.
constexpr uint64_t kMaxVersionFileBytes = uint64_t{256} << 20;
const char kDigestPrefix[] = "# sha256 ";

const char kInsteadOfEditing[] =
    "restore it, or remove it if no trial ran under it (a version's points "
    "are never removed otherwise); versions are published by `sweep extend` only";

}  // namespace

std::string PointKey(const Point& p) {
  std::vector<std::pair<std::string, std::string>> v = p.values;
  std::sort(v.begin(), v.end());
  std::string key;
  for (const auto& [name, value] : v) {
    // Names are identifiers; values are arbitrary text: length-prefix them.
    key += name;
    key += '=';
    key += std::to_string(value.size());
    key += ':';
    key += value;
    key += '\n';
  }
  return key;
}

std::string VersionFileText(const SpecVersion& record) {
  std::string body;
  TextFormat::PrintToString(record, &body);
  body = "# Published by `sweep extend`; do not edit (the sweep's points depend on it).\n" + body;
  return body + kDigestPrefix + Sha256Hex(body) + "\n";
}

Status ParseVersionFile(const std::string& text, const std::string& path, SpecVersion* record) {
  const std::string torn = path + " is not a whole spec version as `sweep extend` writes it";
  if (text.empty() || text.back() != '\n') return Status::Corruption(torn + " (no digest line)");
  const size_t start = text.rfind('\n', text.size() - 2);
  const size_t line = start == std::string::npos ? 0 : start + 1;
  const std::string last = text.substr(line, text.size() - 1 - line);
  const size_t prefix = sizeof(kDigestPrefix) - 1;
  if (last.size() != prefix + 64 || last.compare(0, prefix, kDigestPrefix) != 0)
    return Status::Corruption(torn + " (no digest line)");
  const std::string body = text.substr(0, line);
  if (Sha256Hex(body) != last.substr(prefix))
    return Status::Corruption(path + " was changed after `sweep extend` wrote it (its SHA-256 " +
                              "no longer matches its last line): " + kInsteadOfEditing);
  struct Quiet : google::protobuf::io::ErrorCollector {
    std::string first;
    void AddError(int line, int col, const std::string& m) override {
      if (first.empty())
        first = std::to_string(line + 1) + ":" + std::to_string(col + 1) + ": " + m;
    }
  } errors;
  TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(body, record))
    return Status::Corruption(path + ":" + errors.first + " (" + kInsteadOfEditing + ")");
  if (record->format_version() != kVersionRecordFormat)
    return Status::Corruption(path + " has format_version " +
                              std::to_string(record->format_version()) +
                              "; this claimsweep reads version " +
                              std::to_string(kVersionRecordFormat) + " (a newer one wrote it?)");
  return Status::OK();
}

namespace {

// Stages are frozen: the items already made ran as the sweep's stages say.
// Only a stage's resources (what `sweep submit --stage` asks Slurm for) may
// change, as the sweep's may.
Status CheckSameStages(const SweepSpec& before, const SweepSpec& after) {
  auto changed = [](const std::string& what) {
    return Status::InvalidArgument(
        "the stages changed (" + what +
        "); a sweep's stages are frozen at `sweep init` (their items ran as written), so only "
        "a stage's resources may change (start a new sweep for other stages)");
  };
  const int n = std::min(before.stage_size(), after.stage_size());
  for (int k = 0; k < n; ++k) {
    const Stage& a = before.stage(k);
    const Stage& b = after.stage(k);
    const std::string at = "stage " + std::to_string(k + 1) + ", '" + a.name() + "'";
    if (a.name() != b.name()) return changed(at + ", is now named '" + b.name() + "'");
    Stage x = a, y = b;
    x.clear_resources();
    y.clear_resources();
    if (MessageDifferencer::Equals(x, y)) continue;
    x.clear_task();
    y.clear_task();
    return changed(at + ": its " + (MessageDifferencer::Equals(x, y) ? "task" : "input") +
                   " differs");
  }
  if (before.stage_size() > n) return changed("stage '" + before.stage(n).name() + "' was removed");
  if (after.stage_size() > n) return changed("stage '" + after.stage(n).name() + "' was added");
  return Status::OK();
}

}  // namespace

Status CheckSameTask(const SweepSpec& before, const SweepSpec& after) {
  auto same = [](const google::protobuf::Message& a, const google::protobuf::Message& b) {
    return MessageDifferencer::Equals(a, b);
  };
  if (before.task_case() != after.task_case())
    return Status::InvalidArgument("the task changed (from a " +
                                   std::string(before.has_train() ? "train" : "command") +
                                   " task to a " + (after.has_train() ? "train" : "command") +
                                   " task); a sweep's trials must all run the same task");
  // Before the train task: with early stopping its epochs is max_epochs.
  if (!same(before.early_stopping(), after.early_stopping()))
    return Status::InvalidArgument(
        "the early_stopping changed; the sweep's rungs and promotions so far followed the old "
        "one, so it cannot change (start a new sweep for other rungs or another metric)");
  if (before.has_command() && !same(before.command(), after.command()))
    return Status::InvalidArgument(
        "the command changed; the trials already run ran the old one, so it cannot change (start "
        "a new sweep for a new command)");
  if (before.has_train() && !same(before.train(), after.train()))
    return Status::InvalidArgument(
        "the train task changed; the trials already run trained with the old settings, so it "
        "cannot change (vary a setting as a parameter of new points instead)");
  CS_RETURN_IF_ERROR(CheckSameStages(before, after));
  if (before.spec_dir() != after.spec_dir())
    return Status::InvalidArgument("its spec_dir changed (from " + before.spec_dir() + " to " +
                                   after.spec_dir() + "): {spec_dir} would change");
  if (before.name() != after.name())
    return Status::InvalidArgument("the sweep's name changed (from '" + before.name() + "' to '" +
                                   after.name() + "')");
  if (before.seed() != after.seed())
    return Status::InvalidArgument("the seed changed (from " + std::to_string(before.seed()) +
                                   " to " + std::to_string(after.seed()) +
                                   "): every random value would change");
  if (before.format_version() != after.format_version())
    return Status::InvalidArgument("the spec format_version changed");
  if (!same(before.security(), after.security()))
    return Status::InvalidArgument("the security settings changed");
  return Status::OK();
}

Result<SweepPoints> SweepPoints::FromSpec(const SweepSpec& spec) {
  auto space = PointSpace::Create(spec);
  if (!space.ok()) return space.status();
  SweepPoints sp;
  Version v;
  v.number = 1;
  v.spec = spec;
  v.points = space->size();
  v.space = std::move(*space);
  sp.AddNames(v.space);
  sp.versions_.push_back(std::move(v));
  return sp;
}

Result<SweepPoints> SweepPoints::Load(Env* env, const SweepLayout& layout, const SweepSpec& base,
                                      const std::string& base_text) {
  auto sp = FromSpec(base);
  if (!sp.ok()) return sp;
  sp->versions_.back().sha256 = Sha256Hex(base_text);
  bool grew = false;
  CS_RETURN_IF_ERROR(sp->Refresh(env, layout, &grew));
  return sp;
}

void SweepPoints::AddNames(const PointSpace& space) {
  for (const std::string& n : space.names()) {
    if (std::find(names_.begin(), names_.end(), n) == names_.end()) names_.push_back(n);
  }
}

Status SweepPoints::Refresh(Env* env, const SweepLayout& layout, bool* grew) {
  const uint64_t before = size();
  for (;;) {
    bool found = false;
    CS_RETURN_IF_ERROR(LoadVersion(env, layout, version() + 1, &found));
    if (!found) break;
  }
  *grew = size() > before;
  return Status::OK();
}

Status SweepPoints::LoadVersion(Env* env, const SweepLayout& layout, uint32_t number, bool* found) {
  *found = false;
  const std::string path = layout.version_path(number);
  FileInfo info;
  Status s = env->Stat(path, &info);
  if (s.IsNotFound()) return Status::OK();
  CS_RETURN_IF_ERROR(s);
  if (info.is_dir || info.is_symlink || info.size > kMaxVersionFileBytes)
    return Status::Corruption(layout.relative(path) +
                              " is not a spec version file (a directory, a symlink or too big)");
  std::string text;
  CS_RETURN_IF_ERROR(env->ReadFile(path, &text));
  const std::string rel = layout.relative(path);
  SpecVersion rec;
  CS_RETURN_IF_ERROR(ParseVersionFile(text, rel, &rec));
  const Version& prev = versions_.back();
  auto broken = [&](const std::string& why) {
    return Status::Corruption(rel + " " + why + "; " + kInsteadOfEditing);
  };
  if (rec.version() != number) return broken("says it is version " + std::to_string(rec.version()));
  if (rec.base_sha256() != prev.sha256)
    return broken("extends another spec than version " + std::to_string(prev.number) +
                  " (base_sha256 differs)");
  if (rec.first_index() != prev.points)
    return broken("starts at point " + std::to_string(rec.first_index()) + ", not at " +
                  std::to_string(prev.points));
  SweepSpec spec = rec.spec();
  Status same = CheckSameTask(versions_.front().spec, spec);
  if (!same.ok()) return broken("changes the sweep: " + same.message());
  // The spec was validated by `sweep extend`; its defaults are in it already.
  auto space = PointSpace::Create(spec);
  if (!space.ok()) return broken(space.status().message());
  Version v;
  v.number = number;
  v.first = prev.points;
  uint64_t n = 0;
  for (const IndexRun& r : rec.new_points()) {
    const uint64_t stride = r.count() > 1 ? r.stride() : 1;
    if (r.count() == 0 || stride == 0 || r.start() >= space->size() ||
        (r.count() - 1) > (space->size() - 1 - r.start()) / stride)
      return broken("lists new points outside its spec's " + std::to_string(space->size()));
    v.run_first.push_back(n);
    v.runs.push_back(r);
    n += r.count();
  }
  if (v.first + n != rec.points() || rec.points() > (uint64_t{1} << 32))
    return broken("says it has " + std::to_string(rec.points()) + " points, but lists " +
                  std::to_string(n) + " new ones after " + std::to_string(v.first));
  v.points = rec.points();
  v.spec = std::move(spec);
  v.space = std::move(*space);
  v.sha256 = Sha256Hex(text);
  AddNames(v.space);
  versions_.push_back(std::move(v));
  *found = true;
  return Status::OK();
}

Result<SweepPoints> ReadSweepPoints(Env* env, const std::string& sweep_dir) {
  std::string text;
  auto spec = ReadFrozenSpec(env, sweep_dir, &text);
  if (!spec.ok()) return spec.status();
  return SweepPoints::Load(env, SweepLayout(sweep_dir), *spec, text);
}

uint32_t SweepPoints::version_of(uint64_t index) const {
  for (const Version& v : versions_) {
    if (index < v.points) return v.number;
  }
  return versions_.back().number;
}

Point SweepPoints::At(uint64_t index) const {
  const Version* v = &versions_.front();
  for (const Version& x : versions_) {
    v = &x;
    if (index < x.points) break;
  }
  if (v->number == 1) return v->space.At(index);
  const uint64_t k = index - v->first;
  // The run holding k: the last whose first point is <= k.
  const size_t r = static_cast<size_t>(
      std::upper_bound(v->run_first.begin(), v->run_first.end(), k) - v->run_first.begin() - 1);
  const IndexRun& run = v->runs[r];
  Point p = v->space.At(run.start() + (k - v->run_first[r]) * run.stride());
  p.index = index;
  return p;
}

}  // namespace claimsweep
