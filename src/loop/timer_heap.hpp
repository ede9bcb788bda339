// Private: a binary min-heap of intrusive timer nodes, ordered by (when, seq). Each node knows its
// index, so removing an op's deadline when the op completes first is O(log n) and leaves no stale
// entry behind (the node lives in a coroutine frame that may be gone later).
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "zcnet/loop/loop_op.hpp"

namespace zcnet::detail {

class TimerHeap {
 public:
  void push(TimerNode& n) {
    n.seq = next_seq_++;
    n.index = heap_.size();
    heap_.push_back(&n);
    up(n.index);
  }
  void remove(TimerNode& n) noexcept {
    if (!n.armed()) return;
    std::size_t i = n.index;
    std::size_t last = heap_.size() - 1;
    if (i != last) {
      place(i, heap_[last]);
      heap_.pop_back();
      down(i);
      up(i);
    } else {
      heap_.pop_back();
    }
    n.index = TimerNode::kNotArmed;
  }
  TimerNode* top() const noexcept { return heap_.empty() ? nullptr : heap_.front(); }
  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }
  // Forgets every node without touching them (they may be gone: loop teardown).
  void clear() noexcept { heap_.clear(); }

 private:
  static bool before(const TimerNode* a, const TimerNode* b) noexcept {
    return a->when != b->when ? a->when < b->when : a->seq < b->seq;
  }
  void place(std::size_t i, TimerNode* n) noexcept {
    heap_[i] = n;
    n->index = i;
  }
  void up(std::size_t i) noexcept {
    while (i > 0) {
      std::size_t parent = (i - 1) / 2;
      if (!before(heap_[i], heap_[parent])) break;
      TimerNode* p = heap_[parent];
      place(parent, heap_[i]);
      place(i, p);
      i = parent;
    }
  }
  void down(std::size_t i) noexcept {
    for (;;) {
      std::size_t l = 2 * i + 1, r = l + 1, m = i;
      if (l < heap_.size() && before(heap_[l], heap_[m])) m = l;
      if (r < heap_.size() && before(heap_[r], heap_[m])) m = r;
      if (m == i) break;
      TimerNode* t = heap_[m];
      place(m, heap_[i]);
      place(i, t);
      i = m;
    }
  }

  std::vector<TimerNode*> heap_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace zcnet::detail
