// Status: the result of an operation that can fail, carried up with context and shown to the user as one
// sentence. Modelled on LevelDB's Status. A Status is cheap to copy when ok (no allocation).
//
// Messages name the file / tensor / line involved and say what to do, e.g.
//   "model-00002-of-00004.safetensors: header length 9e12 exceeds file size 4.9 GB (truncated download?)"
#pragma once

#include <memory>
#include <string>
#include <utility>

namespace fm {

class Status {
 public:
  enum class Code { kOk = 0, kInvalidArgument, kNotFound, kCorruption, kIOError, kUnsupported, kInternal };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return Status(Code::kInvalidArgument, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status Unsupported(std::string msg) { return Status(Code::kUnsupported, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return msg_; }
  // The message, or "ok".
  std::string ToString() const { return ok() ? "ok" : msg_; }

  // Returns a copy with the same code and message `msg` (an error re-worded for the user); ok stays ok.
  Status WithMessage(std::string msg) const {
    if (ok()) return *this;
    return Status(code_, std::move(msg));
  }

  // Returns a copy whose message is "<prefix>: <message>" (adds the file or stage the error happened in).
  Status WithPrefix(const std::string& prefix) const {
    if (ok()) return *this;
    return Status(code_, prefix + ": " + msg_);
  }

 private:
  Status(Code c, std::string msg) : code_(c), msg_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string msg_;
};

// A value or the Status explaining why there is none.
template <typename T>
class StatusOr {
 public:
  StatusOr(Status s) : status_(std::move(s)) {}  // NOLINT: implicit by design, like absl::StatusOr
  StatusOr(T v) : value_(std::make_unique<T>(std::move(v))) {}  // NOLINT
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T& operator*() { return *value_; }
  T* operator->() { return value_.get(); }
  const T* operator->() const { return value_.get(); }

 private:
  Status status_;
  std::unique_ptr<T> value_;
};

}  // namespace fm

// Returns early from the enclosing function when `expr` is an error Status.
#define FM_RETURN_IF_ERROR(expr)         \
  do {                                   \
    ::fm::Status _fm_s = (expr);         \
    if (!_fm_s.ok()) return _fm_s;       \
  } while (0)
