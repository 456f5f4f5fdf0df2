#include "core/mask.h"

#include <vector>

namespace danvan {
namespace {

bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsWord(unsigned char c) { return IsDigit(c) || IsAlpha(c) || c == '_'; }
bool IsJoiner(unsigned char c) { return c == '.' || c == '-' || c == ','; }
bool IsPhoneSeparator(unsigned char c) { return c == ' ' || c == '.' || c == '-'; }

// May a token start at `i`? Not inside a word, a path segment, an e-mail address, or a code
// or number joined by '.', '-' or ','. A '/' between two numbers ("0912345678/0987654321")
// separates them; after anything else it starts a path segment.
bool LeftBoundary(std::string_view s, size_t i) {
  if (i == 0) return true;
  const unsigned char p = s[i - 1];
  if (p == '/') return i >= 2 && IsDigit(s[i - 2]);
  if (IsWord(p) || p == '\\' || p == '@' || p == '+') return false;
  if (IsJoiner(p) && i >= 2 && IsWord(static_cast<unsigned char>(s[i - 2]))) return false;
  return true;
}

// May a token end just before `end`? The mirror of LeftBoundary.
bool RightBoundary(std::string_view s, size_t end) {
  if (end >= s.size()) return true;
  const unsigned char c = s[end];
  if (c == '/') return end + 1 < s.size() && IsDigit(s[end + 1]);
  if (IsWord(c) || c == '\\' || c == '@') return false;
  if (IsJoiner(c) && end + 1 < s.size() && IsWord(static_cast<unsigned char>(s[end + 1])))
    return false;
  return true;
}

// Replaces the digits of s[begin, end) by '*', except the first two and the last three.
void MaskDigits(std::string& s, size_t begin, size_t end) {
  size_t digits = 0;
  for (size_t k = begin; k < end; ++k) digits += IsDigit(s[k]);
  size_t seen = 0;
  for (size_t k = begin; k < end; ++k) {
    if (!IsDigit(s[k])) continue;
    if (seen >= 2 && seen + 3 < digits) s[k] = '*';
    ++seen;
  }
}

// A Vietnamese phone number starting at `i` (see mask.h); returns the end of the match or 0.
size_t MatchPhone(std::string_view s, size_t i) {
  const size_t n = s.size();
  size_t p = i;
  const bool paren = p < n && s[p] == '(';
  if (paren) ++p;
  const bool plus = p < n && s[p] == '+';
  if (plus) {
    if (s.substr(p, 3) != "+84") return 0;
    ++p;  // "84" is read as the first digit group
  }
  if (p >= n || !IsDigit(s[p])) return 0;
  // Digit groups joined by one separator; a parenthesis may close after the first group.
  struct Group {
    size_t begin, end;
  };
  std::vector<Group> groups;
  size_t paren_close = std::string_view::npos;  // position of ')' when closed
  while (p < n && IsDigit(s[p]) && groups.size() < 8) {
    size_t b = p;
    while (p < n && IsDigit(s[p])) ++p;
    groups.push_back({b, p});
    if (paren && paren_close == std::string_view::npos && groups.size() == 1 && p < n &&
        s[p] == ')') {
      paren_close = p++;
      if (p < n && s[p] == ' ') ++p;
      continue;
    }
    if (p + 1 < n && IsPhoneSeparator(s[p]) && IsDigit(s[p + 1])) {
      ++p;
      continue;
    }
    break;
  }
  if (paren && paren_close == std::string_view::npos) return 0;
  std::string digits;
  for (const Group& g : groups) digits.append(s.substr(g.begin, g.end - g.begin));
  // Prefix: the trunk 0, or the country code 84 (optionally followed by a trunk 0 after "+").
  size_t prefix = 0;
  if (digits[0] == '0') {
    prefix = 1;
  } else if (digits.compare(0, 2, "84") == 0) {
    prefix = plus && digits.size() > 2 && digits[2] == '0' ? 3 : 2;
  } else {
    return 0;
  }
  if (plus && prefix == 1) return 0;
  if (digits.size() <= prefix) return 0;
  const char first = digits[prefix];
  size_t national = 0;
  if (first == '3' || first == '5' || first == '7' || first == '8' || first == '9') {
    national = 9;  // mobile
  } else if (first == '2') {
    national = 10;  // landline: 2 + area code + subscriber number
  } else {
    return 0;
  }
  const size_t total = prefix + national;
  size_t count = 0, used = 0;
  while (used < groups.size() && count < total) {
    count += groups[used].end - groups[used].begin;
    ++used;
  }
  if (count != total) return 0;  // longer or shorter than a phone number
  if (used > 1) {
    // Grouped: no one-digit groups, and a trunk-0 number's first group has 3 or more digits.
    for (size_t g = 0; g < used; ++g)
      if (groups[g].end - groups[g].begin < 2) return 0;
    if (prefix == 1 && groups[0].end - groups[0].begin < 3) return 0;
  }
  size_t end = groups[used - 1].end;
  if (paren_close != std::string_view::npos && used == 1) end = paren_close + 1;
  if (!RightBoundary(s, end)) return 0;
  return end;
}

// A 9- or 12-digit ID number without separators starting at `i`; returns its end or 0.
size_t MatchIdNumber(std::string_view s, size_t i) {
  size_t p = i;
  while (p < s.size() && IsDigit(s[p])) ++p;
  const size_t len = p - i;
  if ((len == 9 || len == 12) && RightBoundary(s, p)) return p;
  return 0;
}

bool IsEmailLocal(unsigned char c) {
  return IsDigit(c) || IsAlpha(c) || c == '.' || c == '_' || c == '-' || c == '+' || c == '%';
}
bool IsEmailDomain(unsigned char c) { return IsDigit(c) || IsAlpha(c) || c == '.' || c == '-'; }

void MaskEmails(std::string& out) {
  for (size_t at = out.find('@'); at != std::string::npos; at = out.find('@', at + 1)) {
    size_t start = at;
    while (start > 0 && IsEmailLocal(out[start - 1])) --start;
    while (start < at && !IsDigit(out[start]) && !IsAlpha(out[start])) ++start;
    size_t end = at + 1;
    while (end < out.size() && IsEmailDomain(out[end])) ++end;
    while (end > at + 1 && (out[end - 1] == '.' || out[end - 1] == '-')) --end;
    if (start == at || end == at + 1) continue;
    // A path segment (/static/icon@2x.png) is not an address.
    if (start > 0 && (out[start - 1] == '/' || out[start - 1] == '\\')) continue;
    // The domain has a dot and ends with a label of at least two letters.
    const size_t dot = out.rfind('.', end - 1);
    if (dot == std::string::npos || dot <= at + 1 || end - dot - 1 < 2) continue;
    bool letters = true;
    for (size_t k = dot + 1; k < end; ++k) letters = letters && IsAlpha(out[k]);
    if (!letters) continue;
    for (size_t k = start + 1; k < at; ++k) out[k] = '*';
  }
}

}  // namespace

std::string MaskPersonalData(std::string_view in) {
  std::string out(in);
  MaskEmails(out);
  size_t i = 0;
  while (i < out.size()) {
    const unsigned char c = out[i];
    if ((IsDigit(c) || c == '+' || c == '(') && LeftBoundary(out, i)) {
      size_t end = MatchPhone(out, i);
      if (end == 0 && IsDigit(c)) end = MatchIdNumber(out, i);
      if (end != 0) {
        MaskDigits(out, i, end);
        i = end;
        continue;
      }
    }
    // Skip the rest of a digit run: a token never starts inside one.
    if (IsDigit(c)) {
      while (i < out.size() && IsDigit(out[i])) ++i;
    } else {
      ++i;
    }
  }
  return out;
}

}  // namespace danvan
