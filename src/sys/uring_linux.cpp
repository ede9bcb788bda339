#include "sys/uring_linux.hpp"

#include <utility>

namespace zcnet::sys {

UringRing& UringRing::operator=(UringRing&& other) noexcept {
  if (this != &other) {
    reset();
    ring_ = std::move(other.ring_);
  }
  return *this;
}

UringRing::~UringRing() {
  reset();
}

void UringRing::reset() noexcept {
  if (ring_) io_uring_queue_exit(ring_.get());
  ring_.reset();
}

int UringRing::init(unsigned entries, unsigned flags) noexcept {
  reset();
  auto ring = std::make_unique<io_uring>();
  if (int rc = io_uring_queue_init(entries, ring.get(), flags); rc < 0) return rc;
  ring_ = std::move(ring);
  return 0;
}

namespace {

struct Probe {
  std::unique_ptr<io_uring_probe, void (*)(io_uring_probe*)> p{io_uring_get_probe(),
                                                               io_uring_free_probe};
};

}  // namespace

bool uring_opcode_supported(int opcode) noexcept {
  static const Probe probe;  // thread-safe static init: one throwaway ring per process
  return probe.p && io_uring_opcode_supported(probe.p.get(), opcode) != 0;
}

}  // namespace zcnet::sys
