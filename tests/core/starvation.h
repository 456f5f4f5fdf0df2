// Starvation checks for reader-writer locks (issue 16): threads loop on one side of a lock,
// without pausing and with their critical sections overlapping, while the calling thread must get
// a number of turns on the other side within a deadline. A watchdog stops the loopers at the
// deadline, so a starved side makes the check report how far it got instead of hanging.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace danvan::testing {

// Called inside a critical section: stays until another thread has entered the same section
// after this one, or `hold` has passed. Threads looping on a lock that lets newcomers in while
// the other side waits then keep the section occupied hand over hand, forever (the section is
// empty only when a holder times out with no newcomer able to run for `hold`); under a fair lock
// newcomers queue behind the waiter, so each turn costs the waiter at most about `hold`.
class HandOverHand {
 public:
  explicit HandOverHand(std::chrono::milliseconds hold) : hold_(hold) {}
  void Hold() {
    const uint64_t me = entries_.fetch_add(1);
    const auto until = std::chrono::steady_clock::now() + hold_;
    while (entries_.load() == me + 1 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  }

 private:
  const std::chrono::milliseconds hold_;
  std::atomic<uint64_t> entries_{0};
};

// Runs `loopers` threads calling looper() back to back while another thread calls turn() `turns`
// times; returns how many turns had finished at `deadline` (or when all had). The loopers are
// stopped then, so this returns even when turn() is starved.
template <class Looper, class Turn>
int TurnsBeforeDeadline(int loopers, Looper looper, int turns, Turn turn, std::chrono::seconds deadline) {
  std::atomic<bool> stop{false};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < loopers; ++i)
    threads.emplace_back([&] {
      while (!stop.load()) looper();
    });
  std::thread taker([&] {
    for (int i = 0; i < turns; ++i) {
      turn();
      done.fetch_add(1);
    }
  });
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (done.load() < turns && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const int finished = done.load();
  stop = true;
  for (auto& t : threads) t.join();
  taker.join();
  return finished;
}

}  // namespace danvan::testing
