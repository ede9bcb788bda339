// Errors are values: an errno, the operation that failed, and what it failed on.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace zcnet {

// Invariant: code() is always an errno value (never 0 for an error). zcnet-specific conditions map
// onto the nearest errno: ENODATA = source ended before its stated length (file truncated),
// ENOBUFS = pool exhausted, EOPNOTSUPP = strategy cannot handle this endpoint pair.
class Error {
 public:
  Error(int code, std::string_view op, std::string context = {})
      : code_(code), op_(op), context_(std::move(context)) {}

  int code() const noexcept { return code_; }
  std::string_view op() const noexcept { return op_; }
  const std::string& context() const noexcept { return context_; }
  // "ECONNRESET", "EPIPE", ...; "E?" for an unknown value.
  std::string_view errno_name() const noexcept;
  // "sendfile: EPIPE (Broken pipe): /tmp/a.bin -> peer 127.0.0.1:9000"
  std::string message() const;

 private:
  int code_;
  std::string_view op_;  // always a string literal
  std::string context_;
};

std::string_view errno_name(int code) noexcept;

// Error from the current errno, built on the error path only (it may allocate).
Error last_error(std::string_view op, std::string context = {});

// "file /tmp/x", "peer 127.0.0.1:9000", "pipe", "fd 7": for error contexts only (does syscalls).
std::string describe_fd(int fd);

// A minimal expected<T, Error> (std::expected needs C++23).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_{0, ""};
  bool ok_ = true;
};

}  // namespace zcnet
