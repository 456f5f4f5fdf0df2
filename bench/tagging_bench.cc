// Tagging throughput (issue 3): records/s on one core with the default rule pack and with
// generated packs of N keyword rules (N = 100 ... 2000) to show that the Aho-Corasick automaton
// keeps the cost from growing linearly with the number of keywords; plus RepairJsonText on
// valid UTF-8 (the fast path every event takes) and on legacy-encoded events.
//
// BM_Letters (issue 12): petition letters of 1-2 KB through the default pack, whose "reading"
// runs the letter model (cues + linear model) on every letter. Letters: the labelled JSONL
// files named by DANVAN_LETTERS (colon-separated; e.g. the development letters), else the
// corpus petition texts joined into 1-2 KB letters.
//
// Records: the sample generator's output when DANVAN_SAMPLE names a JSONL file
// (tools/sample-gen/gen_sample.py), else the labelled corpus (tests/corpus/tagging).
// Results and the machine: bench/RESULTS-tagging.md.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/timeutil.h"
#include "tagging/letter_model.h"
#include "tagging/rules.h"
#include "text/json_repair.h"
#include "text/legacy.h"

namespace {

using json = nlohmann::json;
using danvan::tagging::RuleSet;
const std::string kRoot = DANVAN_SOURCE_ROOT;

struct Sample {
  std::vector<json> events;
  std::vector<std::string> raw;  // valid events as raw text
  std::string source;
};

const Sample& GetSample() {
  static const Sample* sample = [] {
    auto* s = new Sample();
    const char* path = std::getenv("DANVAN_SAMPLE");
    if (path && *path) {
      std::ifstream in(path);
      std::string line;
      while (std::getline(in, line)) {
        auto r = danvan::text::RepairJsonText(line);
        if (!r.ok()) continue;
        json ev = json::parse(r->text, nullptr, false);
        if (ev.is_discarded() || !ev.is_object() || !ev.contains("kind") ||
            !ev["kind"].is_string() || !ev.contains("data") || !ev["data"].is_object()) {
          continue;
        }
        s->raw.push_back(line);
        s->events.push_back(std::move(ev));
      }
      s->source = path;
    }
    if (s->events.empty()) {
      std::ifstream in(kRoot + "/tests/corpus/tagging/corpus.jsonl");
      std::string line;
      std::getline(in, line);
      int i = 0;
      while (std::getline(in, line)) {
        json item = json::parse(line);
        json data = item["data"];
        for (auto it = item["texts"].begin(); it != item["texts"].end(); ++it) {
          data[json::json_pointer(it.key())] = it.value();
        }
        json ev = {
            {"kind", item["kind"]}, {"source", "motcua-hp"}, {"id", "B" + std::to_string(i++)},
            {"unit", "SGDDT.TTRA"}, {"version", 1},          {"data", data}};
        s->raw.push_back(ev.dump());
        s->events.push_back(std::move(ev));
      }
      s->source = "tests/corpus/tagging/corpus.jsonl";
    }
    return s;
  }();
  return *sample;
}

int64_t Now() { return danvan::ParseIsoTime("2023-12-31T17:00:00+07:00").value(); }

void RunPack(benchmark::State& state, const RuleSet& rs) {
  const Sample& s = GetSample();
  const int64_t now = Now();
  size_t i = 0, tags = 0;
  for (auto _ : state) {
    const json& ev = s.events[i];
    auto hits = rs.Evaluate({ev["kind"].get_ref<const std::string&>(), ev, now});
    tags += hits.size();
    benchmark::DoNotOptimize(hits);
    if (++i == s.events.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["tags_per_record"] =
      benchmark::Counter(static_cast<double>(tags) / std::max<int64_t>(1, state.iterations()));
  state.SetLabel(s.source + " (" + std::to_string(s.events.size()) + " records)");
}

void BM_DefaultPack(benchmark::State& state) {
  static auto rs = RuleSet::FromFile(kRoot + "/config/rules/default.json", kRoot + "/schemas");
  if (!rs.ok()) {
    state.SkipWithError(rs.status().message().c_str());
    return;
  }
  RunPack(state, *rs.value());
}
BENCHMARK(BM_DefaultPack);

// N rules, each contains_any of two distinct two-syllable Vietnamese phrases over title and
// content (petitions) or TrichYeuHoSo (dossiers); a few of them occur in the records.
std::shared_ptr<const RuleSet> KeywordPack(int n) {
  static const char* syl[] = {
      "khiếu",  "nại",   "tố",     "cáo",   "kiến",   "nghị", "phản",  "ánh",  "giáo",  "viên",
      "học",    "sinh",  "trường", "lớp",   "thi",    "điểm", "quyết", "định", "kỷ",    "luật",
      "thu",    "tiền",  "quỹ",    "phụ",   "huynh",  "hồ",   "sơ",    "bằng", "cấp",   "sao",
      "chuyển", "công",  "dân",    "vận",   "khéo",   "mô",   "hình",  "đất",  "đai",   "nhà",
      "ở",      "tuyển", "dụng",   "lương", "thưởng", "bảo",  "hiểm",  "xã",   "hội",   "an",
      "toàn",   "giao",  "thông",  "văn",   "hóa",    "số",   "hóa",   "trực", "tuyến", "hạn"};
  const int ns = sizeof(syl) / sizeof(syl[0]);
  std::mt19937 rng(2000);
  json rules = json::array();
  std::set<std::string> used;
  for (int r = 0; r < n; ++r) {
    json kws = json::array();
    while (kws.size() < 2) {
      std::string p = std::string(syl[rng() % ns]) + " " + syl[rng() % ns];
      if (rng() % 2) p += std::string(" ") + syl[rng() % ns];
      if (used.insert(p).second) kws.push_back(p);
    }
    rules.push_back(
        {{"id", "kw-" + std::to_string(r)},
         {"tag", "kw"},
         {"value", std::to_string(r)},
         {"description", "Luật từ khóa sinh tự động"},
         {"source", "bench"},
         {"kinds", {"petition", "dossier"}},
         {"when",
          {{"any",
            {{{"field", json::array({"title", "content"})},
              {"op", "contains_any"},
              {"keywords", kws}},
             {{"field", "TrichYeuHoSo"}, {"op", "contains_any"}, {"keywords", kws}}}}}}});
  }
  auto rs = RuleSet::FromJson({{"version", "bench-" + std::to_string(n)}, {"rules", rules}},
                              kRoot + "/schemas");
  if (!rs.ok()) return nullptr;
  return rs.value();
}

void BM_KeywordPack(benchmark::State& state) {
  static std::map<int, std::shared_ptr<const RuleSet>> packs;  // the runner is single-threaded
  auto& rs = packs[static_cast<int>(state.range(0))];
  if (!rs) rs = KeywordPack(static_cast<int>(state.range(0)));
  if (!rs) {
    state.SkipWithError("keyword pack failed to load");
    return;
  }
  state.counters["keywords"] = static_cast<double>(rs->keyword_count());
  RunPack(state, *rs);
}
BENCHMARK(BM_KeywordPack)->Arg(100)->Arg(500)->Arg(2000);

void BM_RepairValidUtf8(benchmark::State& state) {
  const Sample& s = GetSample();
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    auto r = danvan::text::RepairJsonText(s.raw[i]);
    bytes += s.raw[i].size();
    benchmark::DoNotOptimize(r);
    if (++i == s.raw.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_RepairValidUtf8);

void BM_RepairLegacy(benchmark::State& state) {
  const auto enc = static_cast<danvan::text::Encoding>(state.range(0));
  const Sample& s = GetSample();
  std::vector<std::string> legacy;
  for (const json& ev : s.events) {
    if (ev["kind"] != "petition" || !ev["data"].contains("content")) continue;
    auto bytes = danvan::text::EncodeLegacy(enc, ev["data"]["content"].get<std::string>());
    if (!bytes.ok()) continue;
    json copy = ev;
    copy["data"]["content"] = "@@C@@";
    std::string raw = copy.dump();
    std::string esc;
    for (char c : bytes.value()) {
      if (c == '"' || c == '\\') esc.push_back('\\');
      esc.push_back(c);
    }
    raw.replace(raw.find("@@C@@"), 5, esc);
    legacy.push_back(std::move(raw));
    if (legacy.size() >= 200) break;
  }
  if (legacy.empty()) {
    state.SkipWithError("no petition texts");
    return;
  }
  size_t i = 0;
  for (auto _ : state) {
    auto r = danvan::text::RepairJsonText(legacy[i]);
    benchmark::DoNotOptimize(r);
    if (++i == legacy.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(danvan::text::EncodingName(enc));
}
BENCHMARK(BM_RepairLegacy)
    ->Arg(static_cast<int>(danvan::text::Encoding::kTcvn3))
    ->Arg(static_cast<int>(danvan::text::Encoding::kVni));

}  // namespace

std::vector<json> LetterEvents() {
  std::vector<std::pair<std::string, std::string>> texts;  // (title, content)
  if (const char* env = std::getenv("DANVAN_LETTERS"); env && *env) {
    std::string list = env;
    size_t pos = 0;
    while (pos <= list.size()) {
      size_t end = list.find(':', pos);
      if (end == std::string::npos) end = list.size();
      std::ifstream in(list.substr(pos, end - pos));
      std::string line;
      while (std::getline(in, line)) {
        json j = json::parse(line, nullptr, false);
        if (j.is_object()) texts.emplace_back(j.value("title", ""), j.value("content", ""));
      }
      pos = end + 1;
    }
  }
  if (texts.empty()) {
    std::string acc;
    for (const json& ev : GetSample().events) {
      if (ev["kind"] != "petition" || !ev["data"].contains("content")) continue;
      acc += ev["data"]["content"].get<std::string>() + "\n";
      if (acc.size() >= 1024) {
        texts.emplace_back(ev["data"].value("title", ""), acc.substr(0, 2048));
        acc.clear();
      }
    }
  }
  std::vector<json> events;
  int i = 0;
  for (auto& [title, content] : texts) {
    events.push_back({{"kind", "petition"}, {"source", "bench"}, {"id", "L" + std::to_string(i++)},
                      {"unit", "SGDDT.TTRA"}, {"version", 1},
                      {"data", {{"title", title}, {"content", content}, {"received_at", "2023-04-03"},
                                {"status", "received"}}}});
  }
  return events;
}

// BM_Letters through the rule file at `rules` (its reading's model and cues beside it).
void LettersThrough(benchmark::State& state, const std::string& rules) {
  static const std::vector<json> letters = LetterEvents();
  auto loaded = RuleSet::FromFile(rules, kRoot + "/schemas");
  if (!loaded.ok()) {
    state.SkipWithError(loaded.status().message().c_str());
    return;
  }
  auto rs = loaded.value();
  const int64_t now = danvan::ParseIsoTime("2023-09-30T17:00:00+07:00").value();
  size_t i = 0, bytes = 0, tags = 0;
  for (auto _ : state) {
    const json& ev = letters[i++ % letters.size()];
    auto hits = rs->Evaluate({"petition", ev, now});
    tags += hits.size();
    bytes += ev["data"]["content"].get_ref<const std::string&>().size();
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["letters"] = static_cast<double>(letters.size());
  state.counters["avg_bytes"] = static_cast<double>(bytes) / std::max<int64_t>(1, state.iterations());
  state.counters["tags_per_letter"] = static_cast<double>(tags) / std::max<int64_t>(1, state.iterations());
}
void BM_Letters(benchmark::State& state) { LettersThrough(state, kRoot + "/config/rules/default.json"); }
BENCHMARK(BM_Letters);
// The same letters through another rule file, named by DANVAN_BASELINE_RULES (e.g. a copy of
// config/rules/default.json beside the previous round's model and cue file), so that two models
// are measured in one run (with --benchmark_enable_random_interleaving, alternately).
void BM_LettersBaseline(benchmark::State& state) {
  const char* rules = std::getenv("DANVAN_BASELINE_RULES");
  if (!rules || !*rules) {
    state.SkipWithError("DANVAN_BASELINE_RULES not set");
    return;
  }
  LettersThrough(state, rules);
}
BENCHMARK(BM_LettersBaseline);

// The same, plus what the engine does with the tags when it stores them (re-tagging, intake):
// each tag as JSON with its evidence rendered (TagHit::ToJson), the array dumped to a string.
void BM_LettersStored(benchmark::State& state) {
  static const std::vector<json> letters = LetterEvents();
  auto rs = RuleSet::FromFile(kRoot + "/config/rules/default.json", kRoot + "/schemas").value();
  const int64_t now = danvan::ParseIsoTime("2023-09-30T17:00:00+07:00").value();
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const json& ev = letters[i++ % letters.size()];
    json tags = json::array();
    for (const auto& h : rs->Evaluate({"petition", ev, now})) tags.push_back(h.ToJson());
    std::string stored = tags.dump();
    bytes += stored.size();
    benchmark::DoNotOptimize(stored);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["stored_bytes"] = static_cast<double>(bytes) / std::max<int64_t>(1, state.iterations());
}
BENCHMARK(BM_LettersStored);

// The letter model alone (features + scores + evidence, no JSON, no rules).
void BM_LetterModelRead(benchmark::State& state) {
  static const std::vector<json> letters = LetterEvents();
  auto rs = RuleSet::FromFile(kRoot + "/config/rules/default.json", kRoot + "/schemas").value();
  auto model = rs->letter_model();
  size_t i = 0;
  for (auto _ : state) {
    const json& d = letters[i++ % letters.size()]["data"];
    auto r = model->Read(d["title"].get_ref<const std::string&>(), d["content"].get_ref<const std::string&>());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LetterModelRead);

BENCHMARK_MAIN();
