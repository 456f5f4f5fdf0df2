#include "tagging/letter_model.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/json_number.h"
#include "core/json_write.h"
#include "text/normalize.h"
#include "text/utf8.h"

namespace danvan::tagging {
namespace {

using json = nlohmann::json;

constexpr uint64_t kFnvOffset = 1469598103934665603ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

inline uint64_t Fnv(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

Result<json> ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidInput("không mở được tệp " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  json doc = json::parse(ss.str(), nullptr, false);
  if (doc.is_discarded()) return Status::InvalidInput(path + ": không phải JSON hợp lệ");
  return doc;
}

// The words of a prepared text: folded form, NFC lower-case form, byte range in norm, the
// sentence and the paragraph (line) they belong to, and their place in that paragraph.
struct Word {
  std::string_view folded;
  std::string_view norm;
  uint32_t norm_begin;
  uint32_t norm_end;
  uint32_t sentence;
  std::string_view token;  // the n-gram token: folded, or "#" for a word holding a digit
  uint32_t paragraph = 0;  // lines of the text, counted by the line breaks before the word
  uint32_t para_pos = 0;   // index of the word in its paragraph
};

bool HasDigit(std::string_view w) {
  return std::any_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Fills *words (cleared first) with the words of mt.
void WordsOf(const text::MatchText& mt, std::vector<Word>* out) {
  std::vector<Word>& words = *out;
  words.clear();
  words.reserve(mt.folded.size() / 4 + 4);
  const std::string& f = mt.folded;
  uint32_t sentence = 0, paragraph = 0, para_pos = 0;
  uint32_t prev_end = 0;
  size_t i = 0;
  while (i < f.size()) {
    size_t j = f.find(' ', i);
    if (j == std::string::npos) j = f.size();
    if (j > i) {
      uint32_t nb = mt.folded_to_norm[i];
      uint32_t ne = mt.folded_to_norm[j];
      bool new_sentence = false, new_paragraph = false;
      for (uint32_t k = prev_end; k < nb; ++k) {
        char c = mt.norm[k];
        new_sentence |= c == '.' || c == '!' || c == '?' || c == ';' || c == '\n';
        new_paragraph |= c == '\n';
      }
      sentence += new_sentence;
      if (new_paragraph && !words.empty()) ++paragraph, para_pos = 0;
      const std::string_view folded = std::string_view(f).substr(i, j - i);
      words.push_back({folded, std::string_view(mt.norm).substr(nb, ne - nb), nb, ne, sentence,
                       HasDigit(folded) ? std::string_view("#") : folded, paragraph, para_pos++});
      prev_end = ne;
    }
    i = j + 1;
  }
}

// An entry of the cue file that must name itself and its legal source: non-empty strings "id",
// "description" and "source" (`what` says so in the error, at `ptr`).
Status RequireIdDescriptionSource(const json& j, const std::string& ptr, const char* what) {
  for (const char* f : {"id", "description", "source"})
    if (!j.is_object() || !j.contains(f) || !j[f].is_string() || j[f].get<std::string>().empty())
      return Status::InvalidInput(ptr + "/" + f + ": thiếu (" + what + ")");
  return Status::Ok();
}

// Lower-cased NFC of a word written in the cue file.
Result<std::pair<std::string, std::string>> NormWord(const std::string& w) {
  auto mt = text::PrepareForMatch(w);
  if (!mt.ok()) return mt.status();
  std::string norm = mt->norm, folded = mt->folded;
  while (!folded.empty() && folded.back() == ' ') folded.pop_back();
  if (folded.empty() || folded.find(' ') != std::string::npos)
    return Status::InvalidInput("'" + w + "' phải là đúng một âm tiết");
  return std::make_pair(norm, folded);
}

}  // namespace

// Collects feature hashes (and names when asked).
class FeatureSink {
 public:
  explicit FeatureSink(bool names) : names_(names) { hashes_.reserve(1024); }
  void Add(std::string_view prefix, std::string_view a) {
    uint64_t h = Fnv(kFnvOffset, prefix);
    hashes_.push_back(Fnv(h, a));
    if (names_) text_.push_back(std::string(prefix) + std::string(a));
  }
  void Add2(std::string_view prefix, std::string_view a, std::string_view b) {
    uint64_t h = Fnv(kFnvOffset, prefix);
    h = Fnv(h, a);
    h = Fnv(h, " ");
    hashes_.push_back(Fnv(h, b));
    if (names_) text_.push_back(std::string(prefix) + std::string(a) + " " + std::string(b));
  }
  // The same with the prefix's hash computed by the caller (Fnv(kFnvOffset, prefix)).
  void AddAfter(uint64_t prefix_hash, std::string_view prefix, std::string_view a) {
    hashes_.push_back(Fnv(prefix_hash, a));
    if (names_) text_.push_back(std::string(prefix) + std::string(a));
  }
  void Add2After(uint64_t prefix_hash, std::string_view prefix, std::string_view a, std::string_view b) {
    uint64_t h = Fnv(prefix_hash, a);
    h ^= static_cast<unsigned char>(' ');
    h *= kFnvPrime;
    hashes_.push_back(Fnv(h, b));
    if (names_) text_.push_back(std::string(prefix) + std::string(a) + " " + std::string(b));
  }
  // A feature whose name and hash were computed beforehand (the name is copied only when names
  // are asked for).
  void AddNamed(uint64_t hash, const std::string& name) {
    hashes_.push_back(hash);
    if (names_) text_.push_back(name);
  }
  // Forgets every feature added (the capacity is kept).
  void Reset() {
    hashes_.clear();
    text_.clear();
    counts_.clear();
  }
  // Count cues: the largest number read for a cue, with the words that said it ("45 học sinh"),
  // kept only when asked for (keep_counts).
  void set_keep_counts(bool keep) { keep_counts_ = keep; }
  void Count(uint32_t cue, int value, std::string_view text) {
    if (!keep_counts_) return;
    for (auto& c : counts_)
      if (c.cue == cue) {
        // At an equal number the longer words ("45 em học sinh" over "45 em": both nouns of
        // the cue end a hit after the same number).
        if (value > c.value || (value == c.value && text.size() > c.text.size()))
          c.value = value, c.text.assign(text);
        return;
      }
    counts_.push_back({cue, value, std::string(text)});
  }
  struct CountHit {
    uint32_t cue;
    int value;
    std::string text;
  };
  const std::vector<CountHit>& counts() const { return counts_; }
  // Every hash added, in order, repeats included.
  const std::vector<uint64_t>& hashes() const { return hashes_; }
  // Distinct hashes, ascending.
  std::vector<uint64_t> TakeHashes() {
    std::sort(hashes_.begin(), hashes_.end());
    hashes_.erase(std::unique(hashes_.begin(), hashes_.end()), hashes_.end());
    return std::move(hashes_);
  }
  std::vector<LetterFeature> Take() {
    std::vector<LetterFeature> out;
    out.reserve(hashes_.size());
    for (size_t i = 0; i < hashes_.size(); ++i)
      out.push_back({hashes_[i], names_ ? std::move(text_[i]) : std::string()});
    std::sort(out.begin(), out.end(),
              [](const LetterFeature& x, const LetterFeature& y) { return x.hash < y.hash; });
    out.erase(std::unique(out.begin(), out.end(),
                          [](const LetterFeature& x, const LetterFeature& y) { return x.hash == y.hash; }),
              out.end());
    return out;
  }

 private:
  bool names_;
  bool keep_counts_ = false;
  std::vector<uint64_t> hashes_;
  std::vector<std::string> text_;
  std::vector<CountHit> counts_;
};

namespace {

void NgramFeatures(const std::vector<Word>& words, std::string_view uni, std::string_view bi,
                   bool bigrams, FeatureSink* sink) {
  const uint64_t uni_h = Fnv(kFnvOffset, uni), bi_h = Fnv(kFnvOffset, bi);
  for (size_t i = 0; i < words.size(); ++i) {
    sink->AddAfter(uni_h, uni, words[i].token);
    if (bigrams && i > 0 && words[i - 1].sentence == words[i].sentence)
      sink->Add2After(bi_h, bi, words[i - 1].token, words[i].token);
  }
}

double Sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

uint64_t FeatureHash(std::string_view name) { return Fnv(kFnvOffset, name); }

void ExtractLetterFeatures(const LetterCues& cues, const text::MatchText* title,
                           const text::MatchText* content, bool bigrams, FeatureSink* sink);

namespace {
// Prepares a text for the extractor (null when empty or not valid UTF-8).
const text::MatchText* Prepare(std::string_view t, std::optional<text::MatchText>* storage) {
  if (t.empty()) return nullptr;
  auto prepared = text::PrepareForMatch(t);  // validates the UTF-8
  if (!prepared.ok()) return nullptr;
  storage->emplace(std::move(prepared).value());
  return &**storage;
}
}  // namespace

// ---- cues -----------------------------------------------------------------------------------

Result<std::shared_ptr<const LetterCues>> LetterCues::FromJson(const json& doc) {
  std::shared_ptr<LetterCues> c(new LetterCues());
  try {
    if (!doc.is_object() || !doc.contains("version") || !doc.contains("cues"))
      return Status::InvalidInput("/: tệp dấu hiệu cần 'version' và 'cues'");
    c->version_ = doc.at("version").get<std::string>();
    std::vector<std::pair<std::string, std::string>> default_negators;
    if (auto it = doc.find("negators"); it != doc.end()) {
      for (size_t i = 0; i < it->size(); ++i) {
        auto w = NormWord((*it)[i].get<std::string>());
        if (!w.ok()) return Status::InvalidInput("/negators/" + std::to_string(i) + ": " + w.status().message());
        default_negators.push_back(w.value());
      }
    }
    if (auto it = doc.find("count_fillers"); it != doc.end()) {
      for (size_t i = 0; i < it->size(); ++i) {
        auto w = NormWord((*it)[i].get<std::string>());
        if (!w.ok()) return Status::InvalidInput("/count_fillers/" + std::to_string(i) + ": " + w.status().message());
        c->count_fillers_.insert(w->first);
        c->count_fillers_.insert(w->second);
      }
    }
    if (auto it = doc.find("number_words"); it != doc.end()) {
      for (auto& [word, value] : it->items()) {
        auto w = NormWord(word);
        if (!w.ok() || !value.is_number_integer())
          return Status::InvalidInput("/number_words/" + word + ": cần một âm tiết và một số nguyên");
        c->number_words_[w->first] = value.get<int>();
        c->number_words_folded_[w->second] = value.get<int>();
      }
    }
    // Spelling variants of a syllable ("không" -> "ko", "k"): every phrase holding the syllable
    // is also matched with each variant (at most kMaxVariants forms per phrase).
    std::unordered_map<std::string, std::vector<std::string>> variants;
    if (auto it = doc.find("variants"); it != doc.end()) {
      if (!it->is_object()) return Status::InvalidInput("/variants: phải là đối tượng");
      for (auto& [word, list] : it->items()) {
        auto w = NormWord(word);
        if (!w.ok() || !list.is_array())
          return Status::InvalidInput("/variants/" + word + ": cần một âm tiết và một mảng cách viết");
        for (const auto& v : list) {
          if (!v.is_string()) return Status::InvalidInput("/variants/" + word + ": phải là mảng chuỗi");
          variants[w->first].push_back(v.get<std::string>());
        }
      }
    }
    if (auto it = doc.find("structure"); it != doc.end()) {
      auto ints = [&](const char* key, std::vector<int>* out) -> Status {
        if (!it->contains(key)) return Status::Ok();
        const json& a = it->at(key);
        if (!a.is_array()) return Status::InvalidInput(std::string("/structure/") + key + ": phải là mảng số");
        for (const auto& x : a) {
          if (!x.is_number_integer() || x.get<int>() < 1)
            return Status::InvalidInput(std::string("/structure/") + key + ": ngưỡng phải là số nguyên dương");
          out->push_back(x.get<int>());
        }
        return Status::Ok();
      };
      if (Status st = ints("quotes", &c->quote_thresholds_); !st.ok()) return st;
      if (Status st = ints("items", &c->item_thresholds_); !st.ok()) return st;
      c->phone_digits_ = it->value("phone_digits", 0);
      if (c->phone_digits_ < 0 || c->phone_digits_ > 15)
        return Status::InvalidInput("/structure/phone_digits: từ 0 đến 15");
    }
    if (auto it = doc.find("complex_conditions"); it != doc.end()) {
      if (!it->is_array() || it->size() > 8)
        return Status::InvalidInput("/complex_conditions: phải là mảng tối đa 8 điều kiện");
      for (size_t i = 0; i < it->size(); ++i) {
        const json& j = (*it)[i];
        const std::string ptr = "/complex_conditions/" + std::to_string(i);
        if (Status st = RequireIdDescriptionSource(j, ptr, "mỗi điều kiện cần mã, mô tả và nguồn"); !st.ok())
          return st;
        ComplexCondition cc{j["id"].get<std::string>(), j["description"].get<std::string>(),
                            j["source"].get<std::string>()};
        for (const auto& prev : c->complex_conditions_)
          if (prev.id == cc.id) return Status::InvalidInput(ptr + "/id: trùng mã '" + cc.id + "'");
        c->complex_conditions_.push_back(std::move(cc));
      }
    }
    const json& cues = doc.at("cues");
    if (!cues.is_array()) return Status::InvalidInput("/cues: phải là mảng");
    constexpr size_t kMaxVariants = 16;
    auto expand = [&](const std::string& phrase) {
      std::vector<std::string> forms = {""};
      size_t start = 0;
      while (start <= phrase.size()) {
        size_t sp = phrase.find(' ', start);
        if (sp == std::string::npos) sp = phrase.size();
        std::string token = phrase.substr(start, sp - start);
        std::vector<std::string> alts = {token};
        if (!variants.empty()) {
          if (auto lower = text::NormalizeNfc(token, true); lower.ok()) {
            if (auto v = variants.find(lower.value()); v != variants.end())
              alts.insert(alts.end(), v->second.begin(), v->second.end());
          }
        }
        std::vector<std::string> next;
        for (const auto& f : forms)
          for (const auto& a : alts)
            if (next.size() < kMaxVariants) next.push_back(f.empty() ? a : f + " " + a);
        forms = std::move(next);
        start = sp + 1;
      }
      return forms;
    };
    auto add_keywords = [&](const json& list, const std::string& ptr, uint32_t cue, uint8_t role,
                            std::vector<uint32_t>* out) -> Status {
      if (!list.is_array()) return Status::InvalidInput(ptr + ": phải là mảng chuỗi");
      for (size_t i = 0; i < list.size(); ++i) {
        if (!list[i].is_string()) return Status::InvalidInput(ptr + "/" + std::to_string(i) + ": phải là chuỗi");
        for (const std::string& form : expand(list[i].get<std::string>())) {
          auto id = c->matcher_.Add(form);
          if (!id.ok()) return Status::InvalidInput(ptr + "/" + std::to_string(i) + ": " + id.status().message());
          if (c->roles_.size() <= id.value()) c->roles_.resize(id.value() + 1);
          c->roles_[id.value()].push_back({cue, role, static_cast<uint32_t>(i)});
          out->push_back(id.value());
        }
      }
      return Status::Ok();
    };
    std::vector<std::pair<size_t, std::string>> with_names;  // (cue index, id it names)
    for (size_t i = 0; i < cues.size(); ++i) {
      const json& j = cues[i];
      const std::string ptr = "/cues/" + std::to_string(i);
      Cue cue;
      if (!j.is_object() || !j.contains("id") || !j["id"].is_string())
        return Status::InvalidInput(ptr + "/id: thiếu mã dấu hiệu");
      cue.id = j["id"].get<std::string>();
      for (const char* f : {"description", "source"})
        if (!j.contains(f) || !j[f].is_string())
          return Status::InvalidInput(ptr + "/" + f + ": thiếu (mỗi dấu hiệu cần mô tả và nguồn)");
      cue.count = j.value("count", false);
      cue.window = j.value("window", 3);
      if (cue.window < 0 || cue.window > 10)
        return Status::InvalidInput(ptr + "/window: từ 0 đến 10 âm tiết");
      const uint32_t index = static_cast<uint32_t>(c->cues_.size());
      if (!j.contains("phrases")) return Status::InvalidInput(ptr + "/phrases: thiếu");
      Status st = add_keywords(j["phrases"], ptr + "/phrases", index, 0, &cue.phrases);
      if (!st.ok()) return st;
      cue.phrase_count = static_cast<uint32_t>(j["phrases"].size());
      if (j.contains("distinct")) {
        if (cue.count) return Status::InvalidInput(ptr + "/distinct: không dùng cho dấu hiệu đếm");
        if (!j["distinct"].is_array()) return Status::InvalidInput(ptr + "/distinct: phải là mảng ngưỡng");
        for (const auto& t : j["distinct"]) {
          if (!t.is_number_integer() || t.get<int>() < 2)
            return Status::InvalidInput(ptr + "/distinct: ngưỡng là số nguyên từ 2");
          cue.distinct.push_back(t.get<int>());
        }
      }
      if (j.contains("sentences")) {
        if (cue.count) return Status::InvalidInput(ptr + "/sentences: không dùng cho dấu hiệu đếm");
        if (!j["sentences"].is_array()) return Status::InvalidInput(ptr + "/sentences: phải là mảng ngưỡng");
        for (const auto& t : j["sentences"]) {
          if (!t.is_number_integer() || t.get<int>() < 2)
            return Status::InvalidInput(ptr + "/sentences: ngưỡng là số nguyên từ 2");
          cue.sentences.push_back(t.get<int>());
        }
      }
      if (j.contains("names")) {
        const json& nm = j["names"];
        if (cue.count || !nm.is_object() || !nm.contains("syllables") || !nm.contains("thresholds"))
          return Status::InvalidInput(ptr + "/names: cần {\"syllables\", \"thresholds\"} (không dùng cho dấu hiệu đếm)");
        auto syl = JsonIntInRange(nm["syllables"], 1, 4);
        if (!syl) return Status::InvalidInput(ptr + "/names/syllables: từ 1 đến 4 âm tiết");
        cue.name_syllables = static_cast<int>(*syl);
        if (!nm["thresholds"].is_array() || nm["thresholds"].empty())
          return Status::InvalidInput(ptr + "/names/thresholds: phải là mảng ngưỡng");
        for (const auto& t : nm["thresholds"]) {
          auto n = JsonIntInRange(t, 2, 100);
          if (!n) return Status::InvalidInput(ptr + "/names/thresholds: ngưỡng là số nguyên từ 2 đến 100");
          cue.name_thresholds.push_back(static_cast<int>(*n));
        }
      }
      if (j.contains("unless")) {
        st = add_keywords(j["unless"], ptr + "/unless", index, 1, &cue.unless);
        if (!st.ok()) return st;
      }
      if (cue.count) {
        if (!j.contains("thresholds") || !j["thresholds"].is_array() || j["thresholds"].empty())
          return Status::InvalidInput(ptr + "/thresholds: dấu hiệu đếm cần ngưỡng");
        for (const auto& t : j["thresholds"]) {
          auto n = JsonIntInRange(t, 0, 1000000);
          if (!n) return Status::InvalidInput(ptr + "/thresholds: cần số nguyên từ 0 đến 1000000");
          cue.thresholds.push_back(static_cast<int>(*n));
        }
      } else if (j.contains("negators")) {
        for (size_t k = 0; k < j["negators"].size(); ++k) {
          auto w = NormWord(j["negators"][k].get<std::string>());
          if (!w.ok()) return Status::InvalidInput(ptr + "/negators/" + std::to_string(k) + ": " + w.status().message());
          cue.negators.push_back(w.value());
        }
      } else if (j.value("negatable", true)) {
        cue.negators = default_negators;
      }
      if (j.contains("with_quote")) {
        if (!j["with_quote"].is_boolean()) return Status::InvalidInput(ptr + "/with_quote: phải là true hoặc false");
        if (cue.count) return Status::InvalidInput(ptr + "/with_quote: không dùng cho dấu hiệu đếm");
        cue.with_quote = j["with_quote"].get<bool>();
      }
      if (j.contains("with")) {
        if (!j["with"].is_array()) return Status::InvalidInput(ptr + "/with: phải là mảng mã dấu hiệu");
        for (const auto& w : j["with"]) {
          if (!w.is_string()) return Status::InvalidInput(ptr + "/with: phải là mảng mã dấu hiệu");
          with_names.emplace_back(c->cues_.size(), w.get<std::string>());
        }
      }
      for (const auto& prev : c->cues_)
        if (prev.id == cue.id) return Status::InvalidInput(ptr + "/id: trùng mã '" + cue.id + "'");
      c->cues_.push_back(std::move(cue));
    }
    for (const auto& [ci, id] : with_names) {
      size_t other = 0;
      while (other < c->cues_.size() && c->cues_[other].id != id) ++other;
      if (other == c->cues_.size() || c->cues_[other].count)
        return Status::InvalidInput("/cues/" + std::to_string(ci) + "/with: không có dấu hiệu cụm từ '" + id + "'");
      c->cues_[ci].with.push_back(static_cast<uint32_t>(other));
    }
    for (const Cue& cue : c->cues_) c->any_with_quote_ |= cue.with_quote;
    c->act_of_cue_.assign(c->cues_.size(), -1);
    c->marker_cue_.assign(c->cues_.size(), 0);
    // The index of the phrase cue named by `id` (at `ptr` in the file), or an error.
    auto cue_index = [&](const json& id, const std::string& ptr) -> Result<size_t> {
      size_t k = 0;
      if (id.is_string())
        while (k < c->cues_.size() && c->cues_[k].id != id.get<std::string>()) ++k;
      if (!id.is_string() || k == c->cues_.size() || c->cues_[k].count)
        return Status::InvalidInput(ptr + ": không có dấu hiệu cụm từ '" + (id.is_string() ? id.get<std::string>() : "") + "'");
      return k;
    };
    if (auto it = doc.find("paragraphs"); it != doc.end()) {
      const json& pg = *it;
      if (!pg.is_object() || !pg.contains("acts") || !pg["acts"].is_array() || pg["acts"].size() > 16)
        return Status::InvalidInput("/paragraphs/acts: cần mảng tối đa 16 mã dấu hiệu");
      for (const char* f : {"description", "source"})
        if (!pg.contains(f) || !pg[f].is_string())
          return Status::InvalidInput(std::string("/paragraphs/") + f + ": thiếu");
      for (size_t k = 0; k < pg["acts"].size(); ++k) {
        auto ci = cue_index(pg["acts"][k], "/paragraphs/acts/" + std::to_string(k));
        if (!ci.ok()) return ci.status();
        if (c->act_of_cue_[ci.value()] >= 0)
          return Status::InvalidInput("/paragraphs/acts/" + std::to_string(k) + ": trùng mã");
        c->act_of_cue_[ci.value()] = static_cast<int>(c->acts_++);
      }
      if (pg.contains("acts_thresholds")) {
        if (!pg["acts_thresholds"].is_array()) return Status::InvalidInput("/paragraphs/acts_thresholds: phải là mảng ngưỡng");
        for (const auto& t : pg["acts_thresholds"]) {
          auto n = JsonIntInRange(t, 2, 16);
          if (!n) return Status::InvalidInput("/paragraphs/acts_thresholds: ngưỡng là số nguyên từ 2 đến 16");
          c->act_thresholds_.push_back(static_cast<int>(*n));
        }
      }
      if (pg.contains("markers")) {
        if (!pg["markers"].is_array()) return Status::InvalidInput("/paragraphs/markers: phải là mảng mã dấu hiệu");
        for (size_t k = 0; k < pg["markers"].size(); ++k) {
          auto ci = cue_index(pg["markers"][k], "/paragraphs/markers/" + std::to_string(k));
          if (!ci.ok()) return ci.status();
          c->marker_cue_[ci.value()] = 1;
        }
        auto w = JsonIntInRange(pg.value("marker_window", json()), 1, 20);
        if (!w) return Status::InvalidInput("/paragraphs/marker_window: từ 1 đến 20 âm tiết");
        c->marker_window_ = static_cast<int>(*w);
      }
    }
    if (auto it = doc.find("absent"); it != doc.end()) {
      if (!it->is_array() || it->size() > 16)
        return Status::InvalidInput("/absent: phải là mảng tối đa 16 mục");
      for (size_t k = 0; k < it->size(); ++k) {
        const json& j = (*it)[k];
        const std::string ptr = "/absent/" + std::to_string(k);
        if (Status st = RequireIdDescriptionSource(j, ptr, "mỗi mục cần mã, mô tả và nguồn"); !st.ok()) return st;
        Absent ab;
        ab.feat.text = "s:absent:" + j["id"].get<std::string>();
        ab.feat.hash = FeatureHash(ab.feat.text);
        for (const auto& prev : c->absent_)
          if (prev.feat.text == ab.feat.text) return Status::InvalidInput(ptr + "/id: trùng mã");
        for (const char* f : {"when", "none_of"}) {
          if (!j.contains(f)) {
            if (std::string(f) == "none_of") return Status::InvalidInput(ptr + "/none_of: thiếu");
            continue;
          }
          if (!j[f].is_array() || (std::string(f) == "none_of" && j[f].empty()))
            return Status::InvalidInput(ptr + "/" + f + ": phải là mảng mã dấu hiệu");
          for (size_t q = 0; q < j[f].size(); ++q) {
            auto ci = cue_index(j[f][q], ptr + "/" + f + "/" + std::to_string(q));
            if (!ci.ok()) return ci.status();
            (std::string(f) == "when" ? ab.when : ab.none_of).push_back(static_cast<uint32_t>(ci.value()));
          }
        }
        c->absent_.push_back(std::move(ab));
      }
    }
    c->matcher_.Build();
    c->roles_.resize(c->matcher_.size());
    auto named = [](std::string text) {
      const uint64_t h = FeatureHash(text);
      return Cue::Name{std::move(text), h};
    };
    for (Cue& cue : c->cues_) {
      for (int part = 0; part < 2; ++part) {
        const std::string prefix = part == 0 ? "tc:" : "c:";
        cue.feat[part] = named(prefix + cue.id);
        cue.feat_neg[part] = named(prefix + cue.id + ":neg");
      }
      for (int t : cue.thresholds) cue.threshold_feat.push_back(named("n:" + cue.id + ">=" + std::to_string(t)));
      for (int t : cue.distinct) cue.distinct_feat.push_back(named("n:" + cue.id + "#>=" + std::to_string(t)));
      for (int t : cue.sentences) cue.sentence_feat.push_back(named("n:" + cue.id + "@sent>=" + std::to_string(t)));
      for (uint32_t o : cue.with) cue.with_feat.push_back(named("c:" + cue.id + "+" + c->cues_[o].id));
      for (int t : cue.name_thresholds) cue.name_feat.push_back(named("n:" + cue.id + "@names>=" + std::to_string(t)));
      if (cue.with_quote) {
        cue.quote_feat = named("c:" + cue.id + "+quote");
        for (uint32_t o : cue.with)
          cue.with_quote_feat.push_back(named("c:" + cue.id + "+" + c->cues_[o].id + "+quote"));
      }
    }
    for (int t : c->quote_thresholds_) {
      auto n = named("s:quotes>=" + std::to_string(t));
      c->quote_feat_.push_back({n.text, n.hash});
    }
    for (int t : c->item_thresholds_) {
      auto n = named("s:items>=" + std::to_string(t));
      c->item_feat_.push_back({n.text, n.hash});
    }
    {
      auto n = named("s:phone");
      c->phone_feat_ = {n.text, n.hash};
    }
    std::vector<size_t> act_cue(c->acts_);
    for (size_t ci = 0; ci < c->cues_.size(); ++ci)
      if (c->act_of_cue_[ci] >= 0) act_cue[c->act_of_cue_[ci]] = ci;
    c->apart_feat_.resize(c->acts_ * c->acts_);
    for (size_t a = 0; a < c->acts_; ++a)
      for (size_t b = a + 1; b < c->acts_; ++b) {
        auto n = named("s:apart:" + c->cues_[act_cue[a]].id + "+" + c->cues_[act_cue[b]].id);
        c->apart_feat_[a * c->acts_ + b] = {n.text, n.hash};
      }
    for (int t : c->act_thresholds_) {
      auto n = named("s:acts>=" + std::to_string(t));
      c->acts_feat_.push_back({n.text, n.hash});
    }
    c->marker_feat_.resize(c->cues_.size());
    for (size_t ci = 0; ci < c->cues_.size(); ++ci)
      if (c->marker_cue_[ci]) {
        auto n = named("c:" + c->cues_[ci].id + "@para");
        c->marker_feat_[ci] = {n.text, n.hash};
      }
  } catch (const std::exception& e) {
    return Status::InvalidInput(std::string("tệp dấu hiệu không hợp lệ: ") + e.what());
  }
  return std::shared_ptr<const LetterCues>(std::move(c));
}

Result<std::shared_ptr<const LetterCues>> LetterCues::FromFile(const std::string& path) {
  auto doc = ReadJson(path);
  if (!doc.ok()) return doc.status();
  auto c = FromJson(doc.value());
  if (!c.ok()) return Status::InvalidInput(path + ": " + c.status().message());
  return c;
}

std::vector<LetterFeature> LetterFeatures(const LetterCues& cues, std::string_view title,
                                          std::string_view content, const FeatureOptions& opt) {
  FeatureSink sink(opt.names);
  std::optional<text::MatchText> t, c;
  ExtractLetterFeatures(cues, Prepare(title, &t), Prepare(content, &c), opt.bigrams, &sink);
  return sink.Take();
}

namespace {

// Number of quoted passages: “…” and «…» pairs by their opening mark, straight quotes by pairs.
int CountQuotes(std::string_view norm) {
  int straight = 0, curly = 0;
  for (size_t i = 0; i < norm.size(); ++i) {
    const unsigned char b = static_cast<unsigned char>(norm[i]);
    if (b == '"') {
      ++straight;
    } else if (b == 0xE2 && i + 2 < norm.size() && static_cast<unsigned char>(norm[i + 1]) == 0x80 &&
               static_cast<unsigned char>(norm[i + 2]) == 0x9C) {
      ++curly;  // U+201C
    } else if (b == 0xC2 && i + 1 < norm.size() && static_cast<unsigned char>(norm[i + 1]) == 0xAB) {
      ++curly;  // U+00AB
    }
  }
  return curly + straight / 2;
}

// Number of enumerated lines: a line opening with "1." / "2)" / "a)" / "-" / "+" / "*" / "•"
// followed by a space.
int CountItems(std::string_view norm) {
  int items = 0;
  size_t pos = 0;
  while (pos < norm.size()) {
    size_t i = pos;
    while (i < norm.size() && (norm[i] == ' ' || norm[i] == '\t')) ++i;
    size_t d = i;
    while (d < norm.size() && d - i < 2 && norm[d] >= '0' && norm[d] <= '9') ++d;
    bool item = false;
    if (d > i && d + 1 < norm.size() && (norm[d] == '.' || norm[d] == ')') && norm[d + 1] == ' ') {
      item = true;
    } else if (i + 2 < norm.size() && norm[i] >= 'a' && norm[i] <= 'e' && norm[i + 1] == ')' &&
               norm[i + 2] == ' ') {
      item = true;
    } else if (i + 1 < norm.size() && (norm[i] == '-' || norm[i] == '+' || norm[i] == '*') &&
               norm[i + 1] == ' ') {
      item = true;
    } else if (norm.substr(i, 3) == "\xE2\x80\xA2") {
      item = true;
    }
    items += item;
    size_t nl = norm.find('\n', pos);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return items;
}

// Byte offsets in norm where a quotation opens: every “ (U+201C) and « (U+00AB), and every
// odd-numbered straight quote (the first of each pair).
void QuoteOpenings(std::string_view norm, std::vector<uint32_t>* out) {
  out->clear();
  bool straight_open = false;
  for (size_t i = 0; i < norm.size(); ++i) {
    const unsigned char b = static_cast<unsigned char>(norm[i]);
    if (b == '"') {
      if (!straight_open) out->push_back(static_cast<uint32_t>(i));
      straight_open = !straight_open;
    } else if (b == 0xE2 && i + 2 < norm.size() && static_cast<unsigned char>(norm[i + 1]) == 0x80 &&
               static_cast<unsigned char>(norm[i + 2]) == 0x9C) {
      out->push_back(static_cast<uint32_t>(i));
    } else if (b == 0xC2 && i + 1 < norm.size() && static_cast<unsigned char>(norm[i + 1]) == 0xAB) {
      out->push_back(static_cast<uint32_t>(i));
    }
  }
}

bool AllDigits(std::string_view w) {
  return !w.empty() && std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

void ExtractLetterFeatures(const LetterCues& cues, const text::MatchText* title,
                           const text::MatchText* content, bool bigrams, FeatureSink* sink_ptr) {
  FeatureSink& sink = *sink_ptr;
  // Scratch buffers, kept per thread so that reading a letter allocates nothing once warm
  // (every one is cleared before use; no call below re-enters this function).
  struct Scratch {
    std::vector<text::KeywordMatcher::Hit> hits;
    std::vector<int> count_max;
    // (cue, phrase index) of the hits of cues with "distinct" thresholds, and (cue, sentence)
    // of those with "sentences" thresholds; sorted and counted per cue after the hits.
    std::vector<std::pair<uint32_t, uint32_t>> fired, in_sentences;
    std::vector<std::pair<uint32_t, uint32_t>> hit_sentences;  // (cue, sentence) of every hit
    std::vector<Word> words;
    std::vector<uint32_t> quotes;          // norm offsets where a quotation opens
    std::vector<uint32_t> quote_sentences;  // sentences holding one, sorted, unique
    std::vector<std::pair<uint32_t, uint32_t>> acts;     // (paragraph, act) of content hits
    std::vector<std::pair<uint32_t, uint32_t>> markers;  // (paragraph, cue) at a paragraph's start
    std::vector<std::pair<uint32_t, uint64_t>> names;    // (cue, key) of "names" cues
    std::vector<std::pair<uint32_t, uint32_t>> masks;    // (paragraph, bit mask of its acts)
    // By cue index, over title and content: bit 0 a hit (negated or not), bit 1 an unnegated one.
    std::vector<uint8_t> seen;
  };
  thread_local Scratch scratch;
  auto& hits = scratch.hits;
  auto& count_max = scratch.count_max;
  count_max.assign(cues.cues_.size(), -1);
  auto& fired = scratch.fired;
  auto& in_sentences = scratch.in_sentences;
  auto& hit_sentences = scratch.hit_sentences;
  fired.clear();
  in_sentences.clear();
  hit_sentences.clear();
  std::vector<Word>& words = scratch.words;
  auto& seen = scratch.seen;  // used only when this cue file has absences (sized to it)
  const bool track = !cues.absent_.empty();
  if (track) seen.assign(cues.cues_.size(), 0);
  for (int part = 0; part < 2; ++part) {
    const text::MatchText* prepared = part == 0 ? title : content;
    if (!prepared) continue;
    const text::MatchText& mt = *prepared;
    WordsOf(mt, &words);
    if (words.empty()) continue;
    if (part == 0) {
      NgramFeatures(words, "t:", "tb:", bigrams, &sink);
    } else {
      NgramFeatures(words, "w:", "b:", bigrams, &sink);
      // Length band: short notes and long letters read differently.
      sink.Add("len:", words.size() < 60 ? "short" : words.size() < 250 ? "mid" : "long");
      // Structure: quoted words (what an officer said), enumerated contents, a phone number
      // (a writer who gives their number is not anonymous).
      const int quotes = CountQuotes(mt.norm);
      for (size_t k = 0; k < cues.quote_thresholds_.size(); ++k)
        if (quotes >= cues.quote_thresholds_[k])
          sink.AddNamed(cues.quote_feat_[k].hash, cues.quote_feat_[k].text);
      const int items = CountItems(mt.norm);
      for (size_t k = 0; k < cues.item_thresholds_.size(); ++k)
        if (items >= cues.item_thresholds_[k])
          sink.AddNamed(cues.item_feat_[k].hash, cues.item_feat_[k].text);
      if (cues.phone_digits_ > 0) {
        size_t run = 0;
        for (size_t i = 0; i < words.size() && run < static_cast<size_t>(cues.phone_digits_); ++i) {
          const bool continues = i > 0 && words[i - 1].sentence == words[i].sentence &&
                                 words[i].norm_begin - words[i - 1].norm_end <= 2;
          if (words[i].token[0] != '#' || !AllDigits(words[i].folded)) {
            run = 0;
          } else if (run > 0 && continues) {
            run += words[i].folded.size();
          } else {
            run = words[i].folded[0] == '0' ? words[i].folded.size() : 0;
          }
        }
        if (run >= static_cast<size_t>(cues.phone_digits_))
          sink.AddNamed(cues.phone_feat_.hash, cues.phone_feat_.text);
      }
    }
    hits.clear();
    cues.matcher_.Find(mt, &hits);
    if (hits.empty()) continue;
    auto word_at = [&](uint32_t norm_begin) {
      return static_cast<size_t>(
          std::lower_bound(words.begin(), words.end(), norm_begin,
                           [](const Word& w, uint32_t b) { return w.norm_begin < b; }) -
          words.begin());
    };
    auto is_unless_for = [&](uint32_t cue, const text::KeywordMatcher::Hit& h) {
      if (cues.cues_[cue].unless.empty()) return false;
      for (const auto& u : hits) {
        if (u.norm_end <= h.norm_begin || u.norm_begin >= h.norm_end) continue;
        for (const auto& r : cues.roles_[u.keyword])
          if (r.cue == cue && r.role == 1) return true;
      }
      return false;
    };
    std::fill(count_max.begin(), count_max.end(), -1);
    fired.clear();
    in_sentences.clear();
    hit_sentences.clear();
    scratch.acts.clear();
    scratch.markers.clear();
    scratch.names.clear();
    for (const auto& h : hits) {
      for (const auto& r : cues.roles_[h.keyword]) {
        if (r.role != 0) continue;
        const uint32_t ci = r.cue;
        const LetterCues::Cue& cue = cues.cues_[ci];
        if (is_unless_for(ci, h)) continue;
        size_t wi = word_at(h.norm_begin);
        if (wi >= words.size()) continue;
        if (cue.count) {
          for (size_t back = 1; back <= 2 && back <= wi; ++back) {
            const Word& w = words[wi - back];
            if (w.sentence != words[wi].sentence) break;
            const std::string_view form = mt.has_diacritics ? w.norm : w.folded;
            if (back == 1 && cues.count_fillers_.count(std::string(form))) {
              continue;  // "45 em học sinh": a classifier between the number and the noun
            }
            int value = -1;
            if (AllDigits(w.folded)) {
              if (w.folded.size() <= 5) value = std::atoi(std::string(w.folded).c_str());
            } else {
              const auto& table = mt.has_diacritics ? cues.number_words_ : cues.number_words_folded_;
              auto it = table.find(std::string(form));
              if (it != table.end()) value = it->second;
            }
            if (value >= 0) {
              count_max[ci] = std::max(count_max[ci], value);
              sink.Count(ci, value, std::string_view(mt.norm).substr(w.norm_begin, h.norm_end - w.norm_begin));
            }
            break;
          }
          continue;
        }
        bool negated = false;
        for (int back = 1; back <= cue.window && static_cast<size_t>(back) <= wi; ++back) {
          const Word& w = words[wi - back];
          if (w.sentence != words[wi].sentence) break;
          for (const auto& [norm, folded] : cue.negators) {
            if (mt.has_diacritics ? w.norm == norm : w.folded == folded) {
              negated = true;
              break;
            }
          }
          if (negated) break;
        }
        const auto& name = negated ? cue.feat_neg[part] : cue.feat[part];
        sink.AddNamed(name.hash, name.text);
        if (track) seen[ci] |= negated ? 1 : 3;
        if (!negated && !cue.distinct.empty()) fired.emplace_back(ci, r.phrase);
        if (!negated && !cue.sentences.empty()) in_sentences.emplace_back(ci, words[wi].sentence);
        if (!negated) hit_sentences.emplace_back(ci, words[wi].sentence);
        if (!negated && part == 1) {
          if (cues.act_of_cue_[ci] >= 0) scratch.acts.emplace_back(words[wi].paragraph, cues.act_of_cue_[ci]);
          if (cues.marker_cue_[ci] && words[wi].para_pos < static_cast<uint32_t>(cues.marker_window_))
            scratch.markers.emplace_back(words[wi].paragraph, ci);
        }
        if (!negated && cue.name_syllables > 0) {
          // The key: the phrase and the words after the hit in its sentence.
          size_t after = wi;
          while (after < words.size() && words[after].norm_begin < h.norm_end) ++after;
          uint64_t key = Fnv(kFnvOffset, std::string_view(reinterpret_cast<const char*>(&r.phrase),
                                                          sizeof r.phrase));
          int taken = 0;
          for (; taken < cue.name_syllables && after < words.size() &&
                 words[after].sentence == words[wi].sentence;
               ++taken, ++after)
            key = Fnv(Fnv(key, " "), words[after].folded);
          if (taken > 0) scratch.names.emplace_back(ci, key);
        }
      }
    }
    if (!scratch.names.empty()) {
      auto& nm = scratch.names;
      std::sort(nm.begin(), nm.end());
      nm.erase(std::unique(nm.begin(), nm.end()), nm.end());
      for (size_t i = 0; i < nm.size();) {
        size_t j = i;
        while (j < nm.size() && nm[j].first == nm[i].first) ++j;
        const LetterCues::Cue& cue = cues.cues_[nm[i].first];
        for (size_t k = 0; k < cue.name_thresholds.size(); ++k)
          if (static_cast<int>(j - i) >= cue.name_thresholds[k])
            sink.AddNamed(cue.name_feat[k].hash, cue.name_feat[k].text);
        i = j;
      }
    }
    if (part == 1 && !scratch.acts.empty()) {
      // Per paragraph, the set of acts (at most 16: a bit mask).
      auto& acts = scratch.acts;
      std::sort(acts.begin(), acts.end());
      auto& masks = scratch.masks;
      masks.clear();
      for (const auto& [para, act] : acts) {
        if (masks.empty() || masks.back().first != para) masks.emplace_back(para, 0);
        masks.back().second |= 1u << act;
      }
      uint32_t all = 0;
      for (const auto& m : masks) all |= m.second;
      const int distinct = __builtin_popcount(all);
      for (size_t k = 0; k < cues.act_thresholds_.size(); ++k)
        if (distinct >= cues.act_thresholds_[k])
          sink.AddNamed(cues.acts_feat_[k].hash, cues.acts_feat_[k].text);
      const size_t n = cues.acts_;
      for (size_t a = 0; a < n; ++a) {
        if (!(all >> a & 1)) continue;
        for (size_t b = a + 1; b < n; ++b) {
          if (!(all >> b & 1)) continue;
          bool a_alone = false, b_alone = false;
          for (const auto& m : masks) {
            a_alone |= (m.second >> a & 1) && !(m.second >> b & 1);
            b_alone |= (m.second >> b & 1) && !(m.second >> a & 1);
          }
          if (a_alone && b_alone)
            sink.AddNamed(cues.apart_feat_[a * n + b].hash, cues.apart_feat_[a * n + b].text);
        }
      }
      // A marker opening a paragraph that follows one holding an act.
      for (const auto& [para, ci] : scratch.markers)
        if (masks.front().first < para)
          sink.AddNamed(cues.marker_feat_[ci].hash, cues.marker_feat_[ci].text);
    }
    for (size_t ci = 0; ci < cues.cues_.size(); ++ci) {
      const LetterCues::Cue& cue = cues.cues_[ci];
      if (count_max[ci] >= 0) {
        for (size_t k = 0; k < cue.thresholds.size(); ++k)
          if (count_max[ci] >= cue.thresholds[k])
            sink.AddNamed(cue.threshold_feat[k].hash, cue.threshold_feat[k].text);
      }
    }
    // Distinct phrases and sentences per cue: runs of equal cue in the sorted, unique pairs.
    auto thresholds = [&](std::vector<std::pair<uint32_t, uint32_t>>* pairs, bool sentences) {
      std::sort(pairs->begin(), pairs->end());
      pairs->erase(std::unique(pairs->begin(), pairs->end()), pairs->end());
      for (size_t i = 0; i < pairs->size();) {
        size_t j = i;
        while (j < pairs->size() && (*pairs)[j].first == (*pairs)[i].first) ++j;
        const LetterCues::Cue& cue = cues.cues_[(*pairs)[i].first];
        const auto& ts = sentences ? cue.sentences : cue.distinct;
        const auto& names = sentences ? cue.sentence_feat : cue.distinct_feat;
        for (size_t k = 0; k < ts.size(); ++k)
          if (static_cast<int>(j - i) >= ts[k]) sink.AddNamed(names[k].hash, names[k].text);
        i = j;
      }
    };
    thresholds(&fired, false);
    thresholds(&in_sentences, true);
    // Co-occurrence in one sentence (content only: a title is one short line).
    if (part == 1 && !hit_sentences.empty()) {
      std::sort(hit_sentences.begin(), hit_sentences.end());
      hit_sentences.erase(std::unique(hit_sentences.begin(), hit_sentences.end()), hit_sentences.end());
      // Sentences in which a quotation opens (the sentence of the first word after the mark),
      // computed only when a cue asks for them.
      auto& quote_sentences = scratch.quote_sentences;
      quote_sentences.clear();
      if (cues.any_with_quote_) {
        QuoteOpenings(mt.norm, &scratch.quotes);
        for (uint32_t q : scratch.quotes) {
          const size_t wi = word_at(q);
          if (wi < words.size()) quote_sentences.push_back(words[wi].sentence);
        }
        quote_sentences.erase(std::unique(quote_sentences.begin(), quote_sentences.end()),
                              quote_sentences.end());
      }
      auto quoted = [&](uint32_t sentence) {
        return std::binary_search(quote_sentences.begin(), quote_sentences.end(), sentence);
      };
      for (size_t i = 0; i < hit_sentences.size();) {
        const uint32_t ci = hit_sentences[i].first;
        size_t j = i;
        while (j < hit_sentences.size() && hit_sentences[j].first == ci) ++j;
        const LetterCues::Cue& cue = cues.cues_[ci];
        for (size_t k = 0; k < cue.with.size(); ++k) {
          bool together = false;
          for (size_t x = i; x < j && !together; ++x)
            together = std::binary_search(hit_sentences.begin(), hit_sentences.end(),
                                          std::make_pair(cue.with[k], hit_sentences[x].second));
          if (together) sink.AddNamed(cue.with_feat[k].hash, cue.with_feat[k].text);
        }
        if (cue.with_quote && !quote_sentences.empty()) {
          bool any = false;
          for (size_t x = i; x < j && !any; ++x) any = quoted(hit_sentences[x].second);
          if (any) sink.AddNamed(cue.quote_feat.hash, cue.quote_feat.text);
          for (size_t k = 0; any && k < cue.with.size(); ++k) {
            bool together = false;
            for (size_t x = i; x < j && !together; ++x)
              together = quoted(hit_sentences[x].second) &&
                         std::binary_search(hit_sentences.begin(), hit_sentences.end(),
                                            std::make_pair(cue.with[k], hit_sentences[x].second));
            if (together) sink.AddNamed(cue.with_quote_feat[k].hash, cue.with_quote_feat[k].text);
          }
        }
        i = j;
      }
    }
  }
  // Absences, once both parts are read (a letter with no text at all says nothing).
  if ((title || content) && track) {
    for (const auto& ab : cues.absent_) {
      bool when = ab.when.empty();
      for (uint32_t ci : ab.when) when |= (seen[ci] & 2) != 0;
      bool none = true;
      for (uint32_t ci : ab.none_of) none &= seen[ci] == 0;
      if (when && none) sink.AddNamed(ab.feat.hash, ab.feat.text);
    }
  }
}


// ---- model ----------------------------------------------------------------------------------

Result<std::shared_ptr<const LetterModel>> LetterModel::FromJson(
    const json& doc, std::shared_ptr<const LetterCues> cues) {
  std::shared_ptr<LetterModel> m(new LetterModel());
  m->cues_ = std::move(cues);
  std::vector<std::array<float, 13>> weights;
  try {
    if (doc.value("format", "") != "danvan-letter-model/1")
      return Status::InvalidInput("/format: cần \"danvan-letter-model/1\"");
    m->version_ = doc.at("version").get<std::string>();
    std::string cues_version = doc.at("cues_version").get<std::string>();
    if (cues_version != m->cues_->version())
      return Status::InvalidInput("/cues_version: mô hình được huấn luyện với tệp dấu hiệu " +
                                  cues_version + ", tệp đang dùng là " + m->cues_->version() +
                                  "; hãy huấn luyện lại (tools/danvan-letters train)");
    m->bigrams_ = doc.at("options").value("bigrams", true);
    const json& kind = doc.at("kind");
    for (size_t k = 0; k < 4; ++k) {
      if (kind.at("classes").at(k) != kLetterKinds[k])
        return Status::InvalidInput("/kind/classes/" + std::to_string(k) + ": cần " + kLetterKinds[k]);
      m->kind_bias_[k] = kind.at("bias").at(k).get<double>();
    }
    const json& features = doc.at("features");
    const size_t n = features.size();
    m->names_.reserve(n);
    weights.reserve(n);
    for (size_t f = 0; f < 5; ++f) {
      const json& j = doc.at("flags").at(kLetterFlags[f]);
      m->flags_[f].bias = j.at("bias").get<double>();
      m->flags_[f].threshold = j.at("threshold").get<double>();
    }
    for (size_t k = 0; k < 4; ++k) {
      const json& j = doc.at("secondary").at(kLetterKinds[k]);
      m->secondary_[k].bias = j.at("bias").get<double>();
      m->secondary_[k].threshold = j.at("threshold").get<double>();
    }
    for (auto& [name, w] : features.items()) {
      if (!w.is_array() || w.size() != 13)
        return Status::InvalidInput("/features/" + name + ": cần 13 trọng số (4 loại, 5 cờ, 4 loại phụ)");
      m->names_.push_back(name);
      std::array<float, 13> all{};
      for (size_t o = 0; o < 13; ++o) all[o] = w[o].get<float>();
      weights.push_back(all);
    }
    // Complex by condition: the detectors follow the cue file's complex_conditions, in order.
    if (auto cc = doc.find("complex_conditions"); cc != doc.end()) {
      const auto& conds = m->cues_->complex_conditions();
      const json& dets = cc->at("detectors");
      if (cc->value("combine", "") != "any")
        return Status::InvalidInput("/complex_conditions/combine: cần \"any\"");
      if (!dets.is_array() || dets.size() != conds.size())
        return Status::InvalidInput("/complex_conditions/detectors: cần " + std::to_string(conds.size()) +
                                    " bộ phát hiện theo complex_conditions của tệp dấu hiệu");
      for (size_t c = 0; c < conds.size(); ++c) {
        const json& d = dets[c];
        if (d.at("id").get<std::string>() != conds[c].id)
          return Status::InvalidInput("/complex_conditions/detectors/" + std::to_string(c) + "/id: cần " + conds[c].id);
        Detector det;
        det.id = conds[c].id;
        det.bias = d.at("bias").get<double>();
        det.threshold = d.at("threshold").is_null() ? 2.0 : d.at("threshold").get<double>();
        m->detectors_.push_back(det);
      }
      std::unordered_map<std::string, uint32_t> index;
      for (uint32_t i = 0; i < m->names_.size(); ++i) index.emplace(m->names_[i], i);
      const size_t k = conds.size();
      for (auto& [name, w] : doc.at("condition_features").items()) {
        if (!w.is_array() || w.size() != k)
          return Status::InvalidInput("/condition_features/" + name + ": cần " + std::to_string(k) + " trọng số");
        auto [it, added] = index.emplace(name, static_cast<uint32_t>(m->names_.size()));
        if (added) {
          m->names_.push_back(name);
          weights.push_back({});
        }
        if (m->det_row_.size() < m->names_.size()) m->det_row_.resize(m->names_.size(), -1);
        m->det_row_[it->second] = static_cast<int32_t>(m->det_w_.size() / k);
        for (size_t c = 0; c < k; ++c) m->det_w_.push_back(w[c].get<float>());
      }
      m->det_row_.resize(m->names_.size(), -1);
    } else if (!m->cues_->complex_conditions().empty() && doc.contains("condition_features")) {
      return Status::InvalidInput("/complex_conditions: thiếu");
    }
  } catch (const std::exception& e) {
    return Status::InvalidInput(std::string("mô hình đọc đơn không hợp lệ: ") + e.what());
  }
  size_t size = 16;
  while (size < m->names_.size() * 2) size <<= 1;
  m->keys_.assign(size, 0);
  m->index_.assign(size, 0);
  m->mask_ = size - 1;
  m->weights_.resize(m->names_.size());
  for (uint32_t i = 0; i < m->names_.size(); ++i) {
    uint64_t h = FeatureHash(m->names_[i]);
    if (h == 0 || m->Lookup(h) >= 0)
      return Status::InvalidInput("/features/" + m->names_[i] + ": trùng mã băm với một đặc trưng khác");
    uint64_t slot = h & m->mask_;
    while (m->keys_[slot] != 0) slot = (slot + 1) & m->mask_;
    m->keys_[slot] = h;
    m->index_[slot] = i;
    m->weights_[i].w = weights[i];
  }
  return std::shared_ptr<const LetterModel>(std::move(m));
}

Result<std::shared_ptr<const LetterModel>> LetterModel::FromFile(
    const std::string& path, std::shared_ptr<const LetterCues> cues) {
  auto doc = ReadJson(path);
  if (!doc.ok()) return doc.status();
  auto m = FromJson(doc.value(), std::move(cues));
  if (!m.ok()) return Status::InvalidInput(path + ": " + m.status().message());
  return m;
}

int64_t LetterModel::Lookup(uint64_t hash) const {
  if (keys_.empty() || hash == 0) return -1;
  for (uint64_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
    const uint64_t k = keys_[slot];
    if (k == hash) return index_[slot];
    if (k == 0) return -1;
  }
}

LetterReading LetterModel::Read(std::string_view title, std::string_view content) const {
  std::optional<text::MatchText> t, c;
  return ReadPrepared(Prepare(title, &t), Prepare(content, &c));
}

LetterReading LetterModel::ReadPrepared(const text::MatchText* title,
                                        const text::MatchText* content) const {
  // One sink per thread, reused: its hashes buffer is not reallocated for every letter.
  thread_local FeatureSink sink(false);
  sink.Reset();
  sink.set_keep_counts(true);
  ExtractLetterFeatures(*cues_, title, content, bigrams_, &sink);
  LetterReading r = ReadHashes(sink.hashes());
  r.counts.reserve(sink.counts().size());
  for (const auto& c : sink.counts()) r.counts.push_back({cues_->cue_id(c.cue), c.value, c.text});
  return r;
}

LetterReading LetterModel::ReadFeatures(const std::vector<LetterFeature>& features) const {
  std::vector<uint64_t> hashes;
  hashes.reserve(features.size());
  for (const auto& f : features) hashes.push_back(f.hash);
  return ReadHashes(hashes);
}

LetterReading LetterModel::ReadHashes(const std::vector<uint64_t>& hashes) const {
  LetterReading r;
  // The known features of the letter, each once (hashes come unsorted, with repeats): a
  // per-thread bitmap over feature indices marks those already taken and is cleared after.
  if (!keys_.empty())
    for (uint64_t h : hashes) __builtin_prefetch(&keys_[h & mask_]);
  thread_local std::vector<uint64_t> seen;
  if (seen.size() * 64 < weights_.size()) seen.resize((weights_.size() + 63) / 64, 0);
  thread_local std::vector<uint32_t> active;  // per-thread scratch, cleared here
  active.clear();
  for (uint64_t h : hashes) {
    const int64_t i = Lookup(h);
    if (i < 0) continue;
    uint64_t& word = seen[static_cast<size_t>(i) >> 6];
    const uint64_t bit = uint64_t{1} << (i & 63);
    if (word & bit) continue;
    word |= bit;
    __builtin_prefetch(&weights_[static_cast<size_t>(i)]);
    active.push_back(static_cast<uint32_t>(i));
  }
  for (uint32_t i : active) seen[i >> 6] = 0;
  r.has_text = !hashes.empty();
  // Top contributions of the active features to one decision.
  // Only the kEvidence largest are named (names are copied for those alone).
  // The kEvidence largest contributions are kept in a small sorted array while the active
  // features are scanned (a contribution not above the smallest kept costs one comparison);
  // equal contributions keep the order of `active`.
  auto top = [&](auto contribution) {
    std::array<std::pair<double, uint32_t>, kEvidence> best;
    size_t n = 0;
    for (uint32_t i : active) {
      const double c = contribution(i);
      if (c <= 1e-3 || (n == kEvidence && c <= best[n - 1].first)) continue;
      size_t at = n < kEvidence ? n++ : n - 1;
      while (at > 0 && best[at - 1].first < c) {
        best[at] = best[at - 1];
        --at;
      }
      best[at] = {c, i};
    }
    std::vector<Evidence> ev;
    ev.reserve(n);
    for (size_t k = 0; k < n; ++k) ev.push_back({names_[best[k].second], Round3(best[k].first)});
    return ev;
  };

  // All 13 scores in one pass over the active features.
  std::array<double, 13> score{};
  for (size_t k = 0; k < 4; ++k) score[k] = kind_bias_[k];
  for (size_t f = 0; f < 5; ++f) score[4 + f] = flags_[f].bias;
  for (size_t k = 0; k < 4; ++k) score[9 + k] = secondary_[k].bias;
  for (uint32_t i : active) {
    const std::array<float, 13>& w = weights_[i].w;
    for (size_t o = 0; o < 13; ++o) score[o] += w[o];
  }
  double mx = std::max({score[0], score[1], score[2], score[3]}), z = 0;
  for (size_t k = 0; k < 4; ++k) z += std::exp(score[k] - mx);
  size_t best = 0;
  for (size_t k = 0; k < 4; ++k) {
    r.kind_probabilities[k] = std::exp(score[k] - mx) / z;
    if (r.kind_probabilities[k] > r.kind_probabilities[best]) best = k;
  }
  r.kind.value = kLetterKinds[best];
  r.kind.probability = r.kind.confidence = r.kind_probabilities[best];
  r.kind.evidence = top([&](uint32_t i) {
    const std::array<float, 13>& w = weights_[i].w;
    double mean = (w[0] + w[1] + w[2] + w[3]) / 4.0;
    return w[best] - mean;
  });

  auto binary = [&](size_t o, double threshold, bool* decided, bool explain_no) {
    double p = Sigmoid(score[o]);
    *decided = p >= threshold;
    LetterDecision d;
    d.value = *decided ? "true" : "false";
    d.probability = p;
    d.confidence = *decided ? p : 1 - p;
    const double sign = *decided ? 1.0 : -1.0;
    if (*decided || explain_no) d.evidence = top([&](uint32_t i) { return sign * weights_[i].w[o]; });
    return d;
  };
  std::array<bool, 5> flag{};
  // A "no" is explained only when it is unsure (confidence below kExplainNoBelow): the others
  // are the common case and their evidence would cost more than the rest of the reading.
  for (size_t f = 0; f < 5; ++f) {
    const double p = Sigmoid(score[4 + f]);
    const bool unsure_no = p < flags_[f].threshold && 1 - p < kExplainNoBelow;
    r.flags[f] = binary(4 + f, flags_[f].threshold, &flag[f], unsure_no);
  }
  for (size_t k = 0; k < 4; ++k) {
    if (k == best) continue;
    bool yes = false;
    // A secondary kind not taken is not explained (it is not reported).
    LetterDecision d = binary(9 + k, secondary_[k].threshold, &yes, false);
    d.value = std::string(kLetterKinds[k]) + (yes ? "" : ":no");
    if (yes) r.secondary.push_back(kLetterKinds[k]);
    r.secondary_decisions.push_back(std::move(d));
  }
  // Complex by condition (domain.md §3a: complex when any one condition holds): each detector
  // scores its condition; the flag is true when the general output or any detector reaches its
  // threshold. Its probability is the largest of theirs; decided true, its confidence is the
  // largest probability among those that fired, and the evidence names each detector's features.
  if (!detectors_.empty()) {
    constexpr size_t kDetectorEvidence = 3;
    const size_t k = detectors_.size();
    std::array<double, 8> ds{};
    for (size_t c = 0; c < k; ++c) ds[c] = detectors_[c].bias;
    for (uint32_t i : active) {
      const int32_t row = det_row_[i];
      if (row < 0) continue;
      const float* w = &det_w_[static_cast<size_t>(row) * k];
      for (size_t c = 0; c < k; ++c) ds[c] += w[c];
    }
    LetterDecision& d = r.flags[0];
    const bool general = flag[0];
    double p_max = d.probability, p_fired = general ? d.probability : 0;
    r.complex_conditions.reserve(k);
    for (size_t c = 0; c < k; ++c) {
      const double p = Sigmoid(ds[c]);
      const bool fired = p >= detectors_[c].threshold;
      r.complex_conditions.push_back({detectors_[c].id, p, fired});
      p_max = std::max(p_max, p);
      if (!fired) continue;
      p_fired = std::max(p_fired, p);
      if (!flag[0]) d.evidence.clear();  // the general output's "no" is not the reason
      flag[0] = true;
      auto ev = top([&](uint32_t i) {
        const int32_t row = det_row_[i];
        return row < 0 ? 0.0 : static_cast<double>(det_w_[static_cast<size_t>(row) * k + c]);
      });
      for (size_t e = 0; e < ev.size() && e < kDetectorEvidence; ++e) {
        ev[e].condition = detectors_[c].id;
        d.evidence.push_back(ev[e]);
      }
    }
    d.probability = p_max;
    d.value = flag[0] ? "true" : "false";
    d.confidence = flag[0] ? p_fired : 1 - p_max;
  }
  // Invariants (domain.md §3a): group => complex; anonymous only on a denunciation.
  if (flag[1] && !flag[0]) {
    LetterDecision& c = r.flags[0];
    c.value = "true";
    c.confidence = r.flags[1].confidence;
    c.evidence = {{"invariant:group=>complex", 0}};
  }
  if (flag[3] && best != 1) {
    LetterDecision& a = r.flags[3];
    a.value = "false";
    a.confidence = std::min(1 - a.probability, r.kind.confidence);
    a.evidence = {{"invariant:anonymous=>denunciation", 0}};
  }
  return r;
}

const CountReading* LetterReading::CountOf(const Evidence& e) const {
  if (e.feature.size() <= 2 || e.feature.substr(0, 2) != "n:") return nullptr;
  const size_t ge = e.feature.find(">=");
  if (ge == std::string_view::npos) return nullptr;
  const std::string_view cue = e.feature.substr(2, ge - 2);
  for (const CountReading& c : counts)
    if (c.cue == cue) return &c;
  return nullptr;
}

nlohmann::json LetterReading::EvidenceJson(const Evidence& e) const {
  json one = json::object();
  one.emplace("feature", std::string(e.feature));
  one.emplace("weight", e.weight);
  if (!e.condition.empty()) one.emplace("condition", std::string(e.condition));
  // A count feature "n:<cue>>=<t>": the number and the words it was read from.
  if (const CountReading* c = CountOf(e)) {
    one.emplace("count", c->value);
    one.emplace("text", c->text);
  }
  return one;
}

nlohmann::json LetterReading::ToJson(bool decided_evidence) const {
  auto dec = [this](const LetterDecision& d, bool with_evidence) {
    json out = json::object();
    out["value"] = d.value;
    out["confidence"] = Round3(d.confidence);
    if (with_evidence) {
      json ev = json::array();
      ev.get_ref<json::array_t&>().reserve(d.evidence.size());
      for (const auto& e : d.evidence) ev.push_back(EvidenceJson(e));
      out["evidence"] = std::move(ev);
    }
    return out;
  };
  json flags_json = json::object();
  for (size_t f = 0; f < 5; ++f) {
    const bool yes = flags[f].value == "true";
    json d = dec(flags[f], decided_evidence || !yes);
    d["value"] = yes;
    if (f == 0 && !complex_conditions.empty()) {
      json conds = json::array();
      for (const ConditionReading& c : complex_conditions)
        conds.push_back({{"condition", std::string(c.id)},
                         {"probability", Round3(c.probability)},
                         {"value", c.fired}});
      d["conditions"] = std::move(conds);
    }
    flags_json[kLetterFlags[f]] = std::move(d);
  }
  json probs = json::object();
  for (size_t k = 0; k < 4; ++k) probs[kLetterKinds[k]] = Round3(kind_probabilities[k]);
  json out = json::object();
  out["kind"] = dec(kind, decided_evidence);
  out["kind_probabilities"] = std::move(probs);
  out["secondary"] = secondary;
  out["flags"] = std::move(flags_json);
  if (!counts.empty()) {
    json cs = json::array();
    for (const CountReading& c : counts)
      cs.push_back({{"cue", std::string(c.cue)}, {"value", c.value}, {"text", c.text}});
    out["counts"] = std::move(cs);
  }
  return out;
}

namespace {

// `"key":` inside an object being written, after a comma unless it is the first member. Keys
// are ASCII names without escapes. The callers write members in nlohmann's order (std::map's:
// sorted by key), so the text is the one AppendJson writes for the same document.
void Key(const char* key, bool* first, std::string* out) {
  if (!*first) out->push_back(',');
  *first = false;
  out->push_back('"');
  out->append(key);
  out->append("\":");
}

}  // namespace

void LetterReading::AppendEvidenceText(const Evidence& e, std::string* out) const {
  const CountReading* count = CountOf(e);
  bool first = true;
  out->push_back('{');
  if (!e.condition.empty()) {
    Key("condition", &first, out);
    AppendJsonString(e.condition, out);
  }
  if (count) {
    Key("count", &first, out);
    AppendJsonInt(count->value, out);
  }
  Key("feature", &first, out);
  AppendJsonString(e.feature, out);
  if (count) {
    Key("text", &first, out);
    AppendJsonString(count->text, out);
  }
  Key("weight", &first, out);
  AppendJsonDouble(e.weight, out);
  out->push_back('}');
}

void LetterReading::AppendJsonText(bool decided_evidence, const std::string* model, std::string* out) const {
  auto evidence = [&](const LetterDecision& d, bool* first) {
    Key("evidence", first, out);
    out->push_back('[');
    for (size_t i = 0; i < d.evidence.size(); ++i) {
      if (i) out->push_back(',');
      AppendEvidenceText(d.evidence[i], out);
    }
    out->push_back(']');
  };
  bool first = true;
  out->push_back('{');
  if (!counts.empty()) {
    Key("counts", &first, out);
    out->push_back('[');
    for (size_t i = 0; i < counts.size(); ++i) {
      if (i) out->push_back(',');
      bool member = true;
      out->push_back('{');
      Key("cue", &member, out);
      AppendJsonString(counts[i].cue, out);
      Key("text", &member, out);
      AppendJsonString(counts[i].text, out);
      Key("value", &member, out);
      AppendJsonInt(counts[i].value, out);
      out->push_back('}');
    }
    out->push_back(']');
  }
  Key("flags", &first, out);
  out->push_back('{');
  bool first_flag = true;
  for (size_t f : kLetterFlagsByName) {
    const LetterDecision& d = flags[f];
    const bool yes = d.value == "true";
    Key(kLetterFlags[f], &first_flag, out);
    bool member = true;
    out->push_back('{');
    if (f == 0 && !complex_conditions.empty()) {
      Key("conditions", &member, out);
      out->push_back('[');
      for (size_t i = 0; i < complex_conditions.size(); ++i) {
        if (i) out->push_back(',');
        const ConditionReading& c = complex_conditions[i];
        bool cm = true;
        out->push_back('{');
        Key("condition", &cm, out);
        AppendJsonString(c.id, out);
        Key("probability", &cm, out);
        AppendJsonDouble(Round3(c.probability), out);
        Key("value", &cm, out);
        out->append(c.fired ? "true" : "false");
        out->push_back('}');
      }
      out->push_back(']');
    }
    Key("confidence", &member, out);
    AppendJsonDouble(Round3(d.confidence), out);
    if (decided_evidence || !yes) evidence(d, &member);
    Key("value", &member, out);
    out->append(yes ? "true" : "false");
    out->push_back('}');
  }
  out->push_back('}');
  Key("kind", &first, out);
  {
    bool member = true;
    out->push_back('{');
    Key("confidence", &member, out);
    AppendJsonDouble(Round3(kind.confidence), out);
    if (decided_evidence) evidence(kind, &member);
    Key("value", &member, out);
    AppendJsonString(kind.value, out);
    out->push_back('}');
  }
  Key("kind_probabilities", &first, out);
  {
    bool member = true;
    out->push_back('{');
    for (size_t k : kLetterKindsByName) {
      Key(kLetterKinds[k], &member, out);
      AppendJsonDouble(Round3(kind_probabilities[k]), out);
    }
    out->push_back('}');
  }
  if (model) {
    Key("model", &first, out);
    AppendJsonString(*model, out);
  }
  Key("secondary", &first, out);
  out->push_back('[');
  for (size_t i = 0; i < secondary.size(); ++i) {
    if (i) out->push_back(',');
    AppendJsonString(secondary[i], out);
  }
  out->push_back(']');
  out->push_back('}');
}

}  // namespace danvan::tagging
