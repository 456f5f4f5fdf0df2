// A list of plain records (the report's action-list items) kept as compact bytes per item, in
// a ByteArena (core/byte_arena.h), instead of the struct (issue 16, bounded memory at city scale: a case item is ~200 bytes
// of text but ~550 bytes as a struct of eight strings and a vector). Items are made again, by
// value, when read; the list is not edited in place (Set replaces an item).
//
// T names its fields through `template <typename F> void Fields(T& x, F&& f)` (found by
// argument-dependent lookup), calling f on each std::string, int, double and
// std::vector<std::string> member in a fixed order.
// Thread-safety: a plain value.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "core/byte_arena.h"

namespace danvan::reports {

namespace packed_detail {

inline void PutSize(size_t n, std::string* out) {
  do {
    const unsigned char b = static_cast<unsigned char>(n & 0x7F);
    n >>= 7;
    out->push_back(static_cast<char>(n ? b | 0x80 : b));
  } while (n);
}

inline size_t GetSize(const char** p) {
  size_t n = 0;
  for (int shift = 0;; shift += 7) {
    const unsigned char b = static_cast<unsigned char>(*(*p)++);
    n |= static_cast<size_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return n;
  }
}

struct Writer {
  std::string* out;
  void operator()(const std::string& s) const {
    PutSize(s.size(), out);
    out->append(s);
  }
  void operator()(const int& v) const { out->append(reinterpret_cast<const char*>(&v), sizeof v); }
  void operator()(const double& v) const { out->append(reinterpret_cast<const char*>(&v), sizeof v); }
  void operator()(const std::vector<std::string>& v) const {
    PutSize(v.size(), out);
    for (const std::string& s : v) (*this)(s);
  }
};

struct Reader {
  const char* p;
  void operator()(std::string& s) {
    const size_t n = GetSize(&p);
    s.assign(p, n);
    p += n;
  }
  void operator()(int& v) {
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
  }
  void operator()(double& v) {
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
  }
  void operator()(std::vector<std::string>& v) {
    v.resize(GetSize(&p));
    for (std::string& s : v) (*this)(s);
  }
};

}  // namespace packed_detail

template <typename T>
class PackedList {
 public:
  using value_type = T;

  // Iterates the items, each made again (by value).
  class const_iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = T;
    const_iterator(const PackedList* list, size_t i) : list_(list), i_(i) {}
    T operator*() const { return (*list_)[i_]; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }
    bool operator!=(const const_iterator& o) const { return i_ != o.i_; }

   private:
    const PackedList* list_;
    size_t i_;
  };

  PackedList() = default;
  PackedList(std::initializer_list<T> items) {
    for (const T& x : items) push_back(x);
  }

  void push_back(const T& x) {
    const uint64_t pos = Pack(x);
    at_.push_back(pos);
  }
  // Replaces item i (its old bytes stay in the arena until clear).
  void Set(size_t i, const T& x) { at_[i] = Pack(x); }
  T operator[](size_t i) const {
    T x;
    packed_detail::Reader r{arena_.At(at_[i])};
    Fields(x, r);
    return x;
  }
  T front() const { return (*this)[0]; }
  T back() const { return (*this)[at_.size() - 1]; }
  size_t size() const { return at_.size(); }
  bool empty() const { return at_.empty(); }
  void clear() {
    at_.clear();
    arena_.clear();
  }
  // Gives back the capacity the appends doubled (the list is complete).
  void shrink_to_fit() { at_.shrink_to_fit(); }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, at_.size()}; }

  // Orders the items as std::sort(items, less) orders the same items in the same order: the
  // keys key(item) are made once and std::sort compares them with `less` (same comparisons,
  // so the same permutation, ties included).
  template <typename KeyOf, typename Less>
  void SortBy(KeyOf key, Less less) {
    using Key = decltype(key(std::declval<const T&>()));
    std::vector<Key> keys;
    keys.reserve(at_.size());
    for (size_t i = 0; i < at_.size(); ++i) keys.push_back(key((*this)[i]));
    std::vector<size_t> order(at_.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return less(keys[a], keys[b]); });
    std::vector<uint64_t> sorted;
    sorted.reserve(at_.size());
    for (size_t i : order) sorted.push_back(at_[i]);
    at_ = std::move(sorted);
  }

  // Bytes held (the rows and their strings), for tests and benchmarks.
  size_t memory_bytes() const { return at_.capacity() * sizeof(uint64_t) + arena_.memory_bytes(); }

 private:
  // Appends x's bytes to the arena; their position.
  uint64_t Pack(const T& x) {
    thread_local std::string out;  // one item's bytes, reused
    out.clear();
    packed_detail::Writer w{&out};
    Fields(const_cast<T&>(x), w);
    const uint64_t pos = arena_.Append(out);
    if (out.capacity() > (size_t{1} << 20)) std::string().swap(out);
    return pos;
  }
  std::vector<uint64_t> at_;  // where each item's bytes start, in list order
  ByteArena arena_;
};

}  // namespace danvan::reports
