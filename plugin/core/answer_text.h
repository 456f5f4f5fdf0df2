// An answer written as text (Engine::Query), in one malloc'd buffer that the ABI hands to the
// host as it is (danvan_free releases it with free): a large answer (the score op's, ~10 MB
// at 861 units) exists once, not once as a string and again as the host's copy.
// Not thread-safe (one caller's answer). Growth is by realloc; a writer that knows the final
// size reserves it first, so the buffer is never copied while it grows.
#pragma once

#include <cstddef>
#include <string_view>

namespace danvan {

class AnswerText {
 public:
  AnswerText() = default;
  AnswerText(const AnswerText&) = delete;
  AnswerText& operator=(const AnswerText&) = delete;
  ~AnswerText();

  // Makes room for `n` bytes in all (and the terminating NUL). Throws std::bad_alloc.
  void Reserve(size_t n);
  // Throws std::bad_alloc (the buffer is then unchanged).
  void Append(std::string_view s);
  void Clear() { size_ = 0; }
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  std::string_view view() const { return {data_ ? data_ : "", size_}; }
  // The text, NUL-terminated, malloc'd (the caller frees it with free); *len its length. The
  // buffer is empty afterwards. Null when the allocation fails.
  char* Release(size_t* len);

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;  // bytes allocated at data_, the NUL's included
};

}  // namespace danvan
