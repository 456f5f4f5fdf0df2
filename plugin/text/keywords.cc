#include "text/keywords.h"

#include <deque>
#include <unordered_map>

#include "text/utf8.h"

namespace danvan::text {

uint32_t KeywordAutomaton::Add(std::string_view folded) {
  patterns_.emplace_back(folded);
  return static_cast<uint32_t>(patterns_.size() - 1);
}

void KeywordAutomaton::Build() {
  // Byte classes: one per byte value used by a pattern, class 0 for the rest.
  std::fill(std::begin(byte_class_), std::end(byte_class_), 0);
  num_classes_ = 1;
  for (const std::string& p : patterns_) {
    for (unsigned char c : p) {
      if (byte_class_[c] == 0) byte_class_[c] = static_cast<uint8_t>(num_classes_++);
    }
  }
  // Trie with goto in a map first (sparse), then the dense DFA.
  std::vector<std::unordered_map<int, int32_t>> trie(1);
  out_.assign(1, -1);
  for (size_t pi = 0; pi < patterns_.size(); ++pi) {
    int32_t s = 0;
    for (unsigned char c : patterns_[pi]) {
      int cls = byte_class_[c];
      auto it = trie[s].find(cls);
      if (it == trie[s].end()) {
        trie.emplace_back();
        out_.push_back(-1);
        int32_t ns = static_cast<int32_t>(trie.size() - 1);
        trie[s].emplace(cls, ns);
        s = ns;
      } else {
        s = it->second;
      }
    }
    if (!patterns_[pi].empty() && out_[s] < 0) out_[s] = static_cast<int32_t>(pi);
  }
  const size_t n = trie.size();
  delta_.assign(n * num_classes_, 0);
  std::vector<int32_t> fail(n, 0);
  dict_link_.assign(n, -1);
  std::deque<int32_t> queue;
  for (int c = 0; c < num_classes_; ++c) {
    auto it = trie[0].find(c);
    if (it != trie[0].end()) {
      delta_[c] = it->second;
      queue.push_back(it->second);
    }
  }
  while (!queue.empty()) {
    int32_t s = queue.front();
    queue.pop_front();
    int32_t f = fail[s];
    dict_link_[s] = out_[f] >= 0 ? f : dict_link_[f];
    for (int c = 0; c < num_classes_; ++c) {
      auto it = trie[s].find(c);
      if (it != trie[s].end()) {
        int32_t t = it->second;
        fail[t] = s == 0 ? 0 : delta_[f * num_classes_ + c];
        if (t == fail[t]) fail[t] = 0;
        delta_[s * num_classes_ + c] = t;
        queue.push_back(t);
      } else {
        delta_[s * num_classes_ + c] = delta_[f * num_classes_ + c];
      }
    }
  }
  delta16_.clear();
  if (n <= 0x10000) delta16_.assign(delta_.begin(), delta_.end());
  reports_.assign(n, 0);
  for (size_t s = 0; s < n; ++s) reports_[s] = out_[s] >= 0 || dict_link_[s] >= 0;
}

void KeywordAutomaton::FindAll(std::string_view text, std::vector<Match>* out) const {
  if (patterns_.empty()) return;
  if (!delta16_.empty()) {
    Scan(delta16_.data(), text, out);
  } else {
    Scan(delta_.data(), text, out);
  }
}

template <typename State>
void KeywordAutomaton::Scan(const State* delta, std::string_view text, std::vector<Match>* out) const {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  const size_t classes = static_cast<size_t>(num_classes_);
  const uint8_t* reports = reports_.data();
  size_t s = 0;
  for (size_t i = 0; i < n; ++i) {
    s = delta[s * classes + byte_class_[p[i]]];
    if (!reports[s]) continue;
    // Must end on a word boundary.
    if (i + 1 < n && IsWordByte(p[i + 1])) continue;
    for (int32_t t = out_[s] >= 0 ? static_cast<int32_t>(s) : dict_link_[s]; t >= 0; t = dict_link_[t]) {
      uint32_t pi = static_cast<uint32_t>(out_[t]);
      size_t len = patterns_[pi].size();
      size_t begin = i + 1 - len;
      if (begin > 0 && IsWordByte(p[begin - 1])) continue;
      out->push_back(Match{pi, static_cast<uint32_t>(begin), static_cast<uint32_t>(i + 1)});
    }
  }
}

namespace {

// Splits a MatchText range [fb, fe) of the folded text into syllables and returns, for each,
// the corresponding byte range of norm.
void SyllableRanges(const MatchText& mt, size_t fb, size_t fe,
                    std::vector<std::pair<uint32_t, uint32_t>>* out) {
  out->clear();
  size_t start = fb;
  for (size_t i = fb; i <= fe; ++i) {
    if (i == fe || mt.folded[i] == ' ') {
      if (i > start) out->emplace_back(mt.folded_to_norm[start], mt.folded_to_norm[i]);
      start = i + 1;
    }
  }
}

bool HasNonAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return true;
  }
  return false;
}

}  // namespace

Result<uint32_t> KeywordMatcher::Add(std::string_view keyword) {
  auto mt = PrepareForMatch(keyword);
  if (!mt.ok()) return mt.status();
  std::string folded = mt->folded;
  while (!folded.empty() && folded.back() == ' ') folded.pop_back();
  if (folded.empty()) {
    return Status::InvalidInput("từ khóa rỗng sau khi chuẩn hóa: '" + std::string(keyword) + "'");
  }
  Keyword kw;
  kw.norm = mt->norm;
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  SyllableRanges(mt.value(), 0, folded.size(), &ranges);
  for (auto [b, e] : ranges) {
    kw.syllables.push_back(mt->norm.substr(b, e - b));
    // Trailing punctuation inside norm ranges is harmless: it is compared byte for byte only
    // when the syllable has marks.
    bool marks = HasNonAscii(kw.syllables.back());
    kw.syllable_has_marks.push_back(marks);
    kw.has_marks |= marks;
  }
  uint32_t id = static_cast<uint32_t>(keywords_.size());
  keywords_.push_back(std::move(kw));
  // One automaton pattern per distinct folded form.
  uint32_t pattern;
  auto it = pattern_of_folded_.find(folded);
  if (it != pattern_of_folded_.end()) {
    pattern = it->second;
  } else {
    pattern = automaton_.Add(folded);
    pattern_of_folded_.emplace(folded, pattern);
    pattern_keywords_.emplace_back();
  }
  pattern_keywords_[pattern].push_back(id);
  return id;
}

void KeywordMatcher::Build() { automaton_.Build(); }

void KeywordMatcher::Find(const MatchText& text, std::vector<Hit>* out) const {
  // Per-thread scratch (cleared here; FindAll does not re-enter Find).
  thread_local std::vector<KeywordAutomaton::Match> matches;
  thread_local std::vector<std::pair<uint32_t, uint32_t>> ranges;
  matches.clear();
  automaton_.FindAll(text.folded, &matches);
  for (const auto& m : matches) {
    uint32_t nb = text.folded_to_norm[m.begin];
    uint32_t ne = text.folded_to_norm[m.end];
    bool ranges_ready = false;
    for (uint32_t id : pattern_keywords_[m.pattern]) {
      const Keyword& kw = keywords_[id];
      if (text.has_diacritics && kw.has_marks) {
        if (!ranges_ready) {
          SyllableRanges(text, m.begin, m.end, &ranges);
          ranges_ready = true;
        }
        if (ranges.size() != kw.syllables.size()) continue;
        bool ok = true;
        for (size_t k = 0; k < ranges.size() && ok; ++k) {
          if (!kw.syllable_has_marks[k]) continue;
          std::string_view syl(text.norm.data() + ranges[k].first,
                               ranges[k].second - ranges[k].first);
          ok = syl == kw.syllables[k];
        }
        if (!ok) continue;
      }
      out->push_back(Hit{id, nb, ne});
    }
  }
}

}  // namespace danvan::text
