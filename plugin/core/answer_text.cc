#include "core/answer_text.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace danvan {

AnswerText::~AnswerText() { std::free(data_); }

void AnswerText::Reserve(size_t n) {
  if (n + 1 <= capacity_) return;
  char* p = static_cast<char*>(std::realloc(data_, n + 1));
  if (!p) throw std::bad_alloc();
  data_ = p;
  capacity_ = n + 1;
}

void AnswerText::Append(std::string_view s) {
  if (size_ + s.size() + 1 > capacity_) Reserve(std::max(size_ + s.size(), capacity_ * 2));
  if (!s.empty()) std::memcpy(data_ + size_, s.data(), s.size());
  size_ += s.size();
}

char* AnswerText::Release(size_t* len) {
  if (!data_ && !(data_ = static_cast<char*>(std::malloc(1)))) return nullptr;
  data_[size_] = '\0';
  char* out = data_;
  if (len) *len = size_;
  data_ = nullptr;
  size_ = capacity_ = 0;
  return out;
}

}  // namespace danvan
