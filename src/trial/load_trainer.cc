// RunTraining and RunEvaluation for `trial`: load the libtorch trainer module
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
using EvalEntry = void (*)(const EvalRequest*, google::protobuf::Struct*, bool*, Status*);

std::string ModulePath() {
  if (const char* p = std::getenv("CLAIMSWEEP_TRAINER")) return p;
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "libclaimsweep_trainer.so";
  std::string self(buf, static_cast<size_t>(n));
  return self.substr(0, self.rfind('/')) + "/libclaimsweep_trainer.so";
}

// The module's entry point `name` (loading the module on first use); null
// with *error set when there is none.
void* TrainerSymbol(const char* name, std::string* error) {
  static void* handle = nullptr;
  static std::string load_error;
  if (handle == nullptr && load_error.empty()) {
    const std::string path = ModulePath();
    handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      load_error = "cannot load the trainer " + path + " (" + (why ? why : "?") +
                   "): this `trial` was built without libtorch (CLAIMSWEEP_WITH_TORCH=OFF), or "
                   "the module is missing beside it; rebuild with libtorch";
    }
  }
  if (handle == nullptr) {
    *error = load_error;
    return nullptr;
  }
  void* sym = ::dlsym(handle, name);
  if (sym == nullptr)
    *error = ModulePath() + " has no " + name + ": it is from another claimsweep version; rebuild";
  return sym;
}

}  // namespace

Status RunTraining(const TrainRequest& req, TrainOutcome* out) {
  static std::string error;
  static Entry entry = reinterpret_cast<Entry>(TrainerSymbol("claimsweep_run_training", &error));
  if (entry == nullptr) return Status::Unsupported(error);
  Status s;
  entry(&req, out, &s);
  return s;
}

Status RunEvaluation(const EvalRequest& req, google::protobuf::Struct* metrics, bool* interrupted) {
  static std::string error;
  static EvalEntry entry =
      reinterpret_cast<EvalEntry>(TrainerSymbol("claimsweep_run_evaluation", &error));
  if (entry == nullptr) return Status::Unsupported(error);
  Status s;
  entry(&req, metrics, interrupted, &s);
  return s;
}

}  // namespace claimsweep
