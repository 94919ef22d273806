#include "core/publish.h"

namespace claimsweep {

Status PublishDir(Env* env, const std::string& staged, const std::string& target) {
  Status s = env->Rename(staged, target);
  if (s.IsAlreadyExists() && !env->Exists(staged))
    return Status::OK();  // a retransmitted RENAME: ours
  // sshfs answers a rename onto a non-empty directory with EPERM (SFTP has
  // no ENOTEMPTY). Our staged directory still there and the target present:
  // another process published first, as with EEXIST.
  if (s.IsPermissionDenied() && env->Exists(staged) && env->Exists(target))
    return Status::AlreadyExists(s.message() +
                                 " (the target exists: published by another process)");
  return s;
}

Status PublishFile(Env* env, const std::string& staged, const std::string& target,
                   const std::string& data) {
  Status s = env->LinkExclusive(staged, target);
  if (!s.IsAlreadyExists()) return s;
  std::string there;
  if (env->ReadFileAtMost(target, data.size() + 1, &there).ok() && there == data)
    return Status::OK();
  return s;
}

Status ListLeaseEntries(Env* env, const SweepLayout& layout, std::vector<LeaseEntry>* entries) {
  entries->clear();
  std::vector<std::string> names;
  CS_RETURN_IF_ERROR(env->ListDir(layout.leases_dir(), &names));
  for (std::string& n : names) {
    LeaseEntry e;
    if (!layout.ParseLease(n, &e.index, &e.attempt, &e.mark)) continue;
    e.name = std::move(n);
    entries->push_back(std::move(e));
  }
  return Status::OK();
}

uint64_t RemoveLeaseEntries(Env* env, const SweepLayout& layout,
                            const std::vector<LeaseEntry>& entries, uint64_t index,
                            uint64_t below) {
  uint64_t removed = 0;
  for (const LeaseEntry& e : entries) {
    if (e.index == index && e.attempt < below &&
        env->RemoveFile(layout.lease_entry_path(e.name)).ok())
      ++removed;
  }
  return removed;
}

}  // namespace claimsweep
