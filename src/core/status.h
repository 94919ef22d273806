// Status and Result<T>: the error currency at every module boundary.
//
// A Status is OK or carries a code and a message meant for a person: it names
// the file (and line, where there is one) and, where we know it, the fix.
//
// Both are [[nodiscard]] (and the build makes ignoring one an error): a
// caller handles the outcome, or says with IgnoreError() that the call was
// best effort (removing a temporary that a later pass also removes).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace claimsweep {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk,
    kNotFound,
    kAlreadyExists,    // an exclusive create lost the race
    kInvalidArgument,  // the user's spec or command line is wrong
    kCorruption,       // a file on disk is torn or malformed
    kIOError,
    kSuperseded,  // another process owns a newer attempt of this trial
    kPermissionDenied,
    kUnsupported,  // e.g. a format version this build does not know
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status AlreadyExists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
  static Status InvalidArgument(std::string m) {
    return Status(Code::kInvalidArgument, std::move(m));
  }
  static Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
  static Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
  static Status Superseded(std::string m) { return Status(Code::kSuperseded, std::move(m)); }
  static Status PermissionDenied(std::string m) {
    return Status(Code::kPermissionDenied, std::move(m));
  }
  static Status Unsupported(std::string m) { return Status(Code::kUnsupported, std::move(m)); }
  // From errno after a failed syscall on `path`.
  static Status FromErrno(const std::string& what, const std::string& path, int err);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsAlreadyExists() const { return code_ == Code::kAlreadyExists; }
  bool IsSuperseded() const { return code_ == Code::kSuperseded; }
  bool IsPermissionDenied() const { return code_ == Code::kPermissionDenied; }
  const std::string& message() const { return message_; }
  std::string ToString() const;
  // Marks a best-effort call whose failure changes nothing the caller owes.
  void IgnoreError() const {}

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Result<T>: a value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

#define CS_RETURN_IF_ERROR(expr)      \
  do {                                \
    ::claimsweep::Status _s = (expr); \
    if (!_s.ok()) return _s;          \
  } while (0)

}  // namespace claimsweep
