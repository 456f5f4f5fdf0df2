// danvan-letters: trains, cross-validates and evaluates the letter reading (issue 12) on
// labelled letters (JSONL: {"id","title","content","labels":{"kind","secondary":[...],
// "complex","group","staff_conduct","anonymous","reraised"}}). One file is one batch (one
// writer); cross-validation leaves one batch out at a time, so a score is always measured on
// a writer the model never saw.
//
//   danvan-letters train --cues config/tagging/cues.json --out config/tagging/letter_model.json
//                        [--l2 X] [--l2-kind X] [--epochs N] [--min-df N] [--no-bigrams]
//                        [--l2-ngram X] [--l2-ngram-complex X] [--beta B] [--per-batch-thresholds] [--l2-complex X]
//                        [--complex-exclude BATCH,...] FILE...
//   (--complex-exclude: those batches' complex labels are not learned from, e.g. a writer who
//    labels by another convention; --outputs complex,group trains only those outputs, for
//    quicker experiments)
//   [--conditions FILE [--no-detectors | --detectors-explain] [--detector-ngrams]]
//   (--conditions: the complex letters' §3a conditions, tools/danvan-letters/complex_conditions.py;
//    one detector per condition of the cue file's complex_conditions, the complex flag the OR of
//    the general output, the detectors and group, their thresholds chosen together; with
//    --detectors-explain the detectors never decide, they only explain; with --no-detectors the
//    sub-labels only give cv its per-condition recall)
//   [--complex-drop PREFIX,... [--complex-cap X]] [--complex-nonneg PREFIX,...]
//   [--complex-objective f1|balanced] [--base-model FILE] [--inner-folds K]
//   [--complex-only PREFIX,...] [--reraised-only PREFIX,...] [--l2-ngram-complex X]
//   [--complex-clip PREFIX,... --complex-clip-at X]
//   (--complex-drop: features of those name prefixes, e.g. len:, get no complex weight, or one
//    clipped to ±X with --complex-cap; --complex-nonneg: features of those prefixes, e.g.
//    n:people, never weigh against complex; --complex-objective balanced: the complex threshold
//    maximises the pooled min(precision, recall) instead of F-beta; --base-model: the outputs
//    not in --outputs are copied unchanged from that model file, e.g. to retrain complex only;
//    --inner-folds K: thresholds chosen on K groups of batches instead of one fold per batch;
//    --complex-only: features of those prefixes weigh in the complex output only, so the other
//    outputs are exactly those trained without them; --reraised-only: the same for the re-raised
//    output (a prefix in both lists weighs in neither); --l2-ngram-complex: the n-gram L2 factor of
//    the complex output alone, instead of --l2-ngram; --complex-clip: features of those
//    prefixes, e.g. cues that name no §3a condition, weigh at most ±X (--complex-clip-at) for
//    complex, beside and independent of --complex-drop and its --complex-cap)
//   danvan-letters cv    --cues config/tagging/cues.json [--l2 X,Y,...] [...] FILE...
//   danvan-letters eval  --rules config/rules/default.json [--schemas schemas]
//                        [--encodings [--unstable]] [--errors N] FILE...
//   (--unstable: one line per letter and encoding form whose tags differ from the NFC text's)
//
// `train` and `cv` use the real feature extractor (tagging/letter_model.h); `eval` runs the
// whole tagger (tagging/rules.h with its "reading" section) on petition events built from the
// letters, and with --encodings re-runs every letter in NFD, TCVN3, VNI, VISCII and
// Windows-1258 through RepairJsonText (the intake's repair) and reports tag stability.
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/timeutil.h"
#include "tagging/letter_model.h"
#include "tagging/rules.h"
#include "text/json_repair.h"
#include "text/legacy.h"
#include "text/normalize.h"

namespace {

using json = nlohmann::json;
using danvan::tagging::kLetterFlags;
using danvan::tagging::kLetterKinds;

struct Letter {
  std::string id, batch, title, content;
  int kind = 0;
  std::array<bool, 5> flags{};
  std::array<bool, 4> secondary{};
  // Sub-labels of the complex flag by §3a condition (--conditions), in the cue file's
  // complex_conditions order: 1 meets it, 0 does not (not complex), -1 unknown (a complex letter
  // whose writer named another condition, a group letter, an excluded batch): no gradient.
  std::array<int8_t, 8> condition{};
};

int KindIndex(const std::string& k) {
  for (size_t i = 0; i < kLetterKinds.size(); ++i)
    if (k == kLetterKinds[i]) return static_cast<int>(i);
  return -1;
}

std::string Basename(const std::string& path) {
  size_t s = path.rfind('/');
  std::string b = s == std::string::npos ? path : path.substr(s + 1);
  size_t d = b.find('.');
  return d == std::string::npos ? b : b.substr(0, d);
}

bool LoadLetters(const std::vector<std::string>& files, std::vector<Letter>* out,
                 std::string* sha256) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<std::string> sorted = files;
  std::sort(sorted.begin(), sorted.end());
  for (const std::string& f : sorted) {
    std::ifstream in(f);
    if (!in) {
      std::cerr << "cannot open " << f << "\n";
      EVP_MD_CTX_free(ctx);
      return false;
    }
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      EVP_DigestUpdate(ctx, line.data(), line.size());
      EVP_DigestUpdate(ctx, "\n", 1);
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("labels")) {
        std::cerr << f << ":" << n << ": not a labelled letter, skipped\n";
        continue;
      }
      Letter l;
      l.id = j.value("id", f + ":" + std::to_string(n));
      l.batch = Basename(f);
      l.title = j.value("title", "");
      l.content = j.value("content", "");
      const json& lab = j["labels"];
      l.kind = KindIndex(lab.value("kind", ""));
      if (l.kind < 0) {
        std::cerr << f << ":" << n << ": unknown kind, skipped\n";
        continue;
      }
      for (size_t i = 0; i < 5; ++i) l.flags[i] = lab.value(kLetterFlags[i], false);
      if (lab.contains("secondary") && lab["secondary"].is_array())
        for (const auto& s : lab["secondary"])
          if (s.is_string() && KindIndex(s.get<std::string>()) >= 0 &&
              KindIndex(s.get<std::string>()) != l.kind)
            l.secondary[KindIndex(s.get<std::string>())] = true;
      out->push_back(std::move(l));
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  char hex[2 * EVP_MAX_MD_SIZE + 1] = {};
  for (unsigned int i = 0; i < len; ++i) std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  *sha256 = hex;
  return true;
}

// ---- training -------------------------------------------------------------------------------

struct Params {
  double l2 = 1.0;        // L2 strength for the flag and secondary-kind models
  double l2_kind = 10.0;  // L2 strength for the kind model (they share no weights)
  int epochs = 40;
  double lr = 0.3;
  int min_df = 2;
  bool bigrams = true;
  // L2 of the flag and secondary-kind models on n-gram features is l2 * l2_ngram: a larger
  // factor makes those decisions rest on the named cues (which generalise across writers)
  // rather than on a writer's words.
  double l2_ngram = 1.0;
  // The same factor for the complex output alone (negative: l2_ngram). A larger one makes
  // complex rest on the named §3a cues and structure: a long letter's many small n-gram weights
  // (its topic, a writer's words) otherwise add up against a second content or a count.
  double l2_ngram_complex = -1;
  // Flag thresholds maximise F-beta on the out-of-fold probabilities (beta > 1 weighs recall
  // more); with per_batch_thresholds, the mean of each held-out batch's F-beta (every writer
  // counts the same, so a threshold that suits one writer's confident wording and misses
  // another's is not chosen). Secondary kinds keep pooled F1.
  double beta = 1.0;
  bool per_batch_thresholds = false;
  // Outputs trained (all by default; `--outputs complex,group` for quicker experiments on some
  // flags: the outputs share no weights, so the others' figures are then meaningless but the
  // trained ones are exactly as in a full run).
  std::array<bool, 13> train_output = {true, true, true, true, true, true, true,
                                       true, true, true, true, true, true};
  // Batches whose complex labels are not learned from: their letters give the complex output no
  // gradient and are not used to choose its threshold (they are still scored when held out).
  std::set<std::string> complex_exclude;
  // Factor on the L2 of the complex output (cues and n-grams alike).
  double l2_complex = 1.0;
  // Complex by condition (--conditions FILE): one detector per §3a condition of the cue file's
  // complex_conditions, trained on the sub-labels, over the named cue and structure features
  // only (n-grams get no detector weight unless detector_ngrams, then with l2 * l2_ngram); the
  // complex flag is then the OR of the general complex output, the detectors and group.
  int conditions = 0;
  bool detector_ngrams = false;
  // --detectors-explain: the detectors are trained and shipped but never decide (their
  // thresholds "off"): the complex flag is the general output's (and group's), and the reading
  // reports each condition's probability and evidence beside it.
  bool detectors_explain = false;
  std::string conditions_file;
  // Features (by name prefix, e.g. "len:") that may not decide the complex flag: no weight in the
  // complex output or its detectors (complex_cap 0), or a weight clipped to ±complex_cap. A
  // letter's length says how much the writer wrote, not whether §3a's conditions hold.
  std::vector<std::string> complex_drop;
  double complex_cap = 0;
  // Features (by name prefix) whose complex weight is clipped to ±complex_clip_at, independent
  // of complex_drop: cues that name no §3a condition (praise, speech, a kind's wording) may say
  // a little about a writer's letters but must not decide complex on their own.
  std::vector<std::string> complex_clip;
  double complex_clip_at = 0;
  // Features (by name prefix) whose complex weight may not be negative: a stated count of people
  // affected, of places or of agencies is a §3a condition and never counts against complex.
  std::vector<std::string> complex_nonneg;
  // Features (by name prefix) that weigh in the complex output only (no weight in the kind, the
  // other flags or the secondary kinds): features added for complex leave every other output
  // exactly as trained without them, so those outputs' cross-validation still holds.
  std::vector<std::string> complex_only;
  // Features (by name prefix) that weigh in the re-raised output only, for the same reason:
  // evidence added for re-raised (what a letter does not say of earlier handling) leaves the
  // kind and the other flags exactly as trained without it.
  std::vector<std::string> reraised_only;
  // The complex threshold's objective: "f1" (the flags' F-beta, pooled or per batch) or
  // "balanced" (the largest pooled min(precision, recall): the issue's target is both >= 0.85).
  std::string complex_objective = "f1";
  // Folds of the out-of-fold probabilities the thresholds are chosen on: 0, one per batch
  // (leave-one-batch-out); K, the batches dealt in name order into K groups (leave-batches-out,
  // K + 1 fits instead of one per batch: a cross-validation of 26 batches runs 4x faster).
  int inner_folds = 0;
};

constexpr int kBase = 13;       // 4 kind scores, 5 flags, 4 secondary kinds
constexpr int kMaxDet = 8;      // complex detectors at most (outputs kBase ..)
constexpr int kOut = kBase + kMaxDet;
constexpr double kOff = 2.0;    // a detector threshold that never fires

struct Doc {
  std::vector<uint32_t> f;  // feature indices
  const Letter* letter;
};

bool HasPrefix(const std::string& name, const std::vector<std::string>& prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& x) { return name.rfind(x, 0) == 0; });
}

struct Model {
  std::vector<std::string> names;
  std::vector<uint8_t> ngram;  // per feature: 1 for an n-gram (w:, b:, t:, tb:)
  std::array<double, kOut> bias{};
  std::vector<std::array<double, kOut>> w;
  std::array<double, 9> threshold{};  // flags then secondary
  std::array<double, kMaxDet> det_threshold{};  // complex detectors (kOff: not used)
  int conditions = 0;
};

struct Featurized {
  std::vector<std::vector<danvan::tagging::LetterFeature>> feats;  // per letter, with names
};

Featurized Featurize(const danvan::tagging::LetterCues& cues, const std::vector<Letter>& letters,
                     bool bigrams) {
  Featurized out;
  danvan::tagging::FeatureOptions opt;
  opt.names = true;
  opt.bigrams = bigrams;
  for (const auto& l : letters) out.feats.push_back(LetterFeatures(cues, l.title, l.content, opt));
  return out;
}

bool AlwaysKeep(const std::string& name) {
  return name.rfind("c:", 0) == 0 || name.rfind("tc:", 0) == 0 || name.rfind("n:", 0) == 0 ||
         name.rfind("s:", 0) == 0 ||
         name.rfind("len:", 0) == 0;
}

double Sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// Scores of one document: 4 kind probabilities, 9 binary probabilities.
std::array<double, kOut> Predict(const Model& m, const std::vector<uint32_t>& f) {
  std::array<double, kOut> s = m.bias;
  for (uint32_t i : f)
    for (int o = 0; o < kOut; ++o) s[o] += m.w[i][o];
  std::array<double, kOut> p{};
  double mx = std::max({s[0], s[1], s[2], s[3]}), z = 0;
  for (int k = 0; k < 4; ++k) z += std::exp(s[k] - mx);
  for (int k = 0; k < 4; ++k) p[k] = std::exp(s[k] - mx) / z;
  for (int o = 4; o < kOut; ++o) p[o] = Sigmoid(s[o]);
  return p;
}

// Trains on `train` (indices into letters); thresholds left at 0.5.
Model Fit(const std::vector<Letter>& letters, const Featurized& fz, const std::vector<size_t>& train,
          const Params& p) {
  Model m;
  std::unordered_map<std::string, uint32_t> df;
  for (size_t i : train)
    for (const auto& f : fz.feats[i]) ++df[f.name];
  std::unordered_map<std::string, uint32_t> index;
  for (const auto& [name, n] : df)
    if (static_cast<int>(n) >= p.min_df || AlwaysKeep(name)) {
      index.emplace(name, 0);
    }
  m.names.reserve(index.size());
  for (auto& [name, idx] : index) m.names.push_back(name);
  std::sort(m.names.begin(), m.names.end());
  for (uint32_t i = 0; i < m.names.size(); ++i) index[m.names[i]] = i;
  m.w.assign(m.names.size(), {});
  m.ngram.assign(m.names.size(), 0);
  for (size_t i = 0; i < m.names.size(); ++i) m.ngram[i] = !AlwaysKeep(m.names[i]);
  // Per feature, the limits on its complex weights (Params::complex_drop, complex_nonneg).
  std::vector<uint8_t> drop(m.names.size(), 0), nonneg(m.names.size(), 0), only(m.names.size(), 0),
      clip(m.names.size(), 0), reraised_only(m.names.size(), 0);
  for (size_t i = 0; i < m.names.size(); ++i) {
    drop[i] = HasPrefix(m.names[i], p.complex_drop);
    clip[i] = HasPrefix(m.names[i], p.complex_clip);
    nonneg[i] = HasPrefix(m.names[i], p.complex_nonneg);
    only[i] = HasPrefix(m.names[i], p.complex_only);
    reraised_only[i] = HasPrefix(m.names[i], p.reraised_only);
  }
  std::vector<Doc> docs;
  for (size_t i : train) {
    Doc d;
    d.letter = &letters[i];
    for (const auto& f : fz.feats[i])
      if (auto it = index.find(f.name); it != index.end()) d.f.push_back(it->second);
    docs.push_back(std::move(d));
  }
  std::vector<std::array<double, kOut>> g2(m.names.size());
  for (auto& a : g2) a.fill(1e-8);
  std::array<double, kOut> bg2{};
  bg2.fill(1e-8);
  // Class priors as starting biases (kind: log frequency; binary: log odds).
  {
    std::array<double, kOut> cnt{};
    double excluded = 0;  // letters whose complex label is not learned from
    for (const auto& d : docs) {
      cnt[d.letter->kind] += 1;
      for (int j = 0; j < 5; ++j) cnt[4 + j] += d.letter->flags[j];
      if (p.complex_exclude.count(d.letter->batch)) ++excluded, cnt[4] -= d.letter->flags[0];
      for (int j = 0; j < 4; ++j) cnt[9 + j] += d.letter->secondary[j];
    }
    std::array<double, kMaxDet> det_pos{}, det_seen{};
    for (const auto& d : docs)
      for (int c = 0; c < p.conditions; ++c)
        if (d.letter->condition[c] >= 0 && !p.complex_exclude.count(d.letter->batch))
          det_seen[c] += 1, det_pos[c] += d.letter->condition[c];
    double n = static_cast<double>(docs.size());
    for (int k = 0; k < 4; ++k) m.bias[k] = std::log((cnt[k] + 1) / (n + 4));
    for (int o = 4; o < kBase; ++o) {
      const double seen = o == 4 ? n - excluded : n;
      m.bias[o] = std::log((cnt[o] + 0.5) / (seen - cnt[o] + 0.5));
    }
    for (int c = 0; c < p.conditions; ++c)
      m.bias[kBase + c] = std::log((det_pos[c] + 0.5) / (det_seen[c] - det_pos[c] + 0.5));
  }
  const double n_docs = static_cast<double>(std::max<size_t>(1, docs.size()));
  std::array<double, kOut> reg{};
  std::array<double, kOut> reg_ngram{};
  for (int o = 0; o < kOut; ++o) {
    reg[o] = (o < 4 ? p.l2_kind : p.l2) / n_docs;
    if (o == 4) reg[o] *= p.l2_complex;
    reg_ngram[o] = o < 4 ? reg[o] : reg[o] * p.l2_ngram;
    if (o == 4 && p.l2_ngram_complex >= 0) reg_ngram[o] = reg[o] * p.l2_ngram_complex;
  }
  std::vector<int> outputs, cue_outputs;
  for (int o = 0; o < kBase; ++o)
    if (p.train_output[o]) outputs.push_back(o);
  cue_outputs = outputs;
  if (p.train_output[4])  // the detectors are part of the complex output
    for (int c = 0; c < p.conditions; ++c) {
      cue_outputs.push_back(kBase + c);
      if (p.detector_ngrams) outputs.push_back(kBase + c);
    }
  std::mt19937 rng(12);
  std::vector<size_t> order(docs.size());
  std::iota(order.begin(), order.end(), 0);
  for (int epoch = 0; epoch < p.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t oi : order) {
      const Doc& d = docs[oi];
      // Scores of the trained outputs only (the others keep their zero gradient below).
      std::array<double, kOut> prob{};
      {
        std::array<double, kOut> sc = m.bias;
        for (uint32_t i : d.f) {
          const auto& w = m.w[i];
          for (int o : cue_outputs) sc[o] += w[o];
        }
        if (p.train_output[0]) {
          const double mx = std::max({sc[0], sc[1], sc[2], sc[3]});
          double z = 0;
          for (int k = 0; k < 4; ++k) z += std::exp(sc[k] - mx);
          for (int k = 0; k < 4; ++k) prob[k] = std::exp(sc[k] - mx) / z;
        }
        for (int o : cue_outputs)
          if (o >= 4) prob[o] = Sigmoid(sc[o]);
      }
      std::array<double, kOut> g{};
      for (int k = 0; k < 4; ++k) g[k] = prob[k] - (d.letter->kind == k ? 1.0 : 0.0);
      for (int j = 0; j < 5; ++j) g[4 + j] = prob[4 + j] - (d.letter->flags[j] ? 1.0 : 0.0);
      for (int j = 0; j < 4; ++j) {
        // A secondary kind equal to the primary is not a question: no gradient.
        g[9 + j] = j == d.letter->kind ? 0.0 : prob[9 + j] - (d.letter->secondary[j] ? 1.0 : 0.0);
      }
      for (int c = 0; c < p.conditions; ++c)
        g[kBase + c] = d.letter->condition[c] < 0 ? 0.0 : prob[kBase + c] - d.letter->condition[c];
      if (!p.complex_exclude.empty() && p.complex_exclude.count(d.letter->batch)) {
        g[4] = 0;
        for (int c = 0; c < p.conditions; ++c) g[kBase + c] = 0;
      }
      for (int o : cue_outputs) {
        bg2[o] += g[o] * g[o];
        m.bias[o] -= p.lr * g[o] / std::sqrt(bg2[o]);
      }
      for (uint32_t i : d.f) {
        auto& w = m.w[i];
        auto& a = g2[i];
        const auto& r = m.ngram[i] ? reg_ngram : reg;
        for (int o : m.ngram[i] ? outputs : cue_outputs) {
          const bool complex_out = o == 4 || o >= kBase;
          if (only[i] && !complex_out) continue;
          if (reraised_only[i] && o != 4 + 4) continue;  // flags: complex, group, staff, anonymous, reraised
          if (complex_out && drop[i] && p.complex_cap <= 0) continue;
          double gi = g[o] + r[o] * w[o];
          a[o] += gi * gi;
          w[o] -= p.lr * gi / std::sqrt(a[o]);
          if (!complex_out) continue;
          if (drop[i]) w[o] = std::clamp(w[o], -p.complex_cap, p.complex_cap);
          if (clip[i]) w[o] = std::clamp(w[o], -p.complex_clip_at, p.complex_clip_at);
          if (nonneg[i] && w[o] < 0) w[o] = 0;
        }
      }
    }
  }
  m.threshold.fill(0.5);
  m.det_threshold.fill(kOff);
  m.conditions = p.conditions;
  return m;
}

std::vector<uint32_t> Indices(const Model& m, const std::vector<danvan::tagging::LetterFeature>& fs,
                              const std::unordered_map<std::string, uint32_t>& index) {
  std::vector<uint32_t> out;
  for (const auto& f : fs)
    if (auto it = index.find(f.name); it != index.end()) out.push_back(it->second);
  return out;
}

std::unordered_map<std::string, uint32_t> IndexOf(const Model& m) {
  std::unordered_map<std::string, uint32_t> index;
  for (uint32_t i = 0; i < m.names.size(); ++i) index.emplace(m.names[i], i);
  return index;
}

// Out-of-fold probabilities, one fold per batch (or 4 random folds with a single batch).
std::vector<std::array<double, kOut>> OutOfFold(const std::vector<Letter>& letters,
                                                const Featurized& fz,
                                                const std::vector<size_t>& subset, const Params& p) {
  std::map<std::string, std::vector<size_t>> folds;
  std::set<std::string> batches;
  for (size_t i : subset) batches.insert(letters[i].batch);
  std::map<std::string, std::string> group;  // batch -> its fold
  for (const std::string& b : batches)
    group[b] = p.inner_folds >= 2 && batches.size() > static_cast<size_t>(p.inner_folds)
                   ? std::to_string(group.size() % p.inner_folds)
                   : b;
  for (size_t n = 0; n < subset.size(); ++n) {
    size_t i = subset[n];
    folds[batches.size() >= 2 ? group[letters[i].batch] : std::to_string(n % 4)].push_back(n);
  }
  std::vector<std::array<double, kOut>> out(subset.size());
  for (const auto& [name, test] : folds) {
    std::set<size_t> in_test(test.begin(), test.end());
    std::vector<size_t> train;
    for (size_t n = 0; n < subset.size(); ++n)
      if (!in_test.count(n)) train.push_back(subset[n]);
    Model m = Fit(letters, fz, train, p);
    auto index = IndexOf(m);
    for (size_t n : test) out[n] = Predict(m, Indices(m, fz.feats[subset[n]], index));
  }
  return out;
}

bool Truth(const Letter& l, int o) { return o < 9 ? l.flags[o - 4] : l.secondary[o - 9]; }

// The complex flag as an OR (domain.md §3a: complex when any one condition holds): the general
// complex output, each condition's detector and the group flag (group implies complex). Their
// thresholds are chosen together by coordinate ascent on the same objective as the flags' (mean
// per-batch F-beta, or pooled), each either a value of the grid or "off", starting from the
// general output alone; three passes.
void ChooseComplexOr(const std::vector<Letter>& letters, const std::vector<size_t>& subset,
                     const std::vector<std::array<double, kOut>>& oof, const Params& p,
                     const std::vector<int>& batch, int batches, Model* m) {
  const double b2 = p.beta * p.beta;
  const int comps = 1 + p.conditions;
  std::vector<double> t(comps, kOff);
  t[0] = m->threshold[0];
  auto out_of = [](int c) { return c == 0 ? 4 : kBase + c - 1; };
  auto objective = [&](const std::vector<double>& th) {
    std::vector<std::array<int, 3>> cnt(batches, {0, 0, 0});
    for (size_t n = 0; n < subset.size(); ++n) {
      const Letter& l = letters[subset[n]];
      if (p.complex_exclude.count(l.batch)) continue;
      bool pred = oof[n][5] >= m->threshold[1];
      for (int c = 0; c < comps && !pred; ++c) pred = oof[n][out_of(c)] >= th[c];
      const bool truth = l.flags[0];
      cnt[batch[n]][0] += pred && truth;
      cnt[batch[n]][1] += pred && !truth;
      cnt[batch[n]][2] += !pred && truth;
    }
    double f = 0;
    for (const auto& x : cnt) f += x[0] == 0 ? 0 : (1 + b2) * x[0] / ((1 + b2) * x[0] + b2 * x[2] + x[1]);
    return f / batches;
  };
  double best = objective(t);
  for (int pass = 0; pass < 3; ++pass) {
    for (int c = 0; c < comps; ++c) {
      std::vector<double> grid = {kOff};
      for (double x = 0.02; x <= 0.981; x += 0.02) grid.push_back(x);
      for (double x : grid) {
        std::vector<double> trial = t;
        trial[c] = x;
        const double f = objective(trial);
        if (f > best + 1e-9) best = f, t = trial;
      }
    }
  }
  m->threshold[0] = t[0];
  for (int c = 0; c < p.conditions; ++c) m->det_threshold[c] = t[1 + c];
}

// Thresholds maximising F-beta (flags; F1 for secondary kinds) on out-of-fold probabilities,
// pooled or as the mean over batches (Params).
void ChooseThresholds(const std::vector<Letter>& letters, const std::vector<size_t>& subset,
                      const std::vector<std::array<double, kOut>>& oof, const Params& p, Model* m) {
  std::map<std::string, int> batch_of;
  std::vector<int> batch(subset.size(), 0);
  if (p.per_batch_thresholds)
    for (size_t n = 0; n < subset.size(); ++n)
      batch[n] = batch_of.emplace(letters[subset[n]].batch, static_cast<int>(batch_of.size())).first->second;
  const int batches = std::max<int>(1, static_cast<int>(batch_of.size()));
  for (int o = 4; o < kBase; ++o) {
    const double b2 = o < 9 ? p.beta * p.beta : 1.0;
    double best_t = 0.5, best_f = -1;
    for (double t = 0.02; t <= 0.901; t += 0.02) {
      std::vector<std::array<int, 3>> c(batches, {0, 0, 0});  // tp, fp, fn per batch
      for (size_t n = 0; n < subset.size(); ++n) {
        const Letter& l = letters[subset[n]];
        if (o >= 9 && o - 9 == l.kind) continue;
        if (o == 4 && p.complex_exclude.count(l.batch)) continue;
        bool pred = oof[n][o] >= t, truth = Truth(l, o);
        c[batch[n]][0] += pred && truth;
        c[batch[n]][1] += pred && !truth;
        c[batch[n]][2] += !pred && truth;
      }
      double f = 0;
      for (const auto& x : c)
        f += x[0] == 0 ? 0 : (1 + b2) * x[0] / ((1 + b2) * x[0] + b2 * x[2] + x[1]);
      f /= batches;
      if (o == 4 && p.complex_objective == "balanced") {
        std::array<int, 3> s{};
        for (const auto& x : c)
          for (int k = 0; k < 3; ++k) s[k] += x[k];
        const double prec = s[0] + s[1] == 0 ? 1.0 : double(s[0]) / (s[0] + s[1]);
        const double rec = s[0] + s[2] == 0 ? 1.0 : double(s[0]) / (s[0] + s[2]);
        f = std::min(prec, rec);
      }
      if (f > best_f + 1e-9) {
        best_f = f;
        best_t = t;
      }
    }
    m->threshold[o - 4] = best_t;
  }
  if (p.conditions > 0 && !p.detectors_explain) ChooseComplexOr(letters, subset, oof, p, batch, batches, m);
}

json ModelJson(const Model& m, const std::string& cues_version,
               const std::vector<danvan::tagging::LetterCues::ComplexCondition>& conditions, const Params& p,
               const std::string& sha, size_t letters, const std::vector<std::string>& files,
               const std::string& command) {
  json features = json::object();
  auto r4 = [](double x) { return std::round(x * 10000) / 10000; };
  for (size_t i = 0; i < m.names.size(); ++i) {
    double mx = 0;
    for (int o = 0; o < kBase; ++o) mx = std::max(mx, std::fabs(m.w[i][o]));
    if (mx < 5e-4) continue;
    json w = json::array();
    for (int o = 0; o < kBase; ++o) w.push_back(r4(m.w[i][o]));
    features[m.names[i]] = std::move(w);
  }
  json condition_features = json::object();
  if (m.conditions > 0)
    for (size_t i = 0; i < m.names.size(); ++i) {
      double mx = 0;
      for (int c = 0; c < m.conditions; ++c) mx = std::max(mx, std::fabs(m.w[i][kBase + c]));
      if (mx < 5e-4) continue;
      json w = json::array();
      for (int c = 0; c < m.conditions; ++c) w.push_back(r4(m.w[i][kBase + c]));
      condition_features[m.names[i]] = std::move(w);
    }
  json detectors = json::array();
  for (int c = 0; c < m.conditions; ++c)
    detectors.push_back({{"id", conditions[c].id}, {"bias", r4(m.bias[kBase + c])},
                         {"threshold", m.det_threshold[c] >= kOff ? json(nullptr) : json(r4(m.det_threshold[c]))}});
  json flags = json::object(), secondary = json::object();
  for (int j = 0; j < 5; ++j)
    flags[kLetterFlags[j]] = {{"bias", r4(m.bias[4 + j])}, {"threshold", r4(m.threshold[j])}};
  for (int j = 0; j < 4; ++j)
    secondary[kLetterKinds[j]] = {{"bias", r4(m.bias[9 + j])}, {"threshold", r4(m.threshold[5 + j])}};
  std::time_t now = std::time(nullptr);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::vector<std::string> base;
  for (const auto& f : files) base.push_back(Basename(f));
  std::sort(base.begin(), base.end());
  json doc = {{"format", "danvan-letter-model/1"},
          // The corpus and the cue file together name the model (one corpus, several cue files).
          {"version", "letters-" + sha.substr(0, 12) + "-cues" + cues_version},
          {"description", "Mô hình tuyến tính đọc đơn thư theo nội dung (loại đơn, loại phụ, năm cờ), học từ đơn viết tay có gán nhãn theo docs/domain.md §3a. Trọng số mỗi đặc trưng: 4 loại (khiếu nại, tố cáo, kiến nghị, phản ánh), 5 cờ (phức tạp, đông người, văn hóa công vụ, nặc danh, tái khiếu), 4 loại phụ."},
          {"source", "docs/domain.md §3a; Thông tư 05/2021/TT-TTCP"},
          {"cues_version", cues_version},
          {"trained", {{"corpus_sha256", sha}, {"letters", letters}, {"batches", base},
                       {"command", command}, {"at", when},
                       {"params", {{"l2", p.l2}, {"l2_kind", p.l2_kind}, {"epochs", p.epochs}, {"lr", p.lr},
                                   {"min_df", p.min_df}, {"l2_ngram", p.l2_ngram},
                                   {"l2_ngram_complex", p.l2_ngram_complex}, {"beta", p.beta},
                                   {"per_batch_thresholds", p.per_batch_thresholds},
                                   {"l2_complex", p.l2_complex},
                                   {"complex_exclude", p.complex_exclude},
                                   {"conditions_file", p.conditions_file},
                                   {"detector_ngrams", p.detector_ngrams},
                                   {"detectors_explain", p.detectors_explain},
                                   {"complex_drop", p.complex_drop},
                                   {"complex_cap", p.complex_cap},
                                   {"complex_clip", p.complex_clip},
                                   {"complex_clip_at", p.complex_clip_at},
                                   {"complex_nonneg", p.complex_nonneg},
                                   {"complex_only", p.complex_only},
                                   {"reraised_only", p.reraised_only},
                                   {"complex_objective", p.complex_objective},
                                   {"inner_folds", p.inner_folds}}}}},
          {"options", {{"bigrams", p.bigrams}}},
          {"kind", {{"classes", kLetterKinds}, {"bias", {r4(m.bias[0]), r4(m.bias[1]), r4(m.bias[2]), r4(m.bias[3])}}}},
          {"flags", flags},
          {"secondary", secondary},
          {"features", features}};
  if (m.conditions > 0) {
    doc["complex_conditions"] = {
        {"combine", "any"},
        {"description", "Vụ việc phức tạp khi có một điều kiện bất kỳ (docs/domain.md §3a): đầu ra phức tạp chung, bộ phát hiện của từng điều kiện (trọng số trong condition_features, cùng thứ tự), hoặc đơn đông người."},
        {"detectors", detectors}};
    doc["condition_features"] = std::move(condition_features);
  }
  return doc;
}

// ---- metrics --------------------------------------------------------------------------------

struct Metrics {
  int n = 0, correct = 0, no_kind = 0, review = 0, review_wrong = 0, unreviewed_wrong = 0;
  std::array<std::array<int, 4>, 4> confusion{};  // [truth][pred]
  std::array<std::array<int, 3>, 5> flag{};       // tp, fp, fn
  std::array<int, 3> secondary{};
  int all_right = 0;

  void Add(const Letter& l, int pred_kind, const std::array<bool, 5>& flags,
           const std::array<bool, 4>& sec, bool on_review) {
    ++n;
    if (pred_kind < 0) {
      ++no_kind;
    } else {
      ++confusion[l.kind][pred_kind];
    }
    bool kind_ok = pred_kind == l.kind;
    correct += kind_ok;
    bool all = kind_ok;
    for (int j = 0; j < 5; ++j) {
      flag[j][0] += flags[j] && l.flags[j];
      flag[j][1] += flags[j] && !l.flags[j];
      flag[j][2] += !flags[j] && l.flags[j];
      all = all && flags[j] == l.flags[j];
    }
    for (int k = 0; k < 4; ++k) {
      if (k == l.kind || k == pred_kind) continue;
      secondary[0] += sec[k] && l.secondary[k];
      secondary[1] += sec[k] && !l.secondary[k];
      secondary[2] += !sec[k] && l.secondary[k];
    }
    all_right += all;
    if (on_review) {
      ++review;
      review_wrong += !all;
    } else {
      unreviewed_wrong += !all;
    }
  }

  static double P(const std::array<int, 3>& c) { return c[0] + c[1] == 0 ? 1.0 : double(c[0]) / (c[0] + c[1]); }
  static double R(const std::array<int, 3>& c) { return c[0] + c[2] == 0 ? 1.0 : double(c[0]) / (c[0] + c[2]); }
  static double F(const std::array<int, 3>& c) {
    double p = P(c), r = R(c);
    return p + r == 0 ? 0 : 2 * p * r / (p + r);
  }
  double Accuracy() const { return n ? double(correct) / n : 0; }
  double MeanFlagF1() const {
    double s = 0;
    for (const auto& c : flag) s += F(c);
    return s / 5;
  }

  void Print(const std::string& title) const {
    std::printf("== %s: %d letters\n", title.c_str(), n);
    std::printf("kind accuracy            %.3f (%d/%d)\n", Accuracy(), correct, n);
    std::printf("letters without a kind   %d\n", no_kind);
    std::printf("all six labels right     %.3f (%d/%d)\n", n ? double(all_right) / n : 0, all_right, n);
    std::printf("on the review list       %d (%.1f%%); of them not all right: %d; not on it and not all right: %d\n",
                review, n ? 100.0 * review / n : 0, review_wrong, unreviewed_wrong);
    std::printf("confusion (rows: truth, columns: predicted)\n%-14s", "");
    for (const char* k : kLetterKinds) std::printf("%13s", k);
    std::printf("\n");
    for (int t = 0; t < 4; ++t) {
      std::printf("%-14s", kLetterKinds[t]);
      for (int p = 0; p < 4; ++p) std::printf("%13d", confusion[t][p]);
      std::printf("\n");
    }
    std::printf("%-16s %5s %5s %5s %9s %7s %6s\n", "flag", "tp", "fp", "fn", "precision", "recall", "F1");
    for (int j = 0; j < 5; ++j)
      std::printf("%-16s %5d %5d %5d %9.3f %7.3f %6.3f\n", kLetterFlags[j], flag[j][0], flag[j][1],
                  flag[j][2], P(flag[j]), R(flag[j]), F(flag[j]));
    std::printf("%-16s %5d %5d %5d %9.3f %7.3f %6.3f\n", "secondary kinds", secondary[0], secondary[1],
                secondary[2], P(secondary), R(secondary), F(secondary));
  }
};

// ---- commands -------------------------------------------------------------------------------

struct Args {
  std::map<std::string, std::string> opts;
  std::vector<std::string> files;
  std::string command_line;
};

Args ParseArgs(int argc, char** argv, int from) {
  Args a;
  for (int i = 0; i < argc; ++i) a.command_line += std::string(i ? " " : "") + argv[i];
  for (int i = from; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0) {
      std::string key = s.substr(2);
      if (key == "no-bigrams" || key == "encodings" || key == "per-batch-thresholds" ||
          key == "unstable" || key == "detector-ngrams" || key == "no-detectors" ||
          key == "detectors-explain" || key == "ngrams") {
        a.opts[key] = "1";
      } else if (i + 1 < argc) {
        a.opts[key] = argv[++i];
      }
    } else {
      a.files.push_back(s);
    }
  }
  return a;
}

Params ParamsOf(const Args& a) {
  Params p;
  if (a.opts.count("l2")) p.l2 = std::stod(a.opts.at("l2"));
  if (a.opts.count("l2-kind")) p.l2_kind = std::stod(a.opts.at("l2-kind"));
  if (a.opts.count("epochs")) p.epochs = std::stoi(a.opts.at("epochs"));
  if (a.opts.count("lr")) p.lr = std::stod(a.opts.at("lr"));
  if (a.opts.count("min-df")) p.min_df = std::stoi(a.opts.at("min-df"));
  if (a.opts.count("l2-ngram")) p.l2_ngram = std::stod(a.opts.at("l2-ngram"));
  if (a.opts.count("l2-ngram-complex")) p.l2_ngram_complex = std::stod(a.opts.at("l2-ngram-complex"));
  p.bigrams = !a.opts.count("no-bigrams");
  if (a.opts.count("beta")) p.beta = std::stod(a.opts.at("beta"));
  p.per_batch_thresholds = a.opts.count("per-batch-thresholds") > 0;
  auto list = [](const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string x;
    while (std::getline(ss, x, ',')) if (!x.empty()) out.push_back(x);
    return out;
  };
  if (a.opts.count("outputs")) {
    p.train_output.fill(false);
    for (const std::string& name : list(a.opts.at("outputs"))) {
      bool known = false;
      for (int j = 0; j < 5; ++j)
        if (name == kLetterFlags[j]) p.train_output[4 + j] = known = true;
      if (name == "kind") known = p.train_output[0] = p.train_output[1] = p.train_output[2] = p.train_output[3] = true;
      if (name == "secondary") known = p.train_output[9] = p.train_output[10] = p.train_output[11] = p.train_output[12] = true;
      if (!known) {
        std::cerr << "--outputs: unknown output " << name << " (kind, secondary or a flag)\n";
        std::exit(2);
      }
    }
  }
  if (a.opts.count("l2-complex")) p.l2_complex = std::stod(a.opts.at("l2-complex"));
  if (a.opts.count("complex-exclude"))
    for (const std::string& b : list(a.opts.at("complex-exclude"))) p.complex_exclude.insert(b);
  if (a.opts.count("complex-drop")) p.complex_drop = list(a.opts.at("complex-drop"));
  if (a.opts.count("complex-cap")) p.complex_cap = std::stod(a.opts.at("complex-cap"));
  if (a.opts.count("complex-clip")) {
    p.complex_clip = list(a.opts.at("complex-clip"));
    p.complex_clip_at = a.opts.count("complex-clip-at") ? std::stod(a.opts.at("complex-clip-at")) : -1;
    if (!(p.complex_clip_at >= 0)) {
      std::cerr << "--complex-clip: give the limit with --complex-clip-at X (X >= 0)\n";
      std::exit(2);
    }
  }
  if (a.opts.count("complex-nonneg")) p.complex_nonneg = list(a.opts.at("complex-nonneg"));
  if (a.opts.count("complex-only")) p.complex_only = list(a.opts.at("complex-only"));
  if (a.opts.count("reraised-only")) p.reraised_only = list(a.opts.at("reraised-only"));
  if (a.opts.count("inner-folds")) p.inner_folds = std::stoi(a.opts.at("inner-folds"));
  if (a.opts.count("complex-objective")) {
    p.complex_objective = a.opts.at("complex-objective");
    if (p.complex_objective != "f1" && p.complex_objective != "balanced") {
      std::cerr << "--complex-objective: f1 or balanced\n";
      std::exit(2);
    }
  }
  return p;
}

std::shared_ptr<const danvan::tagging::LetterCues> LoadCues(const Args& a) {
  std::string path = a.opts.count("cues") ? a.opts.at("cues") : "config/tagging/cues.json";
  auto c = danvan::tagging::LetterCues::FromFile(path);
  if (!c.ok()) {
    std::cerr << c.status().message() << "\n";
    std::exit(2);
  }
  return c.value();
}

// Model decisions from probabilities (as LetterModel::ReadFeatures decides, invariants included).
void Decide(const Model& m, const std::array<double, kOut>& p, int* kind, std::array<bool, 5>* flags,
            std::array<bool, 4>* sec) {
  *kind = static_cast<int>(std::max_element(p.begin(), p.begin() + 4) - p.begin());
  for (int j = 0; j < 5; ++j) (*flags)[j] = p[4 + j] >= m.threshold[j];
  for (int c = 0; c < m.conditions; ++c) (*flags)[0] = (*flags)[0] || p[kBase + c] >= m.det_threshold[c];
  for (int k = 0; k < 4; ++k) (*sec)[k] = k != *kind && p[9 + k] >= m.threshold[5 + k];
  if ((*flags)[1]) (*flags)[0] = true;
  if ((*flags)[3] && *kind != 1) (*flags)[3] = false;
}

// Every batch named by --complex-exclude must be among the files (a typo would silently learn
// from the batch it meant to leave out).
bool CheckExcluded(const Params& p, const std::vector<Letter>& letters) {
  for (const std::string& b : p.complex_exclude) {
    if (std::none_of(letters.begin(), letters.end(), [&](const Letter& l) { return l.batch == b; })) {
      std::cerr << "--complex-exclude: no batch " << b << " among the files\n";
      return false;
    }
  }
  return true;
}

// --conditions FILE: the complex letters' §3a conditions (JSONL {"id","conditions":[...]}, written
// by tools/danvan-letters/complex_conditions.py from the writers' rationales). Sets each letter's
// sub-labels and, unless --no-detectors (sub-labels for the per-condition report only), trains one
// detector per condition of the cue file's complex_conditions. Unknown ids or conditions fail.
bool ApplyConditions(const Args& a, const danvan::tagging::LetterCues& cues, Params* p,
                     std::vector<Letter>* letters) {
  if (!a.opts.count("conditions")) return true;
  const auto& conds = cues.complex_conditions();
  if (conds.empty() || conds.size() > static_cast<size_t>(kMaxDet)) {
    std::cerr << "--conditions: the cue file needs 1-" << kMaxDet << " complex_conditions\n";
    return false;
  }
  std::ifstream in(a.opts.at("conditions"));
  if (!in) {
    std::cerr << "cannot open " << a.opts.at("conditions") << "\n";
    return false;
  }
  std::map<std::string, std::vector<std::string>> by_id;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("id") || !j.contains("conditions")) {
      std::cerr << "--conditions: not a line {\"id\",\"conditions\"}: " << line << "\n";
      return false;
    }
    by_id[j["id"].get<std::string>()] = j["conditions"].get<std::vector<std::string>>();
  }
  size_t used = 0;
  for (Letter& l : *letters) {
    l.condition.fill(0);
    if (!l.flags[0]) continue;
    l.condition.fill(-1);  // complex, condition unknown unless listed
    auto it = by_id.find(l.id);
    if (it == by_id.end() || l.flags[1]) continue;  // group letters: the group output's
    ++used;
    for (const std::string& c : it->second) {
      size_t k = 0;
      while (k < conds.size() && conds[k].id != c) ++k;
      if (k == conds.size()) {
        std::cerr << "--conditions: " << l.id << ": unknown condition " << c << "\n";
        return false;
      }
      l.condition[k] = 1;
    }
  }
  if (used == 0) {
    std::cerr << "--conditions: no complex letter of the corpus is in the file\n";
    return false;
  }
  p->conditions_file = Basename(a.opts.at("conditions"));
  if (!a.opts.count("no-detectors")) p->conditions = static_cast<int>(conds.size());
  p->detector_ngrams = a.opts.count("detector-ngrams") > 0;
  p->detectors_explain = a.opts.count("detectors-explain") > 0;
  return true;
}

// --base-model FILE: the outputs not trained here (not in --outputs) are taken unchanged from a
// model file trained earlier (weights, biases, thresholds), so a retrained complex model ships
// beside the kind and the other flags exactly as they were measured. The outputs share no
// weights, so the composition decides each output as its own model did. The base must use the
// same cue file; the file records the base's version, corpus and command.
bool KeepUntrainedOutputs(const std::string& path, const Params& p, json* doc) {
  std::ifstream in(path);
  const json base = in ? json::parse(in, nullptr, false) : json();
  if (!base.is_object() || !base.contains("features") || !base.contains("flags")) {
    std::cerr << "--base-model: cannot read a letter model from " << path << "\n";
    return false;
  }
  if (base.value("cues_version", "") != (*doc)["cues_version"]) {
    std::cerr << "--base-model: " << path << " uses cue file " << base.value("cues_version", "?")
              << ", this model " << (*doc)["cues_version"].get<std::string>() << "\n";
    return false;
  }
  if (p.train_output[4] && p.train_output[5] && p.train_output[6] && p.train_output[7] &&
      p.train_output[8] && p.train_output[0] && p.train_output[9]) {
    std::cerr << "--base-model: every output is trained here (name some with --outputs)\n";
    return false;
  }
  json& features = (*doc)["features"];
  json kept = json::array();
  for (int o = 0; o < kBase; ++o) {
    if (p.train_output[o]) continue;
    if (o != 1 && o != 2 && o != 3)  // the four kind scores are one output
      kept.push_back(o < 4 ? "kind" : o < 9 ? kLetterFlags[o - 4] : std::string("secondary.") + kLetterKinds[o - 9]);
    for (auto& [name, w] : features.items()) w[o] = 0.0;
    for (const auto& [name, w] : base["features"].items()) {
      if (!features.contains(name)) features[name] = json::array({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
      features[name][o] = w.at(o);
    }
    if (o < 4) (*doc)["kind"]["bias"][o] = base["kind"]["bias"].at(o);
    else if (o < 9) (*doc)["flags"][kLetterFlags[o - 4]] = base["flags"].at(kLetterFlags[o - 4]);
    else (*doc)["secondary"][kLetterKinds[o - 9]] = base["secondary"].at(kLetterKinds[o - 9]);
  }
  for (auto it = features.begin(); it != features.end();) {
    double mx = 0;
    for (const auto& x : *it) mx = std::max(mx, std::fabs(x.get<double>()));
    it = mx < 5e-4 ? features.erase(it) : std::next(it);
  }
  if (!p.train_output[4]) {  // the complex detectors belong to the complex output
    for (const char* k : {"complex_conditions", "condition_features"}) {
      doc->erase(k);
      if (base.contains(k)) (*doc)[k] = base[k];
    }
  }
  (*doc)["trained"]["base_model"] = {{"file", Basename(path)},
                                     {"version", base.value("version", "")},
                                     {"corpus_sha256", base["trained"].value("corpus_sha256", "")},
                                     {"command", base["trained"].value("command", "")},
                                     {"outputs_kept", kept}};
  return true;
}

int Train(const Args& a) {
  std::vector<Letter> letters;
  std::string sha;
  if (!LoadLetters(a.files, &letters, &sha) || letters.empty()) return 2;
  auto cues = LoadCues(a);
  Params p = ParamsOf(a);
  if (!CheckExcluded(p, letters)) return 2;
  if (!ApplyConditions(a, *cues, &p, &letters)) return 2;
  Featurized fz = Featurize(*cues, letters, p.bigrams);
  std::vector<size_t> all(letters.size());
  std::iota(all.begin(), all.end(), 0);
  auto oof = OutOfFold(letters, fz, all, p);
  Model m = Fit(letters, fz, all, p);
  ChooseThresholds(letters, all, oof, p, &m);
  json doc = ModelJson(m, cues->version(), cues->complex_conditions(), p, sha, letters.size(), a.files, a.command_line);
  if (a.opts.count("base-model") && !KeepUntrainedOutputs(a.opts.at("base-model"), p, &doc)) return 2;
  std::string out = a.opts.count("out") ? a.opts.at("out") : "config/tagging/letter_model.json";
  std::ofstream o(out);
  o << doc.dump(1) << "\n";
  std::printf("trained on %zu letters (sha256 %s), %zu features kept; thresholds:", letters.size(),
              sha.c_str(), doc["features"].size());
  for (int j = 0; j < 9; ++j) std::printf(" %.2f", m.threshold[j]);
  std::printf("\nwrote %s\n", out.c_str());
  return 0;
}

int CrossValidate(const Args& a) {
  std::vector<Letter> letters;
  std::string sha;
  if (!LoadLetters(a.files, &letters, &sha) || letters.empty()) return 2;
  auto cues = LoadCues(a);
  Params base = ParamsOf(a);
  if (!CheckExcluded(base, letters)) return 2;
  if (!ApplyConditions(a, *cues, &base, &letters)) return 2;
  std::vector<double> l2s;
  {
    std::string s = a.opts.count("l2") ? a.opts.at("l2") : "0.3,1,3";
    std::stringstream ss(s);
    std::string x;
    while (std::getline(ss, x, ',')) l2s.push_back(std::stod(x));
  }
  Featurized fz = Featurize(*cues, letters, base.bigrams);
  std::set<std::string> batches;
  for (const auto& l : letters) batches.insert(l.batch);
  std::printf("corpus sha256 %s, %zu letters in %zu batches\n", sha.c_str(), letters.size(), batches.size());
  const double review_below = a.opts.count("review-below") ? std::stod(a.opts.at("review-below")) : 0.6;
  // --dump FILE: one JSON line per letter with its out-of-fold probabilities and decisions.
  std::ofstream dump;
  if (a.opts.count("dump")) dump.open(a.opts.at("dump"));
  for (double l2 : l2s) {
    Params p = base;
    p.l2 = l2;
    Metrics mt;
    std::map<std::string, Metrics> per_batch;  // the same figures on each held-out batch
    // Per condition (--conditions): letters meeting it, found complex, found by its detector;
    // and the detector's false hits on letters not complex.
    std::array<std::array<int, 4>, kMaxDet> by_cond{};
    for (const std::string& b : batches) {
      std::vector<size_t> train, test;
      for (size_t i = 0; i < letters.size(); ++i) (letters[i].batch == b ? test : train).push_back(i);
      if (train.empty()) continue;
      // Thresholds from the training batches only (inner leave-one-batch-out).
      auto oof = OutOfFold(letters, fz, train, p);
      Model m = Fit(letters, fz, train, p);
      ChooseThresholds(letters, train, oof, p, &m);
      auto index = IndexOf(m);
      for (size_t i : test) {
        auto pr = Predict(m, Indices(m, fz.feats[i], index));
        int kind;
        std::array<bool, 5> flags;
        std::array<bool, 4> sec;
        Decide(m, pr, &kind, &flags, &sec);
        bool review = pr[kind] < review_below;
        for (int j = 0; j < 5; ++j) {
          double q = pr[4 + j];
          if (j == 0 && m.conditions > 0) {
            // As the reading decides (LetterModel::ReadHashes): the confidence of the OR is the
            // largest probability among the parts that fired, or 1 - the largest of all.
            double p_max = q, p_fired = q >= m.threshold[0] ? q : 0;
            for (int c = 0; c < m.conditions; ++c) {
              p_max = std::max(p_max, pr[kBase + c]);
              if (pr[kBase + c] >= m.det_threshold[c]) p_fired = std::max(p_fired, pr[kBase + c]);
            }
            if ((p_fired > 0 ? p_fired : 1 - p_max) < review_below) review = true;
            continue;
          }
          if (std::max(q, 1 - q) < review_below) review = true;
        }
        mt.Add(letters[i], kind, flags, sec, review);
        for (int c = 0; c < static_cast<int>(cues->complex_conditions().size()) && c < kMaxDet; ++c) {
          const bool fires = c < m.conditions && pr[kBase + c] >= m.det_threshold[c];
          if (letters[i].condition[c] == 1) {
            ++by_cond[c][0];
            by_cond[c][1] += flags[0];
            by_cond[c][2] += fires;
          }
          if (!letters[i].flags[0]) by_cond[c][3] += fires;
        }
        per_batch[b].Add(letters[i], kind, flags, sec, review);
        if (dump.is_open()) {
          json d = {{"id", letters[i].id}, {"kind", kLetterKinds[kind]}, {"p", pr}};
          json th = json::array();
          for (int j = 0; j < 9; ++j) th.push_back(m.threshold[j]);
          for (int c = 0; c < m.conditions; ++c) th.push_back(m.det_threshold[c]);
          d["threshold"] = th;
          d["flags"] = flags;
          d["secondary"] = sec;
          dump << d.dump() << "\n";
        }
      }
    }
    char title[160];
    std::snprintf(title, sizeof title,
                  "leave-one-batch-out CV, l2=%g l2_kind=%g l2_ngram=%g epochs=%d min_df=%d bigrams=%d",
                  l2, p.l2_kind, p.l2_ngram, p.epochs, p.min_df, p.bigrams);
    mt.Print(title);
    // Per held-out batch (one writer each): does a flag carry across writers, or does its
    // total rest on a few of them?
    std::printf("per batch: kind accuracy, then each flag's recall and precision (tp/fn/fp)\n%-6s %6s", "batch", "kind");
    for (const char* f : kLetterFlags) std::printf(" %20s", f);
    std::printf("\n");
    for (const auto& [b, bm] : per_batch) {
      std::printf("%-6s %6.3f", b.c_str(), bm.Accuracy());
      for (const auto& c : bm.flag) {
        char cell[40];
        std::snprintf(cell, sizeof cell, "R%.2f P%.2f %d/%d/%d", Metrics::R(c), Metrics::P(c), c[0], c[2], c[1]);
        std::printf(" %20s", cell);
      }
      std::printf("\n");
    }
    if (a.opts.count("conditions")) {
      std::printf("complex by condition (sub-labels %s): letters, recall of the complex flag, found by the condition's detector, its false hits on letters not complex\n",
                  a.opts.at("conditions").c_str());
      for (size_t c = 0; c < cues->complex_conditions().size() && c < static_cast<size_t>(kMaxDet); ++c) {
        const auto& x = by_cond[c];
        std::printf("  %-10s %4d  recall %.3f  detector %.3f  detector false hits %d\n",
                    cues->complex_conditions()[c].id.c_str(), x[0], x[0] ? double(x[1]) / x[0] : 0.0,
                    x[0] ? double(x[2]) / x[0] : 0.0, x[3]);
      }
    }
    std::printf("score (kind accuracy + mean flag F1) / 2 = %.4f\n\n", (mt.Accuracy() + mt.MeanFlagF1()) / 2);
    std::fflush(stdout);
  }
  return 0;
}

// The text as a JSON string body: escaped UTF-8, or raw legacy bytes (quotes escaped).
std::string Escaped(const std::string& bytes, bool legacy) {
  if (!legacy) {
    std::string d = json(bytes).dump();
    return d.substr(1, d.size() - 2);
  }
  std::string out;
  for (char c : bytes) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

int Eval(const Args& a) {
  std::vector<Letter> letters;
  std::string sha;
  if (!LoadLetters(a.files, &letters, &sha) || letters.empty()) return 2;
  std::string rules_path = a.opts.count("rules") ? a.opts.at("rules") : "config/rules/default.json";
  std::string schemas = a.opts.count("schemas") ? a.opts.at("schemas") : "schemas";
  auto rs = danvan::tagging::RuleSet::FromFile(rules_path, schemas);
  if (!rs.ok()) {
    std::cerr << rs.status().message() << "\n";
    return 2;
  }
  const int show_errors = a.opts.count("errors") ? std::stoi(a.opts.at("errors")) : 0;
  const int64_t now = danvan::ParseIsoTime("2023-06-30T17:00:00+07:00").value();
  // Labels read back from the tags, as indicators read them.
  struct Read {
    int kind = -1;
    std::array<bool, 5> flags{};
    std::array<bool, 4> sec{};
    bool review = false;
    std::string Key() const {
      std::string s = std::to_string(kind) + ":";
      for (bool f : flags) s += f ? '1' : '0';
      for (bool f : sec) s += f ? '1' : '0';
      return s;
    }
  };
  auto read_tags = [&](const json& event) {
    Read r;
    std::string text_kind, pk;
    for (const auto& h : rs.value()->Evaluate({"petition", event, now})) {
      if (h.tag == "petition_kind") pk = h.value;
      if (h.tag == "text_kind") text_kind = h.value;
      if (h.tag == "secondary_kind" && KindIndex(h.value) >= 0) r.sec[KindIndex(h.value)] = true;
      if (h.tag == "complexity" && h.value == "complex") r.flags[0] = true;
      if (h.tag == "group_petition") r.flags[1] = true;
      if (h.tag == "staff_conduct") r.flags[2] = true;
      if (h.tag == "anonymous_denunciation") r.flags[3] = true;
      if (h.tag == "protracted" && h.value == "reraised") r.flags[4] = true;
      if (h.tag == "needs_review") r.review = true;
    }
    std::string k = pk.empty() ? text_kind : pk;
    if (k == "feedback_regulation") k = "feedback";
    r.kind = KindIndex(k);
    return r;
  };
  auto event_of = [&](const Letter& l, const std::string& title, const std::string& content,
                      bool legacy) {
    json env = {{"kind", "petition"}, {"source", "eval"}, {"id", l.id}, {"unit", "SGDDT.TTRA"},
                {"version", 1}, {"event_time", "2023-06-01T09:00:00+07:00"},
                {"data", {{"received_at", "2023-06-01"}, {"status", "received"},
                          {"title", "@@TITLE@@"}, {"content", "@@CONTENT@@"}}}};
    std::string raw = env.dump();
    raw.replace(raw.find("@@TITLE@@"), 9, Escaped(title, legacy));
    raw.replace(raw.find("@@CONTENT@@"), 11, Escaped(content, legacy));
    return raw;
  };
  Metrics mt;
  std::map<std::string, std::array<int, 2>> stability;  // form -> (same, total)
  int shown = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (const Letter& l : letters) {
    json ev = json::parse(event_of(l, l.title, l.content, false));
    Read r = read_tags(ev);
    mt.Add(l, r.kind, r.flags, r.sec, r.review);
    if (shown < show_errors && (r.kind != l.kind || r.flags != l.flags)) {
      ++shown;
      std::printf("-- %s: truth %s", l.id.c_str(), kLetterKinds[l.kind]);
      for (int j = 0; j < 5; ++j) if (l.flags[j]) std::printf(" %s", kLetterFlags[j]);
      std::printf(" | read %s", r.kind >= 0 ? kLetterKinds[r.kind] : "-");
      for (int j = 0; j < 5; ++j) if (r.flags[j]) std::printf(" %s", kLetterFlags[j]);
      std::printf("%s\n   %s | %.200s\n", r.review ? " (review)" : "", l.title.c_str(), l.content.c_str());
    }
    if (!a.opts.count("encodings")) continue;
    using danvan::text::Encoding;
    const std::pair<const char*, int> forms[] = {{"NFD", -1},
                                                 {"TCVN3", static_cast<int>(Encoding::kTcvn3)},
                                                 {"VNI", static_cast<int>(Encoding::kVni)},
                                                 {"VISCII", static_cast<int>(Encoding::kViscii)},
                                                 {"Windows-1258", static_cast<int>(Encoding::kCp1258)}};
    for (const auto& [name, enc] : forms) {
      std::string t, c;
      bool legacy = enc >= 0;
      if (!legacy) {
        auto nt = danvan::text::NormalizeNfd(l.title);
        auto nc = danvan::text::NormalizeNfd(l.content);
        if (!nt.ok() || !nc.ok()) continue;
        t = nt.value();
        c = nc.value();
      } else {
        auto et = danvan::text::EncodeLegacy(static_cast<Encoding>(enc), l.title);
        auto ec = danvan::text::EncodeLegacy(static_cast<Encoding>(enc), l.content);
        if (!et.ok() || !ec.ok()) continue;  // a character the encoding cannot hold
        t = et.value();
        c = ec.value();
      }
      auto& s = stability[name];
      ++s[1];
      auto repaired = danvan::text::RepairJsonText(event_of(l, t, c, legacy));
      if (!repaired.ok()) {
        if (a.opts.count("unstable"))
          std::printf("unstable %s %s: not repaired (%s)\n", l.id.c_str(), name, repaired.status().message().c_str());
        continue;
      }
      json e2 = json::parse(repaired->text, nullptr, false);
      if (e2.is_discarded()) {
        if (a.opts.count("unstable")) std::printf("unstable %s %s: repaired text is not JSON\n", l.id.c_str(), name);
        continue;
      }
      Read r2 = read_tags(e2);
      s[0] += r2.Key() == r.Key();
      if (r2.Key() != r.Key() && a.opts.count("unstable"))
        std::printf("unstable %s %s: %s -> %s\n", l.id.c_str(), name, r.Key().c_str(), r2.Key().c_str());
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  mt.Print("eval " + rules_path + " on corpus sha256 " + sha.substr(0, 16));
  if (auto m = rs.value()->letter_model()) std::printf("letter model %s\n", m->version().c_str());
  if (!stability.empty()) {
    std::printf("tag stability across encoding forms (same kind, flags and secondary kinds as NFC):\n");
    for (const auto& [name, s] : stability)
      std::printf("  %-14s %5d / %5d  %.3f\n", name.c_str(), s[0], s[1], s[1] ? double(s[0]) / s[1] : 1.0);
  }
  std::printf("time %.2f s\n", secs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: danvan-letters train|cv|eval|features|tags [options] FILE...\n";
    return 2;
  }
  std::string cmd = argv[1];
  Args a = ParseArgs(argc, argv, 2);
  if (a.files.empty()) {
    std::cerr << "no letter files given\n";
    return 2;
  }
  if (cmd == "train") return Train(a);
  if (cmd == "cv") return CrossValidate(a);
  if (cmd == "eval") return Eval(a);
  if (cmd == "tags") {
    // One JSON line per letter: its id and every tag of the whole tagger (rules + reading) as the
    // engine stores it (TagHit::ToJson, evidence rendered). For error analysis, and to check that
    // a change of the tagger's code leaves every tag, confidence and evidence as it was.
    std::vector<Letter> letters;
    std::string sha;
    if (!LoadLetters(a.files, &letters, &sha)) return 2;
    std::string rules_path = a.opts.count("rules") ? a.opts.at("rules") : "config/rules/default.json";
    std::string schemas = a.opts.count("schemas") ? a.opts.at("schemas") : "schemas";
    auto rs = danvan::tagging::RuleSet::FromFile(rules_path, schemas);
    if (!rs.ok()) {
      std::cerr << rs.status().message() << "\n";
      return 2;
    }
    const int64_t now = danvan::ParseIsoTime("2023-06-30T17:00:00+07:00").value();
    for (const Letter& l : letters) {
      json env = {{"kind", "petition"}, {"source", "tags"}, {"id", l.id}, {"unit", "SGDDT.TTRA"},
                  {"version", 1}, {"event_time", "2023-06-01T09:00:00+07:00"},
                  {"data", {{"received_at", "2023-06-01"}, {"status", "received"},
                            {"title", l.title}, {"content", l.content}}}};
      json tags = json::array();
      for (const auto& h : rs.value()->Evaluate({"petition", env, now})) tags.push_back(h.ToJson());
      std::printf("%s\n", json({{"id", l.id}, {"tags", tags}}).dump().c_str());
    }
    return 0;
  }
  if (cmd == "features") {
    // One JSON line per letter: its id, labels and the names of its cue and structure features
    // (with --ngrams also its n-grams, as the model reads them, for error analysis).
    std::vector<Letter> letters;
    std::string sha;
    if (!LoadLetters(a.files, &letters, &sha)) return 2;
    auto cues = LoadCues(a);
    danvan::tagging::FeatureOptions opt;
    opt.names = true;
    for (const Letter& l : letters) {
      json names = json::array();
      for (const auto& f : LetterFeatures(*cues, l.title, l.content, opt))
        if (a.opts.count("ngrams") || (AlwaysKeep(f.name) && f.name.rfind("len:", 0) != 0))
          names.push_back(f.name);
      json flags = json::object();
      for (int j = 0; j < 5; ++j) flags[kLetterFlags[j]] = l.flags[j];
      std::printf("%s\n", json({{"id", l.id}, {"kind", kLetterKinds[l.kind]}, {"flags", flags},
                                 {"features", names}}).dump().c_str());
    }
    return 0;
  }
  std::cerr << "unknown command " << cmd << "\n";
  return 2;
}
