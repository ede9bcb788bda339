// Which HTTP status an open() failure becomes: the client's fault (404, 403), the server being
// full (503), or anything unexpected (500, logged).
#include <gtest/gtest.h>

#include <cerrno>

#include "http/path.hpp"

namespace zcnet::http {
namespace {

TEST(OpenStatus, PermissionAndSymlinkErrors_403) {
  for (int code : {EACCES, EPERM, ELOOP, EXDEV})
    EXPECT_EQ(status_for_open_error(code), 403) << code;
}

TEST(OpenStatus, MissingPaths_404) {
  for (int code : {ENOENT, ENOTDIR, ENAMETOOLONG}) EXPECT_EQ(status_for_open_error(code), 404);
}

TEST(OpenStatus, OutOfDescriptors_503) {
  EXPECT_EQ(status_for_open_error(EMFILE), 503);
  EXPECT_EQ(status_for_open_error(ENFILE), 503);
}

TEST(OpenStatus, UnexpectedErrors_500) {
  for (int code : {ENXIO, EIO, ENODEV, EOVERFLOW})
    EXPECT_EQ(status_for_open_failure(Error(code, "openat2", "x"), "/x"), 500) << code;
}

}  // namespace
}  // namespace zcnet::http
