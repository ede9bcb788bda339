// The one reader of ZCNET_DISABLE: each name turns off what it names and nothing else.
#include "zcnet/sys/capabilities.hpp"

#include <gtest/gtest.h>

namespace zcnet {
namespace {

Capabilities everything() {
  Capabilities c;
  c.sendfile = c.splice = c.tee = c.msg_zerocopy = true;
  c.io_uring = c.uring_send = c.uring_send_zc = c.uring_splice = true;
  c.uring_fixed_buffers = c.uring_loop = true;
  return c;
}

TEST(CapabilitiesDisable, UringAndIoUring_TurnOffEveryIoUringFeatureAndTheLoopBackend) {
  for (const char* name : {"uring", "io_uring"}) {
    Capabilities c = everything();
    EXPECT_TRUE(c.disable(name)) << name;
    EXPECT_FALSE(c.io_uring || c.uring_send || c.uring_send_zc || c.uring_splice ||
                 c.uring_fixed_buffers || c.uring_loop)
        << name;
    EXPECT_TRUE(c.sendfile && c.splice && c.tee && c.msg_zerocopy) << name;
  }
}

TEST(CapabilitiesDisable, AStrategyName_TurnsOffOnlyWhatThatStrategyNeeds) {
  struct Case {
    const char* name;
    bool Capabilities::*field;
  };
  for (auto [name, field] :
       {Case{"sendfile", &Capabilities::sendfile}, Case{"splice", &Capabilities::splice},
        Case{"tee", &Capabilities::tee}, Case{"msg-zerocopy", &Capabilities::msg_zerocopy},
        Case{"uring-send", &Capabilities::uring_send},
        Case{"uring-send-zc", &Capabilities::uring_send_zc},
        Case{"uring-splice", &Capabilities::uring_splice}}) {
    Capabilities c = everything();
    EXPECT_TRUE(c.disable(name)) << name;
    EXPECT_FALSE(c.*field) << name;
    Capabilities expected = everything();
    expected.*field = false;
    EXPECT_EQ(c.sendfile, expected.sendfile) << name;
    EXPECT_EQ(c.splice, expected.splice) << name;
    EXPECT_EQ(c.tee, expected.tee) << name;
    EXPECT_EQ(c.msg_zerocopy, expected.msg_zerocopy) << name;
    EXPECT_EQ(c.uring_send, expected.uring_send) << name;
    EXPECT_EQ(c.uring_send_zc, expected.uring_send_zc) << name;
    EXPECT_EQ(c.uring_splice, expected.uring_splice) << name;
    EXPECT_TRUE(c.io_uring && c.uring_loop) << name << " leaves the io_uring loop on";
  }
}

TEST(CapabilitiesDisable, List_AppliesEachNameAndReturnsTheUnknownOnes) {
  Capabilities c = everything();
  EXPECT_EQ(c.disable_list("sendfile,,bogus,uring,read-write"), "bogus,read-write");
  EXPECT_FALSE(c.sendfile);
  EXPECT_FALSE(c.uring_loop);
  EXPECT_TRUE(c.splice);
  Capabilities d = everything();
  EXPECT_FALSE(d.disable("Sendfile")) << "names are exact, as the strategy names are";
  EXPECT_TRUE(d.sendfile);
}

}  // namespace
}  // namespace zcnet
