#include "tagging/letter_model.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

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

// The words of a prepared text: folded form, NFC lower-case form, byte range in norm, and the
// sentence they belong to.
struct Word {
  std::string_view folded;
  std::string_view norm;
  uint32_t norm_begin;
  uint32_t norm_end;
  uint32_t sentence;
};

std::vector<Word> WordsOf(const text::MatchText& mt) {
  std::vector<Word> words;
  const std::string& f = mt.folded;
  uint32_t sentence = 0;
  uint32_t prev_end = 0;
  size_t i = 0;
  while (i < f.size()) {
    size_t j = f.find(' ', i);
    if (j == std::string::npos) j = f.size();
    if (j > i) {
      uint32_t nb = mt.folded_to_norm[i];
      uint32_t ne = mt.folded_to_norm[j];
      for (uint32_t k = prev_end; k < nb; ++k) {
        char c = mt.norm[k];
        if (c == '.' || c == '!' || c == '?' || c == ';' || c == '\n') {
          ++sentence;
          break;
        }
      }
      words.push_back({std::string_view(f).substr(i, j - i),
                       std::string_view(mt.norm).substr(nb, ne - nb), nb, ne, sentence});
      prev_end = ne;
    }
    i = j + 1;
  }
  return words;
}

bool HasDigit(std::string_view w) {
  return std::any_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; });
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
  explicit FeatureSink(bool names) : names_(names) {}
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
  std::vector<uint64_t> hashes_;
  std::vector<std::string> text_;
};

namespace {

std::string_view TokenOf(const Word& w) { return HasDigit(w.folded) ? "#" : w.folded; }

void NgramFeatures(const std::vector<Word>& words, std::string_view uni, std::string_view bi,
                   bool bigrams, FeatureSink* sink) {
  for (size_t i = 0; i < words.size(); ++i) {
    sink->Add(uni, TokenOf(words[i]));
    if (bigrams && i > 0 && words[i - 1].sentence == words[i].sentence)
      sink->Add2(bi, TokenOf(words[i - 1]), TokenOf(words[i]));
  }
}

double Sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

uint64_t FeatureHash(std::string_view name) { return Fnv(kFnvOffset, name); }

void ExtractLetterFeatures(const LetterCues& cues, std::string_view title, std::string_view content,
                           bool bigrams, FeatureSink* sink);

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
    const json& cues = doc.at("cues");
    if (!cues.is_array()) return Status::InvalidInput("/cues: phải là mảng");
    auto add_keywords = [&](const json& list, const std::string& ptr, uint32_t cue, uint8_t role,
                            std::vector<uint32_t>* out) -> Status {
      if (!list.is_array()) return Status::InvalidInput(ptr + ": phải là mảng chuỗi");
      for (size_t i = 0; i < list.size(); ++i) {
        if (!list[i].is_string()) return Status::InvalidInput(ptr + "/" + std::to_string(i) + ": phải là chuỗi");
        auto id = c->matcher_.Add(list[i].get<std::string>());
        if (!id.ok()) return Status::InvalidInput(ptr + "/" + std::to_string(i) + ": " + id.status().message());
        if (c->roles_.size() <= id.value()) c->roles_.resize(id.value() + 1);
        c->roles_[id.value()].push_back({cue, role});
        out->push_back(id.value());
      }
      return Status::Ok();
    };
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
      if (j.contains("unless")) {
        st = add_keywords(j["unless"], ptr + "/unless", index, 1, &cue.unless);
        if (!st.ok()) return st;
      }
      if (cue.count) {
        if (!j.contains("thresholds") || !j["thresholds"].is_array() || j["thresholds"].empty())
          return Status::InvalidInput(ptr + "/thresholds: dấu hiệu đếm cần ngưỡng");
        for (const auto& t : j["thresholds"]) cue.thresholds.push_back(t.get<int>());
      } else if (j.contains("negators")) {
        for (size_t k = 0; k < j["negators"].size(); ++k) {
          auto w = NormWord(j["negators"][k].get<std::string>());
          if (!w.ok()) return Status::InvalidInput(ptr + "/negators/" + std::to_string(k) + ": " + w.status().message());
          cue.negators.push_back(w.value());
        }
      } else if (j.value("negatable", true)) {
        cue.negators = default_negators;
      }
      for (const auto& prev : c->cues_)
        if (prev.id == cue.id) return Status::InvalidInput(ptr + "/id: trùng mã '" + cue.id + "'");
      c->cues_.push_back(std::move(cue));
    }
    c->matcher_.Build();
    c->roles_.resize(c->matcher_.size());
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
  ExtractLetterFeatures(cues, title, content, opt.bigrams, &sink);
  return sink.Take();
}

void ExtractLetterFeatures(const LetterCues& cues, std::string_view title, std::string_view content,
                           bool bigrams, FeatureSink* sink_ptr) {
  FeatureSink& sink = *sink_ptr;
  FeatureOptions opt;
  opt.bigrams = bigrams;
  std::vector<text::KeywordMatcher::Hit> hits;
  for (int part = 0; part < 2; ++part) {
    std::string_view t = part == 0 ? title : content;
    if (t.empty() || !text::IsValidUtf8(t)) continue;
    auto prepared = text::PrepareForMatch(t);
    if (!prepared.ok()) continue;
    const text::MatchText& mt = prepared.value();
    std::vector<Word> words = WordsOf(mt);
    if (words.empty()) continue;
    if (part == 0) {
      NgramFeatures(words, "t:", "tb:", opt.bigrams, &sink);
    } else {
      NgramFeatures(words, "w:", "b:", opt.bigrams, &sink);
      // Length band: short notes and long letters read differently.
      sink.Add("len:", words.size() < 60 ? "short" : words.size() < 250 ? "mid" : "long");
    }
    hits.clear();
    cues.matcher_.Find(mt, &hits);
    if (hits.empty()) continue;
    const std::string_view cue_prefix = part == 0 ? "tc:" : "c:";
    auto word_at = [&](uint32_t norm_begin) {
      return static_cast<size_t>(
          std::lower_bound(words.begin(), words.end(), norm_begin,
                           [](const Word& w, uint32_t b) { return w.norm_begin < b; }) -
          words.begin());
    };
    auto is_unless_for = [&](uint32_t cue, const text::KeywordMatcher::Hit& h) {
      for (const auto& u : hits) {
        if (u.norm_end <= h.norm_begin || u.norm_begin >= h.norm_end) continue;
        for (const auto& [c2, role] : cues.roles_[u.keyword])
          if (c2 == cue && role == 1) return true;
      }
      return false;
    };
    std::vector<int> count_max(cues.cues_.size(), -1);
    for (const auto& h : hits) {
      for (const auto& [ci, role] : cues.roles_[h.keyword]) {
        if (role != 0) continue;
        const LetterCues::Cue& cue = cues.cues_[ci];
        if (is_unless_for(ci, h)) continue;
        size_t wi = word_at(h.norm_begin);
        if (wi >= words.size()) continue;
        if (cue.count) {
          for (size_t back = 1; back <= 2 && back <= wi; ++back) {
            const Word& w = words[wi - back];
            if (w.sentence != words[wi].sentence) break;
            if (back == 1 && cues.count_fillers_.count(std::string(mt.has_diacritics ? w.norm : w.folded))) {
              continue;  // "45 em học sinh": a classifier between the number and the noun
            }
            int value = -1;
            if (std::all_of(w.folded.begin(), w.folded.end(),
                            [](char c) { return c >= '0' && c <= '9'; })) {
              if (w.folded.size() <= 5) value = std::atoi(std::string(w.folded).c_str());
            } else if (mt.has_diacritics) {
              auto it = cues.number_words_.find(std::string(w.norm));
              if (it != cues.number_words_.end()) value = it->second;
            } else {
              auto it = cues.number_words_folded_.find(std::string(w.folded));
              if (it != cues.number_words_folded_.end()) value = it->second;
            }
            if (value >= 0) count_max[ci] = std::max(count_max[ci], value);
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
        sink.Add(cue_prefix, negated ? cue.id + ":neg" : cue.id);
      }
    }
    for (size_t ci = 0; ci < cues.cues_.size(); ++ci) {
      if (count_max[ci] < 0) continue;
      for (int t : cues.cues_[ci].thresholds)
        if (count_max[ci] >= t) sink.Add("n:", cues.cues_[ci].id + ">=" + std::to_string(t));
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
  } catch (const std::exception& e) {
    return Status::InvalidInput(std::string("mô hình đọc đơn không hợp lệ: ") + e.what());
  }
  size_t size = 16;
  while (size < m->names_.size() * 2) size <<= 1;
  m->table_.assign(size, Slot{});
  m->mask_ = size - 1;
  for (uint32_t i = 0; i < m->names_.size(); ++i) {
    uint64_t h = FeatureHash(m->names_[i]);
    if (h == 0 || m->Lookup(h))
      return Status::InvalidInput("/features/" + m->names_[i] + ": trùng mã băm với một đặc trưng khác");
    uint64_t slot = h & m->mask_;
    while (m->table_[slot].hash != 0) slot = (slot + 1) & m->mask_;
    m->table_[slot].hash = h;
    m->table_[slot].index = i;
    m->table_[slot].w = weights[i];
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

const LetterModel::Slot* LetterModel::Lookup(uint64_t hash) const {
  if (table_.empty() || hash == 0) return nullptr;
  for (uint64_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
    const Slot& e = table_[slot];
    if (e.hash == hash) return &e;
    if (e.hash == 0) return nullptr;
  }
}

LetterReading LetterModel::Read(std::string_view title, std::string_view content) const {
  FeatureSink sink(false);
  ExtractLetterFeatures(*cues_, title, content, bigrams_, &sink);
  return ReadHashes(sink.hashes());
}

LetterReading LetterModel::ReadFeatures(const std::vector<LetterFeature>& features) const {
  std::vector<uint64_t> hashes;
  hashes.reserve(features.size());
  for (const auto& f : features) hashes.push_back(f.hash);
  return ReadHashes(hashes);
}

LetterReading LetterModel::ReadHashes(const std::vector<uint64_t>& hashes) const {
  LetterReading r;
  std::vector<const Slot*> active;
  active.reserve(hashes.size());
  if (!table_.empty()) {
    for (uint64_t h : hashes) __builtin_prefetch(&table_[h & mask_]);
  }
  for (uint64_t h : hashes) {
    if (const Slot* s = Lookup(h)) active.push_back(s);
  }
  // A feature counts once (Read passes hashes unsorted, with repeats).
  std::sort(active.begin(), active.end());
  active.erase(std::unique(active.begin(), active.end()), active.end());
  r.has_text = !hashes.empty();
  // Top contributions of the active features to one decision.
  // Only the kEvidence largest are named (names are copied for those alone).
  std::vector<std::pair<double, uint32_t>> scratch;
  scratch.reserve(active.size());
  auto top = [&](auto contribution) {
    scratch.clear();
    for (const Slot* s : active) {
      double c = contribution(s->w);
      if (c > 1e-3) scratch.emplace_back(c, s->index);
    }
    size_t keep = std::min(scratch.size(), kEvidence);
    std::partial_sort(scratch.begin(), scratch.begin() + keep, scratch.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<Evidence> ev;
    ev.reserve(keep);
    for (size_t k = 0; k < keep; ++k)
      ev.push_back({names_[scratch[k].second], std::round(scratch[k].first * 1000) / 1000});
    return ev;
  };

  // All 13 scores in one pass over the active features.
  std::array<double, 13> score{};
  for (size_t k = 0; k < 4; ++k) score[k] = kind_bias_[k];
  for (size_t f = 0; f < 5; ++f) score[4 + f] = flags_[f].bias;
  for (size_t k = 0; k < 4; ++k) score[9 + k] = secondary_[k].bias;
  for (const Slot* s : active) {
    for (size_t o = 0; o < 13; ++o) score[o] += s->w[o];
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
  r.kind.evidence = top([&](const std::array<float, 13>& w) {
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
    if (*decided || explain_no) d.evidence = top([&](const std::array<float, 13>& w) { return sign * w[o]; });
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

nlohmann::json LetterReading::ToJson() const {
  auto dec = [](const LetterDecision& d) {
    json ev = json::array();
    for (const auto& e : d.evidence) ev.push_back({{"feature", e.feature}, {"weight", e.weight}});
    return json{{"value", d.value},
                {"confidence", std::round(d.confidence * 1000) / 1000},
                {"evidence", std::move(ev)}};
  };
  json flags = json::object();
  for (size_t f = 0; f < 5; ++f) {
    json d = dec(this->flags[f]);
    d["value"] = this->flags[f].value == "true";
    flags[kLetterFlags[f]] = std::move(d);
  }
  json probs = json::object();
  for (size_t k = 0; k < 4; ++k) probs[kLetterKinds[k]] = std::round(kind_probabilities[k] * 1000) / 1000;
  json out = {{"kind", dec(kind)}, {"kind_probabilities", probs}, {"secondary", secondary},
              {"flags", std::move(flags)}};
  return out;
}

}  // namespace danvan::tagging
