// Terminal output for danvanctl: the message language, tables with Vietnamese text aligned by
// display width, and a progress bar on stderr.
//
// Threading: everything here is used from the main thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace danvanctl {

enum class Lang { kVi, kEn };

// Vietnamese unless the first non-empty of LC_ALL, LC_MESSAGES, LANG starts with "en" (POSIX
// precedence of the locale variables).
Lang DetectLang();

// The text in the language in force (set once by main, SetLang).
void SetLang(Lang lang);
Lang CurrentLang();
inline const char* Tr(const char* vi, const char* en) { return CurrentLang() == Lang::kEn ? en : vi; }
inline std::string Tr(const std::string& vi, const std::string& en) {
  return CurrentLang() == Lang::kEn ? en : vi;
}

// Columns a UTF-8 string takes on a terminal: code points, less combining marks (U+0300–U+036F,
// the Vietnamese tone marks of NFD text). Every other code point counts as one column.
size_t DisplayWidth(std::string_view s);
// At most `width` columns, ending in "…" when cut; never splits a UTF-8 sequence.
std::string Truncate(std::string_view s, size_t width);

// A text table: a header row, then rows; numbers right-aligned when the column says so.
class Table {
 public:
  explicit Table(std::vector<std::string> header, std::vector<bool> right_align = {});
  void Add(std::vector<std::string> row);
  // Cells wider than max_cell columns are cut.
  std::string Render(size_t max_cell = 60) const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> header_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// Two columns "label  value", the labels aligned.
std::string KeyValues(const std::vector<std::pair<std::string, std::string>>& rows);

// A progress bar on stderr, drawn only when stderr is a terminal and `enabled`; redrawn at most
// every 100 ms. Finish() clears it.
class Progress {
 public:
  Progress(std::string label, bool enabled);
  ~Progress() { Finish(); }
  // Whether it draws at all (enabled and stderr is a terminal).
  bool active() const { return active_; }
  void Update(int64_t done, int64_t total);
  void Finish();

 private:
  std::string label_;
  bool active_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

std::string FormatNumber(double v, int decimals);
std::string FormatInt(int64_t v);
// "3 giờ 5 phút" / "3 h 5 min" from milliseconds.
std::string FormatAge(int64_t ms);

}  // namespace danvanctl
