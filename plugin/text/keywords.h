// Vietnamese keyword matching over folded text (domain.md §6).
//
// KeywordAutomaton is an Aho-Corasick automaton (a full DFA over byte classes) on the folded
// form of each keyword (PrepareForMatch: NFC, case folded, marks removed, đ -> d, separators
// collapsed to one space), so one pass over a text finds every keyword however many there
// are. Matches must start and end on word boundaries.
//
// KeywordMatcher adds the diacritic policy on top: folding merges words ("tố" and "tổ" both
// become "to"), so when the text carries diacritics a keyword written with diacritics must
// match syllable for syllable in its exact (NFC, case-folded) form; only a text without any
// diacritics is matched on the folded form. A keyword syllable written without marks matches
// any marking of that syllable (the rule author asked for the folded form).
//
// Both are immutable after Build() and safe to query from many threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "text/normalize.h"

namespace danvan::text {

class KeywordAutomaton {
 public:
  struct Match {
    uint32_t pattern;  // index in the order of Add()
    uint32_t begin;    // byte range in the folded text
    uint32_t end;
  };

  // `folded` must already be in folded form (lower-case ASCII letters, digits, single spaces,
  // other code points as UTF-8). Returns the pattern index. Call before Build().
  uint32_t Add(std::string_view folded);
  void Build();
  size_t size() const { return patterns_.size(); }
  size_t states() const { return out_.size(); }

  // Appends every word-bounded occurrence (overlapping ones included) to *out.
  void FindAll(std::string_view folded, std::vector<Match>* out) const;

 private:
  static bool IsWordByte(unsigned char c) { return c != ' '; }
  std::vector<std::string> patterns_;
  uint8_t byte_class_[256] = {};
  int num_classes_ = 1;
  template <typename State>
  void Scan(const State* delta, std::string_view folded, std::vector<Match>* out) const;
  std::vector<int32_t> delta_;      // states x classes
  // The same table in 16 bits when every state fits (the usual case: a few thousand states),
  // so the scan's working set is half as large and stays in the L2 cache.
  std::vector<uint16_t> delta16_;
  // Per state: 1 when a pattern ends at it or on its fail chain (out_ or dict_link_ set), so
  // the scan reads one byte per text byte besides the transition.
  std::vector<uint8_t> reports_;
  std::vector<int32_t> out_;        // pattern ending at this state, or -1
  std::vector<int32_t> dict_link_;  // next state on the fail chain with an output, or -1
};

class KeywordMatcher {
 public:
  struct Hit {
    uint32_t keyword;     // index in the order of Add()
    uint32_t norm_begin;  // byte range in MatchText::norm
    uint32_t norm_end;
  };

  // Any form of the keyword (NFC, NFD, upper case, ...); InvalidInput when it is not valid
  // UTF-8 or folds to nothing.
  Result<uint32_t> Add(std::string_view keyword);
  void Build();
  size_t size() const { return keywords_.size(); }
  // The keyword in NFC, case-folded form.
  const std::string& keyword(uint32_t id) const { return keywords_[id].norm; }

  // Hits of every keyword in `text`, in text order, after the diacritic policy.
  void Find(const MatchText& text, std::vector<Hit>* out) const;

 private:
  struct Keyword {
    std::string norm;
    std::vector<std::string> syllables;  // norm, split on the folded separators
    std::vector<bool> syllable_has_marks;
    bool has_marks = false;
  };
  KeywordAutomaton automaton_;
  std::vector<Keyword> keywords_;
  std::vector<std::vector<uint32_t>> pattern_keywords_;  // automaton pattern -> keyword ids
  std::unordered_map<std::string, uint32_t> pattern_of_folded_;
};

}  // namespace danvan::text
