#include "core/security.h"

#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "core/asha_spec.h"
#include "core/rungs.h"

namespace claimsweep {
namespace {

std::string Join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

std::string Octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

}  // namespace

std::vector<std::string> StageNames(const SweepSpec& spec) {
  std::vector<std::string> names;
  for (const Stage& st : spec.stage()) names.push_back(st.name());
  // Early stopping's rungs above the bottom one are queues too (core/rungs.h).
  if (spec.early_stopping().has_asha()) {
    const size_t rungs = AshaRungBudgets(spec.early_stopping().asha()).size();
    for (uint32_t k = 1; k < rungs; ++k) names.push_back(RungStageName(k));
  }
  return names;
}

Status CheckSweepSafety(Env* env, const SweepLayout& layout, bool allow_shared, uint32_t euid,
                        const std::vector<std::string>& stages) {
  struct Item {
    std::string path;
    bool must_be_dir;
    bool may_be_symlink;  // the sweep root may be reached through a link (e.g. /scratch)
  };
  std::vector<Item> items = {
      {layout.root(), true, true},        {layout.spec_path(), false, false},
      {layout.trials_dir(), true, false}, {layout.leases_dir(), true, false},
      {layout.tmp_dir(), true, false},
  };
  // A stage's queue is claimed and written like trials/ and leases/.
  if (!stages.empty()) items.push_back({layout.stages_dir(), true, false});
  for (const std::string& name : stages) {
    const SweepLayout queue = SweepLayout::ForStage(layout.root(), name);
    items.push_back({queue.stage_dir(), true, false});
    items.push_back({queue.trials_dir(), true, false});
    items.push_back({queue.leases_dir(), true, false});
  }
  // Early stopping's score index (core/rungs.h): its names decide promotions.
  if (env->Exists(layout.root() + "/rungs")) {
    items.push_back({layout.root() + "/rungs", true, false});
    for (uint32_t k = 0; env->Exists(layout.root() + "/rungs/" + std::to_string(k)); ++k)
      items.push_back({layout.root() + "/rungs/" + std::to_string(k), true, false});
  }
  // `sweep extend`'s versions add points whose values reach the command.
  if (env->Exists(layout.versions_dir())) {
    items.push_back({layout.versions_dir(), true, false});
    for (uint32_t v = 2; env->Exists(layout.version_path(v)); ++v)
      items.push_back({layout.version_path(v), false, false});
  }
  const std::string optin =
      "or, to share this sweep on purpose, set `security { allow_shared: true }` in the spec";
  // Ownership and write permission: every offending path at once (a umask
  // makes them all wrong together), with one command that fixes them all.
  std::vector<std::string> foreign, writable, chmod_paths;
  for (const Item& it : items) {
    FileInfo info;
    Status s = env->Stat(it.path, &info);
    if (!s.ok()) return s;
    if (info.is_symlink && it.may_be_symlink) {
      // Judge what the link points at.
      struct stat st;
      if (::stat(it.path.c_str(), &st) != 0)
        return Status::NotFound(it.path + " is a dangling symlink");
      info.mode = st.st_mode;
      info.uid = st.st_uid;
      info.is_dir = S_ISDIR(st.st_mode);
      info.is_symlink = false;
    }
    if (info.is_symlink) {
      return Status::PermissionDenied(
          it.path +
          " is a symlink; claimsweep never creates files through one. Fix: "
          "replace it with a real " +
          std::string(it.must_be_dir ? "directory" : "file"));
    }
    if (it.must_be_dir != info.is_dir) {
      return Status::PermissionDenied(
          it.path + (it.must_be_dir ? " is not a directory" : " is not a regular file"));
    }
    if (allow_shared) continue;
    if (info.uid != euid) {
      foreign.push_back(it.path + " is owned by uid " + std::to_string(info.uid) +
                        ", not by you (uid " + std::to_string(euid) + ")");
    }
    if (info.mode & (S_IWGRP | S_IWOTH)) {
      writable.push_back(it.path + " is writable by " +
                         std::string((info.mode & S_IWOTH) ? "others" : "group") + " (mode " +
                         Octal(info.mode) + ")");
      chmod_paths.push_back("'" + it.path + "'");
    }
  }
  if (foreign.empty() && writable.empty()) return Status::OK();
  std::string m;
  if (!foreign.empty()) {
    m = Join(foreign, ", ") +
        "; a command task runs what this sweep's spec says. Fix: use your own sweep directory, " +
        optin;
  }
  if (!writable.empty()) {
    m += std::string(m.empty() ? "" : ". Also: ") + Join(writable, ", ") +
         "; anyone who can write " + (writable.size() == 1 ? "it" : "them") +
         " can make your jobs run their commands. Fix: chmod go-w " + Join(chmod_paths, " ") +
         ", " + optin;
  }
  return Status::PermissionDenied(m);
}

}  // namespace claimsweep
