// A reader-writer lock in which neither side can starve the other (phase-fair: Brandenburg and
// Anderson, "Spin-based reader-writer synchronization for multiprocessor real-time systems",
// 2010), with std::shared_mutex's interface so std::unique_lock and std::shared_lock work on it.
//
// Why not std::shared_mutex: on glibc it is a pthread_rwlock with the default preference for
// readers, so host threads that query in a loop, their reads overlapping, keep the reader count
// above zero and a writer (intake applying a batch to the indicator index) waits indefinitely
// (issue 16; seen in SeriesIndexTest under ASan: minutes). Poco::RWLock is the same pthread lock.
// glibc's PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP turns the problem around (a stream of
// writers starves readers) and is glibc-only.
//
// The rules:
//  - A reader enters at once when no writer holds or waits for the lock. Otherwise it waits, and
//    the next writer to unlock admits every reader waiting at that moment, as one phase, before
//    any further writer.
//  - Writers enter one at a time in arrival order (tickets), each once the readers inside have
//    left. A reader that arrives while a writer waits queues behind it.
// So a writer waits at most for the readers inside when it arrived, then for each writer ahead of
// it and one reader phase between each of them; a reader waits at most for the writer holding the
// lock (and, when writers queue, the one reader phase before it) — bounded by the work done under
// the lock, never by how many threads keep arriving.
//
// Not recursive, on either side: a thread that holds the shared lock must not take it again
// (when a writer has queued in between, the second lock_shared waits for the writer, which waits
// for the first: a deadlock). Unlock only what this thread locked.
//
// Thread-safety: every member may be called from any thread. Cost: one std::mutex per lock and
// unlock; lock() and lock_shared() may block as described above.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace danvan {

class FairSharedMutex {
 public:
  FairSharedMutex() = default;
  FairSharedMutex(const FairSharedMutex&) = delete;
  FairSharedMutex& operator=(const FairSharedMutex&) = delete;

  void lock() {
    std::unique_lock l(m_);
    const uint64_t ticket = next_ticket_++;
    writers_cv_.wait(l, [&] { return serving_ == ticket && !writer_ && readers_ == 0; });
    writer_ = true;
  }
  bool try_lock() {
    std::lock_guard l(m_);
    if (writer_ || readers_ != 0 || next_ticket_ != serving_) return false;
    ++next_ticket_;
    writer_ = true;
    return true;
  }
  void unlock() {
    std::lock_guard l(m_);
    writer_ = false;
    ++serving_;
    if (waiting_readers_ > 0) {
      // This phase's readers enter before the next writer: counted now, woken below.
      readers_ += waiting_readers_;
      waiting_readers_ = 0;
      ++phase_;
      readers_cv_.notify_all();
    } else if (serving_ != next_ticket_) {
      writers_cv_.notify_all();  // the next ticket's holder (whichever thread it is)
    }
  }

  void lock_shared() {
    std::unique_lock l(m_);
    if (!writer_ && serving_ == next_ticket_) {
      ++readers_;
      return;
    }
    ++waiting_readers_;
    const uint64_t phase = phase_;
    readers_cv_.wait(l, [&] { return phase_ != phase; });  // admitted (and counted) by unlock()
  }
  bool try_lock_shared() {
    std::lock_guard l(m_);
    if (writer_ || serving_ != next_ticket_) return false;
    ++readers_;
    return true;
  }
  void unlock_shared() {
    std::lock_guard l(m_);
    if (--readers_ == 0 && serving_ != next_ticket_) writers_cv_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable readers_cv_, writers_cv_;
  uint64_t readers_ = 0;          // inside, or admitted and about to wake
  uint64_t waiting_readers_ = 0;  // queued behind a writer, for the next phase
  uint64_t phase_ = 0;            // advanced each time a writer admits the queued readers
  uint64_t next_ticket_ = 0;      // writers that asked; serving_ == next_ticket_: none waits
  uint64_t serving_ = 0;          // the ticket whose turn it is
  bool writer_ = false;
};

}  // namespace danvan
