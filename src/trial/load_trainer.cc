// RunTraining for `trial`: loads the libtorch trainer module
// (libclaimsweep_trainer.so, built beside `trial`) on first use, so command
// trials never load libtorch. A build without libtorch has no module, and
// train tasks fail with a message that says so.
#include <dlfcn.h>
#include <limits.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "train/train_task.h"

namespace claimsweep {
namespace {

using Entry = void (*)(const TrainRequest*, TrainOutcome*, Status*);

std::string ModulePath() {
  if (const char* p = std::getenv("CLAIMSWEEP_TRAINER")) return p;
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "libclaimsweep_trainer.so";
  std::string self(buf, static_cast<size_t>(n));
  return self.substr(0, self.rfind('/')) + "/libclaimsweep_trainer.so";
}

}  // namespace

Status RunTraining(const TrainRequest& req, TrainOutcome* out) {
  static Entry entry = nullptr;
  static std::string error;
  if (entry == nullptr && error.empty()) {
    const std::string path = ModulePath();
    void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      const char* why = ::dlerror();
      error = "cannot load the trainer " + path + " (" + (why ? why : "?") +
              "): this `trial` was built without libtorch (CLAIMSWEEP_WITH_TORCH=OFF), or the "
              "module is missing "
              "beside it; rebuild with libtorch";
    } else if ((entry = reinterpret_cast<Entry>(::dlsym(h, "claimsweep_run_training"))) ==
               nullptr) {
      error =
          path + " has no claimsweep_run_training: it is from another claimsweep version; rebuild";
    }
  }
  if (entry == nullptr) return Status::Unsupported(error);
  Status s;
  entry(&req, out, &s);
  return s;
}

}  // namespace claimsweep
