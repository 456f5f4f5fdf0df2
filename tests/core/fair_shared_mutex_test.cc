// FairSharedMutex (issue 16): neither side starves the other, and it excludes like a
// std::shared_mutex. The starvation checks stop their loopers at a deadline (a starved side
// fails the test, it does not hang it).
#include "core/fair_shared_mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "core/starvation.h"

namespace danvan {
namespace {

using namespace std::chrono_literals;

// Readers loop, overlapping hand over hand (a reader-preferring lock, glibc's default, never lets
// the writer in); the writer must get its 40 turns, each costing about one reader's hold (50 ms).
TEST(FairSharedMutexTest, AWriterGetsItsTurnsWhileReadersLoopOverlapping) {
  FairSharedMutex mu;
  int64_t a = 0, b = 0;
  std::atomic<int> torn{0};
  testing::HandOverHand overlap(50ms);
  const int turns = testing::TurnsBeforeDeadline(
      4,
      [&] {
        std::shared_lock l(mu);
        if (a != b) torn.fetch_add(1);
        overlap.Hold();
      },
      40,
      [&] {
        std::unique_lock l(mu);
        ++a;
        ++b;
      },
      60s);
  EXPECT_EQ(turns, 40) << "the writer was starved by looping readers";
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(a, 40);
}

// Writers loop, one always queued behind the other (a writer-preferring lock such as glibc's
// PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP never lets the reader in); the reader must get its
// 20 turns, each after at most the writer holding the lock.
TEST(FairSharedMutexTest, AReaderGetsItsTurnsWhileWritersLoop) {
  FairSharedMutex mu;
  int64_t a = 0, b = 0;
  std::atomic<int> torn{0};
  const int turns = testing::TurnsBeforeDeadline(
      2,
      [&] {
        std::unique_lock l(mu);
        ++a;
        std::this_thread::sleep_for(5ms);
        ++b;
      },
      20,
      [&] {
        std::shared_lock l(mu);
        if (a != b) torn.fetch_add(1);
      },
      60s);
  EXPECT_EQ(turns, 20) << "the reader was starved by looping writers";
  EXPECT_EQ(torn.load(), 0);
}

// Many readers and writers at once: writers see no reader and no other writer inside, readers
// no writer.
TEST(FairSharedMutexTest, ExcludesUnderContention) {
  FairSharedMutex mu;
  std::atomic<int> readers{0}, writers{0}, violations{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        if ((t + i) % 4 == 0) {
          std::unique_lock l(mu);
          if (writers.fetch_add(1) != 0 || readers.load() != 0) violations.fetch_add(1);
          std::this_thread::yield();
          writers.fetch_sub(1);
        } else {
          std::shared_lock l(mu);
          readers.fetch_add(1);
          if (writers.load() != 0) violations.fetch_add(1);
          std::this_thread::yield();
          readers.fetch_sub(1);
        }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(violations.load(), 0);
}

TEST(FairSharedMutexTest, TryLocks) {
  FairSharedMutex mu;
  ASSERT_TRUE(mu.try_lock_shared());
  EXPECT_TRUE(mu.try_lock_shared());  // no writer waits: readers share
  EXPECT_FALSE(mu.try_lock());
  mu.unlock_shared();
  mu.unlock_shared();
  ASSERT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock_shared());
  mu.unlock();
  // A writer queued behind a reader holds newcomers back (try_lock_shared fails) until it has had
  // its turn; then readers enter again.
  mu.lock_shared();
  std::atomic<bool> wrote{false};
  std::thread writer([&] {
    std::unique_lock l(mu);
    wrote = true;
  });
  bool held_back = false;
  for (auto until = std::chrono::steady_clock::now() + 30s; !held_back && std::chrono::steady_clock::now() < until;) {
    if (mu.try_lock_shared()) {
      mu.unlock_shared();
      std::this_thread::sleep_for(1ms);
    } else {
      held_back = true;
    }
  }
  EXPECT_TRUE(held_back);
  EXPECT_FALSE(wrote.load());
  mu.unlock_shared();
  writer.join();
  EXPECT_TRUE(wrote.load());
  EXPECT_TRUE(mu.try_lock_shared());
  mu.unlock_shared();
}

}  // namespace
}  // namespace danvan
