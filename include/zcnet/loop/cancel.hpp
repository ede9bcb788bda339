// Cancellation of pending loop operations, stop_token style: a CancelSource hands out tokens; an
// operation started with a token completes with ECANCELED once its source is cancelled.
// Unlike std::stop_source this is single-threaded: cancel() runs on the loop's own thread (use
// Loop::request_shutdown() from other threads). No locks, no atomics.
#pragma once

#include <memory>

namespace zcnet {

namespace detail {

// An intrusive registration in a source's list; unlinks itself when destroyed.
struct CancelLink {
  CancelLink* prev = nullptr;
  CancelLink* next = nullptr;
  void (*on_cancel)(CancelLink&) = nullptr;
  void* owner = nullptr;  // what on_cancel acts on

  CancelLink() = default;
  CancelLink(const CancelLink&) = delete;
  CancelLink& operator=(const CancelLink&) = delete;
  ~CancelLink() { unlink(); }
  bool linked() const noexcept { return prev != nullptr; }
  void unlink() noexcept {
    if (!prev) return;
    prev->next = next;
    next->prev = prev;
    prev = next = nullptr;
  }
};

struct CancelState {
  bool cancelled = false;
  CancelLink head;  // sentinel of a circular list

  CancelState() { head.prev = head.next = &head; }
  ~CancelState() {
    while (head.next != &head) head.next->unlink();
    head.prev = head.next = nullptr;
  }
  void add(CancelLink& link) noexcept {
    link.prev = head.prev;
    link.next = &head;
    head.prev->next = &link;
    head.prev = &link;
  }
  void cancel() {
    cancelled = true;
    // Each callback may complete other operations; unlink before calling so the list stays valid.
    while (head.next != &head) {
      CancelLink* l = head.next;
      l->unlink();
      l->on_cancel(*l);
    }
  }
};

}  // namespace detail

// Copyable, cheap when empty (the default: never cancelled).
class CancelToken {
 public:
  CancelToken() = default;
  bool cancelled() const noexcept { return state_ && state_->cancelled; }
  bool can_be_cancelled() const noexcept { return static_cast<bool>(state_); }
  detail::CancelState* state() const noexcept { return state_.get(); }

 private:
  friend class CancelSource;
  explicit CancelToken(std::shared_ptr<detail::CancelState> s) : state_(std::move(s)) {}
  std::shared_ptr<detail::CancelState> state_;
};

class CancelSource {
 public:
  CancelSource() : state_(std::make_shared<detail::CancelState>()) {}
  CancelToken token() const { return CancelToken(state_); }
  // Completes every pending operation started with a token of this source with ECANCELED, and
  // makes every later one fail at once. Idempotent.
  void cancel() { state_->cancel(); }
  bool cancelled() const noexcept { return state_->cancelled; }

 private:
  std::shared_ptr<detail::CancelState> state_;
};

}  // namespace zcnet
