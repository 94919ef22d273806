// fd-level helpers shared by the POSIX Envs (posix_env.cc, sweep_env.cc).
// Internal to the filesystem layer: everything else goes through Env.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/env.h"

namespace claimsweep {

// write(2) until done; `path` names the file in errors.
Status WriteFd(int fd, const std::string& data, const std::string& path);
// Reads `fd` to EOF in one allocation of its size. Corruption, naming `path`
// and the size, if it holds more than `max_bytes` (0: no limit).
// `known`: the descriptor's fstat, when the caller has it (saves the call).
Status ReadFd(int fd, const std::string& path, uint64_t max_bytes, std::string* data,
              const struct stat* known = nullptr);
// The last `max_bytes` of a regular file.
Status ReadFdTail(int fd, const std::string& path, uint64_t max_bytes, std::string* data);
// Large files are mapped (page cache, no copy), small ones read.
Status MapOrReadFd(int fd, const std::string& path, std::string_view* data,
                   std::shared_ptr<const void>* owner);
void FillFileInfo(const struct stat& st, FileInfo* info);
// A name unique to this process for a temp file beside `path`.
std::string TempNameFor(const std::string& path);

}  // namespace claimsweep
