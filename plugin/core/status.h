// Errors as values inside the core (modelled on leveldb's Status). Converted to
// danvan_status codes only at the ABI boundary (plugin/abi).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace danvan {

class Status {
 public:
  enum class Code { kOk = 0, kRetryLater, kInvalidInput, kNotFound, kConflict, kIoError, kInternal };

  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status RetryLater(std::string msg) { return Status(Code::kRetryLater, std::move(msg)); }
  static Status InvalidInput(std::string msg) { return Status(Code::kInvalidInput, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Conflict(std::string msg) { return Status(Code::kConflict, std::move(msg)); }
  static Status IoError(std::string msg) { return Status(Code::kIoError, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or an error. Result<T> r = T{...}; or Result<T> r = Status::NotFound("...").
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}                         // NOLINT
  Result(Status status) : status_(std::move(status)) {}                 // NOLINT (must not be OK)
  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace danvan
