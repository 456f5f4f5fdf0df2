#include "term.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace danvanctl {
namespace {

Lang g_lang = Lang::kVi;

// Decodes one code point at s[*i] (advancing *i); invalid bytes count as one code point each.
uint32_t NextCodePoint(std::string_view s, size_t* i) {
  const unsigned char c = static_cast<unsigned char>(s[*i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
  if (*i + n > s.size()) n = 1;
  uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[*i + k]) & 0x3F);
  *i += n;
  return cp;
}

bool Combining(uint32_t cp) { return cp >= 0x300 && cp <= 0x36F; }

}  // namespace

Lang DetectLang() {
  for (const char* var : {"LC_ALL", "LC_MESSAGES", "LANG"}) {
    const char* v = std::getenv(var);
    if (v && *v) return std::strncmp(v, "en", 2) == 0 ? Lang::kEn : Lang::kVi;
  }
  return Lang::kVi;
}

void SetLang(Lang lang) { g_lang = lang; }
Lang CurrentLang() { return g_lang; }

size_t DisplayWidth(std::string_view s) {
  size_t w = 0;
  for (size_t i = 0; i < s.size();)
    if (!Combining(NextCodePoint(s, &i))) ++w;
  return w;
}

std::string Truncate(std::string_view s, size_t width) {
  if (DisplayWidth(s) <= width) return std::string(s);
  if (width == 0) return {};
  size_t w = 0, i = 0, cut = 0;
  while (i < s.size()) {
    size_t start = i;
    uint32_t cp = NextCodePoint(s, &i);
    if (!Combining(cp)) {
      if (w + 1 > width - 1) {
        cut = start;
        break;
      }
      ++w;
    }
    cut = i;
  }
  return std::string(s.substr(0, cut)) + "…";
}

Table::Table(std::vector<std::string> header, std::vector<bool> right_align)
    : header_(std::move(header)), right_(std::move(right_align)) {
  right_.resize(header_.size(), false);
}

void Table::Add(std::vector<std::string> row) {
  row.resize(header_.size());
  // Line breaks inside a cell would break the table: shown as spaces.
  for (auto& cell : row) std::replace_if(cell.begin(), cell.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  rows_.push_back(std::move(row));
}

std::string Table::Render(size_t max_cell) const {
  std::vector<size_t> width(header_.size(), 0);
  auto cut = [&](const std::string& c) { return Truncate(c, max_cell); };
  for (size_t c = 0; c < header_.size(); ++c) width[c] = DisplayWidth(cut(header_[c]));
  for (const auto& r : rows_)
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], DisplayWidth(cut(r[c])));
  std::string out;
  auto line = [&](const std::vector<std::string>& r) {
    std::string l;
    for (size_t c = 0; c < r.size(); ++c) {
      std::string cell = cut(r[c]);
      std::string pad(width[c] - DisplayWidth(cell), ' ');
      if (c) l += "  ";
      l += right_[c] ? pad + cell : (c + 1 == r.size() ? cell : cell + pad);
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(header_);
  std::vector<std::string> rule;
  for (size_t w : width) {
    std::string dashes;
    for (size_t k = 0; k < w; ++k) dashes += "─";
    rule.push_back(dashes);
  }
  // The rule cells are all dashes, so their widths match.
  std::string l;
  for (size_t c = 0; c < rule.size(); ++c) l += (c ? "  " : "") + rule[c];
  out += l + "\n";
  for (const auto& r : rows_) line(r);
  return out;
}

std::string KeyValues(const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t w = 0;
  for (const auto& [k, v] : rows) w = std::max(w, DisplayWidth(k));
  std::string out;
  for (const auto& [k, v] : rows) out += k + std::string(w - DisplayWidth(k) + 2, ' ') + v + "\n";
  return out;
}

Progress::Progress(std::string label, bool enabled)
    : label_(std::move(label)), active_(enabled && ::isatty(STDERR_FILENO)) {}

void Progress::Update(int64_t done, int64_t total) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  if (shown_ && now - last_ < std::chrono::milliseconds(100) && done < total) return;
  last_ = now;
  constexpr int kBar = 30;
  const double frac = total > 0 ? std::clamp(static_cast<double>(done) / total, 0.0, 1.0) : 0.0;
  const int filled = static_cast<int>(frac * kBar);
  std::string bar;
  for (int i = 0; i < kBar; ++i) bar += i < filled ? "█" : "░";
  std::fprintf(stderr, "\r\033[K%s %s %3d%% %lld/%lld", label_.c_str(), bar.c_str(),
               static_cast<int>(frac * 100), static_cast<long long>(done), static_cast<long long>(total));
  std::fflush(stderr);
  shown_ = true;
}

void Progress::Finish() {
  if (shown_) std::fputs("\r\033[K", stderr);
  shown_ = false;
}

std::string FormatNumber(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (CurrentLang() == Lang::kVi) std::replace(s.begin(), s.end(), '.', ',');
  return s;
}

std::string FormatInt(int64_t v) { return std::to_string(v); }

std::string FormatAge(int64_t ms) {
  if (ms <= 0) return "0";
  int64_t s = ms / 1000;
  const int64_t d = s / 86400, h = (s % 86400) / 3600, m = (s % 3600) / 60;
  s %= 60;
  const bool en = CurrentLang() == Lang::kEn;
  std::string out;
  if (d) out += std::to_string(d) + (en ? " d " : " ngày ");
  if (h) out += std::to_string(h) + (en ? " h " : " giờ ");
  if (m && !d) out += std::to_string(m) + (en ? " min " : " phút ");
  if (!d && !h) out += std::to_string(s) + (en ? " s" : " giây");
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

}  // namespace danvanctl
