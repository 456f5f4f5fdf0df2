// Reading a citizen's letter by its content (issue 12; domain.md §3a).
//
// Two data files, both under config/tagging/:
//  - cues.json (checked by LetterCues::FromJson, errors name the JSON path): named phrase cues written by people, each with
//    its legal source. A cue fires when one of its phrases occurs on syllable boundaries
//    (text/keywords.h: NFC/NFD, case and the tố/tổ pitfall handled), unless a negator stands
//    within `window` syllables before it in the same sentence (then the feature "<id>:neg"
//    fires instead: "không tham gia đơn tập thể") or one of its `unless` phrases overlaps the hit
//    ("học vượt cấp", "đoàn thanh tra"). Count cues read a number (digits or a number word)
//    right before a noun, or before a classifier word ("count_fillers": "45 em học sinh"),
//    ("45 học sinh", "chúng tôi gồm 12 hộ") and fire one feature per threshold reached.
//  - letter_model.json: a linear model trained by tools/danvan-letters from labelled letters
//    (its corpus hash and command are in the file). Features are the cues above plus syllable
//    unigrams and bigrams of the diacritic-folded text (title and content apart), so a typo in a
//    mark or a letter typed without diacritics still reads. Outputs: the primary kind
//    (multinomial), one binary model per flag and per secondary kind, each with a threshold.
//
// Every decision carries a probability and the features that weighed most, with their
// weights. LetterModel is immutable after loading; Read() is const and thread-safe.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/status.h"
#include "text/keywords.h"
#include "text/normalize.h"

namespace danvan::tagging {

inline constexpr std::array<const char*, 4> kLetterKinds = {"complaint", "denunciation",
                                                            "petition", "feedback"};
inline constexpr std::array<const char*, 5> kLetterFlags = {"complex", "group", "staff_conduct",
                                                            "anonymous", "reraised"};

// Indices of `names` in the order of the names themselves: the order in which a JSON object
// keyed by them is written (nlohmann's objects are sorted by key).
template <size_t N>
constexpr std::array<size_t, N> IndicesByName(const std::array<const char*, N>& names) {
  std::array<size_t, N> order{};
  for (size_t i = 0; i < N; ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return std::string_view(names[a]) < std::string_view(names[b]); });
  return order;
}
inline constexpr std::array<size_t, 4> kLetterKindsByName = IndicesByName(kLetterKinds);
inline constexpr std::array<size_t, 5> kLetterFlagsByName = IndicesByName(kLetterFlags);

// A probability or weight as the readings show it: rounded to three decimals.
inline double Round3(double x) { return std::round(x * 1000) / 1000; }

// One feature of a letter: a 64-bit hash of its name (the name itself only when asked for).
struct LetterFeature {
  uint64_t hash;
  std::string name;  // empty unless FeatureOptions::names
};

uint64_t FeatureHash(std::string_view name);

struct FeatureOptions {
  bool names = false;  // fill LetterFeature::name (training, explanations)
  bool bigrams = true;
};

class LetterCues;
class FeatureSink;  // letter_model.cc
// Extracts the features of one letter (title may be empty). Inputs must be valid UTF-8;
// invalid text contributes no features. Thread-safe.
std::vector<LetterFeature> LetterFeatures(const LetterCues& cues, std::string_view title,
                                          std::string_view content, const FeatureOptions& opt);

// Phrase and count cues (cues.json). Immutable after FromJson; thread-safe.
class LetterCues {
 public:
  static Result<std::shared_ptr<const LetterCues>> FromJson(const nlohmann::json& doc);
  static Result<std::shared_ptr<const LetterCues>> FromFile(const std::string& path);
  const std::string& version() const { return version_; }
  size_t size() const { return cues_.size(); }
  // The §3a conditions of the complex flag, each read by its own detector in the model
  // (cues.json "complex_conditions", in file order; empty: the model has no detectors).
  struct ComplexCondition {
    std::string id, description, source;
  };
  const std::vector<ComplexCondition>& complex_conditions() const { return complex_conditions_; }
  // The id of the cue at `index` (as FeatureSink counts name it).
  const std::string& cue_id(uint32_t index) const { return cues_[index].id; }

 private:
  friend void ExtractLetterFeatures(const LetterCues&, const text::MatchText*,
                                    const text::MatchText*, bool, FeatureSink*);
  struct Cue {
    std::string id;
    bool count = false;
    int window = 3;                 // negation window in syllables
    std::vector<int> thresholds;    // count cues
    std::vector<int> distinct;      // thresholds on the number of distinct phrases that fired
    std::vector<int> sentences;     // thresholds on the number of sentences it fired in
    // "with": cues whose (non-negated) hit in the same sentence makes the feature
    // "c:<id>+<other>" (a behaviour word with a public employee as its actor).
    std::vector<uint32_t> with;
    // "with_quote": a hit in a sentence where a quotation opens makes "c:<id>+quote" (a speech
    // verb followed by the words said: `cô nói "…"`), and with a "with" cue in that sentence
    // too, "c:<id>+<other>+quote" (what a public employee said, quoted).
    bool with_quote = false;
    // "names": each hit is keyed by its phrase and the `name_syllables` words after it in the
    // same sentence (folded: "trường thcs" + "hung thang"); the number of distinct keys reaching
    // a threshold makes "n:<id>@names>=t" (two named schools, not one school named twice).
    int name_syllables = 0;
    std::vector<int> name_thresholds;
    uint32_t phrase_count = 0;      // phrases as written in the cue file (before variants)
    std::vector<uint32_t> phrases;  // keyword ids (nouns for count cues)
    std::vector<uint32_t> unless;
    std::vector<std::pair<std::string, std::string>> negators;  // (NFC lower, folded) syllables
    // Feature names and hashes, built once: [0] title ("tc:<id>"), [1] content ("c:<id>");
    // the same with ":neg"; "n:<id>>=t" per threshold; "n:<id>#>=t" per distinct threshold.
    struct Name {
      std::string text;
      uint64_t hash = 0;
    };
    std::array<Name, 2> feat, feat_neg;
    std::vector<Name> threshold_feat, distinct_feat, sentence_feat, with_feat, name_feat;
    Name quote_feat;                   // with_quote: "c:<id>+quote"
    std::vector<Name> with_quote_feat;  // with_quote: "c:<id>+<with>+quote", parallel to `with`
  };
  struct StructureName {
    std::string text;
    uint64_t hash = 0;
  };
  std::vector<StructureName> quote_feat_, item_feat_;
  StructureName phone_feat_;
  std::string version_;
  std::vector<ComplexCondition> complex_conditions_;
  std::vector<Cue> cues_;
  text::KeywordMatcher matcher_;
  // keyword id -> its roles: role 0 a phrase (a noun for count cues), 1 an `unless`; `phrase`
  // is the phrase's index in the cue (spelling variants of one phrase share it).
  struct Role {
    uint32_t cue;
    uint8_t role;
    uint32_t phrase;
  };
  std::vector<std::vector<Role>> roles_;
  // Structure of the content (cues.json "structure"): thresholds on quoted passages, on
  // enumerated lines ("1.", "a)", "- "), and the digits that make a phone number.
  std::vector<int> quote_thresholds_;
  std::vector<int> item_thresholds_;
  int phone_digits_ = 0;  // 0: no phone feature
  // Paragraphs (cues.json "paragraphs"; content only, a paragraph is a line): the "acts" are
  // cues that say what a letter wants (contest, report, propose, inform...). Two acts each in a
  // paragraph without the other make "s:apart:<a>+<b>" (two separate contents, not one content
  // told with both words); "s:acts>=t" counts the distinct acts; a "marker" cue within the
  // first `marker_window` words of a paragraph after one holding an act makes "c:<id>@para"
  // ("Một việc nữa, ..." opening a new matter).
  std::vector<int> act_of_cue_;       // by cue index: its act index, or -1
  std::vector<uint8_t> marker_cue_;   // by cue index: 1 for a marker
  std::vector<StructureName> apart_feat_;  // [a * acts + b], a < b
  std::vector<int> act_thresholds_;
  std::vector<StructureName> acts_feat_;
  std::vector<StructureName> marker_feat_;  // by cue index (empty name: not a marker)
  // Absences (cues.json "absent"): "s:absent:<id>" fires when none of the `none_of` cues hit
  // the letter (title or content, negated hits included: "chưa được trả lời" still speaks of an
  // answer) and, if `when` is not empty, one of the `when` cues hit it unnegated. Reads what a
  // letter does not say: a complaint that mentions no earlier answer, decision on a complaint
  // or earlier sending is a first complaint (domain.md §3a, re-raised).
  struct Absent {
    std::vector<uint32_t> when, none_of;  // cue indices (phrase cues)
    StructureName feat;
  };
  std::vector<Absent> absent_;
  size_t acts_ = 0;
  int marker_window_ = 0;
  bool any_with_quote_ = false;  // some cue has with_quote (quotations are then located)
  std::unordered_map<std::string, int> number_words_;  // NFC lower-case word -> value
  std::unordered_map<std::string, int> number_words_folded_;
  std::unordered_set<std::string> count_fillers_;  // NFC lower-case and folded forms
};


struct Evidence {
  // A view into the model's feature names (or a literal for the invariants): valid while the
  // LetterModel that read the letter lives.
  std::string_view feature;
  double weight;  // contribution to the decided outcome's score (positive: for it)
  // For the complex flag: the §3a condition whose detector the feature weighed in (a view into
  // the cue file's condition id, valid while the model lives); empty for the general output.
  std::string_view condition = {};
};

// What a count cue read in a letter: the largest number before one of its nouns, with the words
// that said it (NFC lower case), e.g. {"people", 45, "45 học sinh"}.
struct CountReading {
  std::string_view cue;  // the cue's id (a view into the cue file, valid while the model lives)
  int value = 0;
  std::string text;
};

// One detector of the complex flag (a §3a condition, cues.json complex_conditions).
struct ConditionReading {
  std::string_view id;  // a view into the cue file, valid while the model lives
  double probability = 0;
  bool fired = false;  // probability reached the detector's threshold
};

struct LetterDecision {
  std::string value;        // kind name, or "true"/"false" for a flag
  double confidence = 0;    // probability of the decided value
  double probability = 0;   // flags: probability of true; kinds: of the decided kind
  std::vector<Evidence> evidence;  // strongest first, at most LetterModel::kEvidence; empty for
                                   // a flag decided false with confidence >= kExplainNoBelow
};

struct LetterReading {
  LetterDecision kind;
  std::array<double, 4> kind_probabilities{};
  std::vector<std::string> secondary;
  std::vector<LetterDecision> secondary_decisions;  // one per kind other than the primary
                                                    // (evidence only for those taken)
  std::array<LetterDecision, 5> flags;              // in kLetterFlags order
  // The complex flag by condition (empty when the model has no detectors): complex is true when
  // the general output, any detector, or group is.
  std::vector<ConditionReading> complex_conditions;
  std::vector<CountReading> counts;  // count cues that read a number (ReadPrepared / Read only)
  bool has_text = false;                            // false: no words at all (kind by prior)
  // Every decision with its value, confidence and evidence; with decided_evidence false, the
  // kind and the flags decided true carry none (their evidence is in their own tags).
  nlohmann::json ToJson(bool decided_evidence = true) const;
  // One evidence item as JSON: {"feature","weight"}, with "condition" for a complex detector's
  // feature and, for a count feature ("n:<cue>>=t"), the number and words read ("count", "text").
  nlohmann::json EvidenceJson(const Evidence& e) const;
  // The same as compact JSON text, the bytes AppendJson (core/json_write.h) gives for
  // ToJson(decided_evidence) — with a member "model": *model added when model is not null — and
  // for EvidenceJson(e), without building the documents.
  void AppendJsonText(bool decided_evidence, const std::string* model, std::string* out) const;
  void AppendEvidenceText(const Evidence& e, std::string* out) const;
  // The count a count feature ("n:<cue>>=t") was read from, or null.
  const CountReading* CountOf(const Evidence& e) const;
};

class LetterModel {
 public:
  static constexpr size_t kEvidence = 6;
  static constexpr double kExplainNoBelow = 0.8;  // a flag decided false is explained below this
  // `cues` must be the cue file the model was trained with (its version is checked).
  static Result<std::shared_ptr<const LetterModel>> FromJson(const nlohmann::json& doc,
                                                             std::shared_ptr<const LetterCues> cues);
  static Result<std::shared_ptr<const LetterModel>> FromFile(const std::string& path,
                                                             std::shared_ptr<const LetterCues> cues);

  const std::string& version() const { return version_; }
  const LetterCues& cues() const { return *cues_; }
  size_t feature_count() const { return names_.size(); }

  // Reads the letter; invariants applied (group => complex; anonymous only on a denunciation).
  LetterReading Read(std::string_view title, std::string_view content) const;
  // The same from texts already prepared by text::PrepareForMatch (either may be null: no text),
  // so a caller that prepared them for its own keywords (the rule set) does not pay twice.
  LetterReading ReadPrepared(const text::MatchText* title, const text::MatchText* content) const;
  // The same from already extracted features (hash only is used).
  LetterReading ReadFeatures(const std::vector<LetterFeature>& features) const;
  // The same from feature hashes.
  LetterReading ReadHashes(const std::vector<uint64_t>& hashes) const;

 private:
  LetterModel() = default;
  struct Binary {
    double bias = 0, threshold = 0.5;
  };
  std::string version_;
  std::shared_ptr<const LetterCues> cues_;
  bool bigrams_ = true;
  // Feature lookup: an open-addressing table of hashes (power-of-two size, linear probing,
  // hash 0 = empty slot) holding 8-byte keys only, so the probes of a letter's features, most of
  // which the model does not know, stay in a small, cache-resident array; a hit gives the
  // feature's index into weights_, one cache line with its 13 weights (4 kinds, 5 flags,
  // 4 secondary kinds).
  struct alignas(64) Weights {
    std::array<float, 13> w{};
  };
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> index_;  // parallel to keys_
  std::vector<Weights> weights_;  // by feature index (as names_)
  uint64_t mask_ = 0;
  int64_t Lookup(uint64_t hash) const;  // feature index, or -1
  std::vector<std::string> names_;
  std::array<double, 4> kind_bias_{};
  std::array<Binary, 5> flags_;      // bias and threshold (weights in w_[i][4 + f])
  std::array<Binary, 4> secondary_;  // bias and threshold (weights in w_[i][9 + k])
  // Complex by condition (model "complex_conditions"): one detector per condition of the cue
  // file, its weights in condition_features (a row of detectors_.size() floats per feature that
  // has any, det_row_[feature] its row or -1). Threshold > 1: the detector is off.
  struct Detector {
    std::string_view id;  // the cue file's condition id
    double bias = 0, threshold = 2;
  };
  std::vector<Detector> detectors_;
  std::vector<int32_t> det_row_;  // by feature index
  std::vector<float> det_w_;
};

}  // namespace danvan::tagging
