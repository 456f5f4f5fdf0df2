#include "core/mask.h"

#include <cctype>

namespace danvan {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsEmailLocal(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
         c == '+';
}
bool IsEmailDomain(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
}

}  // namespace

std::string MaskPersonalData(std::string_view in) {
  std::string out(in);
  // E-mail addresses: keep the first character of the local part and the domain.
  for (size_t at = out.find('@'); at != std::string::npos; at = out.find('@', at + 1)) {
    size_t start = at;
    while (start > 0 && IsEmailLocal(out[start - 1])) --start;
    size_t end = at + 1;
    while (end < out.size() && IsEmailDomain(out[end])) ++end;
    if (start < at && out.find('.', at) < end) {
      for (size_t i = start + 1; i < at; ++i) out[i] = '*';
    }
  }
  // Runs of 9 or more digits (CCCD 12, CMND 9, phone numbers 10-11, with an optional +84):
  // keep the first two and the last three digits.
  size_t i = 0;
  while (i < out.size()) {
    if (!IsDigit(out[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < out.size() && (IsDigit(out[j]) || ((out[j] == ' ' || out[j] == '.') &&
                                                   j + 1 < out.size() && IsDigit(out[j + 1]))))
      ++j;
    size_t digits = 0;
    for (size_t k = i; k < j; ++k) digits += IsDigit(out[k]);
    if (digits >= 9) {
      size_t seen = 0;
      for (size_t k = i; k < j; ++k) {
        if (!IsDigit(out[k])) continue;
        if (seen >= 2 && seen < digits - 3) out[k] = '*';
        ++seen;
      }
    }
    i = j;
  }
  return out;
}

}  // namespace danvan
