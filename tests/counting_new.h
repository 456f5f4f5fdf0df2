// Replaces the global operator new/delete to count the bytes the C++ code holds
// (malloc_usable_size of each block), so a test can assert on an allocation high-water mark, a
// deterministic figure, not on RSS or time. Memory allocated with malloc (C libraries: SQLite,
// libxlsxwriter) is not counted.
//
// Include it from exactly one source file of a test program of its own: the replaced operators
// apply to the whole program. Thread-safe (atomics).
#pragma once

#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace danvan::testing::counting {

inline std::atomic<int64_t> g_live{0};
inline std::atomic<int64_t> g_peak{0};

// The bytes held now.
inline int64_t Live() { return g_live.load(); }
// The high-water mark since the last ResetPeak().
inline int64_t Peak() { return g_peak.load(); }
// Starts a new high-water mark at the bytes held now; returns them.
inline int64_t ResetPeak() {
  const int64_t base = g_live.load();
  g_peak = base;
  return base;
}

inline void* Counted(void* p) {
  if (p) {
    const int64_t now = g_live += static_cast<int64_t>(malloc_usable_size(p));
    int64_t peak = g_peak.load();
    while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
    }
  }
  return p;
}

// Not inlined: the compiler would see free() called on what operator new returned
// (-Wmismatched-new-delete); here that is the point.
[[gnu::noinline]] inline void Uncount(void* p) {
  if (p) g_live -= static_cast<int64_t>(malloc_usable_size(p));
  std::free(p);
}

}  // namespace danvan::testing::counting

void* operator new(std::size_t n) {
  if (void* p = danvan::testing::counting::Counted(std::malloc(n ? n : 1))) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return danvan::testing::counting::Counted(std::malloc(n ? n : 1));
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return danvan::testing::counting::Counted(std::malloc(n ? n : 1));
}
void operator delete(void* p) noexcept { danvan::testing::counting::Uncount(p); }
void operator delete[](void* p) noexcept { danvan::testing::counting::Uncount(p); }
void operator delete(void* p, std::size_t) noexcept { danvan::testing::counting::Uncount(p); }
void operator delete[](void* p, std::size_t) noexcept { danvan::testing::counting::Uncount(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { danvan::testing::counting::Uncount(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { danvan::testing::counting::Uncount(p); }
