// The Python edge of zcnet::Error: a C++ exception that the module turns into an OSError (whose
// constructor picks the subclass from the errno: BrokenPipeError, ConnectionResetError, ...).
#pragma once

#include <string>
#include <utility>

#include "zcnet/sys/error.hpp"

namespace zcnet::py {

struct OsError {
  int code;
  std::string message;  // "sendfile: EPIPE (Broken pipe): file /tmp/a -> peer 127.0.0.1:9000"
};

[[noreturn]] inline void raise(const Error& e) {
  throw OsError{e.code(), e.message()};
}

template <class T>
T check(Result<T> r) {
  if (!r) raise(r.error());
  return std::move(r).value();
}
inline void check(Result<void> r) {
  if (!r) raise(r.error());
}

}  // namespace zcnet::py
