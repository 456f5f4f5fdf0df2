// FastSchema and SimplePattern against the references they stand in for: std::regex_search and
// valijson (draft 7, strong types), on the record schemas of schemas/records/ and on documents
// generated from those schemas (mostly valid, some broken in one place).
#include "core/arena_json.h"
#include "core/fast_schema.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>
#include <regex>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "core/json_schema.h"

namespace danvan {
namespace {

std::vector<std::string> RecordSchemaFiles() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(DANVAN_SCHEMAS_DIR "/records"))
    if (e.path().extension() == ".json") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

void CollectPatterns(const nlohmann::json& s, std::set<std::string>* out) {
  if (s.is_object()) {
    for (auto it = s.begin(); it != s.end(); ++it) {
      if (it.key() == "pattern" && it->is_string()) out->insert(it->get<std::string>());
      CollectPatterns(*it, out);
    }
  } else if (s.is_array()) {
    for (const auto& e : s) CollectPatterns(e, out);
  }
}

std::string RandomString(std::mt19937& rng) {
  static const std::vector<std::string> kAtoms = {
      "0", "1", "2", "5", "9", "-", ":", "T", " ", "Z", "+", ".", "a", "A", "_", "\n",
      "\r", "x", "\xC3\xA1", "\xE1\xBB\x87", std::string(1, '\0'), "2023-03-02", "09:15",
      ":00", "+07:00", "20230302091500", "123456789", "12"};
  std::uniform_int_distribution<int> len(0, 12), pick(0, static_cast<int>(kAtoms.size()) - 1);
  std::string s;
  for (int n = len(rng); n > 0; --n) s += kAtoms[pick(rng)];
  return s;
}

TEST(SimplePatternTest, SchemaPatternsCompileAndAgreeWithStdRegex) {
  std::set<std::string> patterns = {"a|b", "^(ab|a)*c$", "x{2,3}y", "[^0-9]+", "q\\.r?",
                                    "^$", "[a-c-]{0,2}", "^(a|)b$", "ab*c+d?$", "[\\d.]+"};
  for (const auto& f : RecordSchemaFiles()) CollectPatterns(*ReadJsonFile(f), &patterns);
  ASSERT_GE(patterns.size(), 15u);
  std::mt19937 rng(7);
  std::vector<std::string> samples = {"", "2023-03-02", "2023-03-02T09:15:00+07:00",
                                      "2023-03-02 09:15:00.123Z", "2023-03-02T09:15",
                                      "20230302091500", "123456789", "123456789012",
                                      "0912 345.678", "12.5", ".5", "abc_1.2-x", "a\nb",
                                      "2023-03-02T09:15:00+07:00\n"};
  for (int i = 0; i < 4000; ++i) samples.push_back(RandomString(rng));
  for (const auto& p : patterns) {
    auto fast = SimplePattern::Compile(p);
    ASSERT_NE(fast, nullptr) << p;
    const std::regex reference(p);
    for (const auto& s : samples)
      ASSERT_EQ(fast->Search(s), std::regex_search(s, reference)) << "pattern " << p << " on \"" << s << "\"";
  }
}

TEST(SimplePatternTest, OutsideTheSubsetIsRefused) {
  for (const char* p : {"a.b", "\\w+", "(?:x)", "[[:alpha:]]", "a{2", "x*?", "(a", "a)", "[]",
                        "\\1", "caf\xC3\xA9", "a{100}"})
    EXPECT_EQ(SimplePattern::Compile(p), nullptr) << p;
}

// A document for schema node `s`: valid when nothing is broken, else broken with probability
// `flaw` at each node (a wrong type, a missing required field, an unknown field, a bad string).
nlohmann::json Generate(const nlohmann::json& s, std::mt19937& rng, double flaw, int depth = 0) {
  std::uniform_real_distribution<double> u(0, 1);
  const bool broken = u(rng) < flaw;
  if (s.contains("enum")) {
    if (broken) return u(rng) < 0.5 ? nlohmann::json("??") : nlohmann::json(7);
    const auto& e = s["enum"];
    return e[std::uniform_int_distribution<size_t>(0, e.size() - 1)(rng)];
  }
  std::string type = "string";
  if (s.contains("type")) type = s["type"].is_string() ? s["type"].get<std::string>() : s["type"][0].get<std::string>();
  else if (s.contains("properties")) type = "object";
  if (broken && u(rng) < 0.3) return type == "string" ? nlohmann::json(12) : nlohmann::json("x");
  if (type == "object") {
    nlohmann::json o = nlohmann::json::object();
    std::set<std::string> required;
    if (s.contains("required"))
      for (const auto& r : s["required"]) required.insert(r.get<std::string>());
    if (s.contains("properties")) {
      for (auto it = s["properties"].begin(); it != s["properties"].end(); ++it) {
        const bool need = required.count(it.key()) > 0;
        if (need ? (broken && u(rng) < 0.3) : u(rng) < 0.4) continue;
        if (depth < 6) o[it.key()] = Generate(*it, rng, flaw, depth + 1);
      }
    }
    if (broken && u(rng) < 0.3) o["khong_co_trong_luoc_do"] = 1;
    return o;
  }
  if (type == "array") {
    nlohmann::json a = nlohmann::json::array();
    size_t n = std::uniform_int_distribution<size_t>(0, 3)(rng);
    if (broken && s.contains("maxItems")) n = s["maxItems"].get<size_t>() + 1;
    for (size_t i = 0; i < n && depth < 6; ++i)
      a.push_back(s.contains("items") ? Generate(s["items"], rng, flaw, depth + 1) : nlohmann::json(i));
    return a;
  }
  if (type == "integer" || type == "number") {
    int64_t lo = s.contains("minimum") ? s["minimum"].get<int64_t>() : -5;
    int64_t hi = s.contains("maximum") ? s["maximum"].get<int64_t>() : lo + 1000;
    if (broken) return u(rng) < 0.5 ? nlohmann::json(hi + 1) : nlohmann::json(lo - 1);
    int64_t v = std::uniform_int_distribution<int64_t>(lo, hi)(rng);
    if (type == "number" && u(rng) < 0.3) return nlohmann::json(static_cast<double>(v) + 0.5);
    return v;
  }
  if (type == "boolean") return u(rng) < 0.5;
  if (type == "null") return nullptr;
  // Strings: one of these that fits the pattern, when there is one.
  static const std::vector<std::string> kCandidates = {
      "20230302091500", "2023-03-02T09:15:00+07:00", "2023-03-02", "123456789", "123456789012",
      "0912 345.678", "12.5", "abc_1.2-x", "Nguyễn Văn Ánh", "", "UBND-01", "x"};
  static std::map<std::string, std::regex> compiled;
  const std::regex* re = nullptr;
  if (s.contains("pattern")) {
    const std::string p = s["pattern"].get<std::string>();
    re = &compiled.try_emplace(p, p).first->second;
  }
  std::vector<std::string> fits;
  for (const auto& c : kCandidates) {
    if (re && !std::regex_search(c, *re)) continue;
    if (s.contains("minLength") && c.size() < s["minLength"].get<size_t>()) continue;
    fits.push_back(c);
  }
  std::string v = fits.empty() ? "x" : fits[std::uniform_int_distribution<size_t>(0, fits.size() - 1)(rng)];
  if (broken) {
    if (u(rng) < 0.5 && s.contains("maxLength")) v = std::string(s["maxLength"].get<size_t>() + 1, 'a');
    else v += "!\xC3\xA1";
  }
  return v;
}

TEST(FastSchemaTest, AgreesWithValijsonOnGeneratedRecords) {
  valijson::Validator validator(valijson::Validator::kStrongTypes);
  for (const auto& file : RecordSchemaFiles()) {
    const nlohmann::json source = *ReadJsonFile(file);
    valijson::Schema reference;
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(source);
    parser.populateSchema(adapter, reference);
    auto fast = FastSchema::Compile(source);
    std::mt19937 rng(2026);
    JsonArena arena;
    int valid = 0, invalid = 0, unknown = 0;
    for (int i = 0; i < 1500; ++i) {
      const double flaw = i % 3 == 0 ? 0.0 : (i % 3 == 1 ? 0.02 : 0.1);
      nlohmann::json doc = Generate(source, rng, flaw);
      valijson::adapters::NlohmannJsonAdapter target(doc);
      const bool ok = validator.validate(reference, target, nullptr);
      // The arena view of the same document gets the same verdict (Intake reads views).
      arena.Reset();
      ASSERT_EQ(fast->CheckView(*FromNlohmann(doc, &arena)), fast->Check(doc)) << file << doc.dump(1);
      switch (fast->Check(doc)) {
        case FastSchema::Verdict::kValid:
          ASSERT_TRUE(ok) << file << ": fast says valid, valijson does not:\n" << doc.dump(1);
          ++valid;
          break;
        case FastSchema::Verdict::kInvalid:
          ASSERT_FALSE(ok) << file << ": fast says invalid, valijson accepts:\n" << doc.dump(1);
          ++invalid;
          break;
        case FastSchema::Verdict::kUnknown:
          ++unknown;
          break;
      }
      // The valid documents are decided without valijson (the point of the checker).
      if (ok && flaw == 0.0) {
        EXPECT_EQ(fast->Check(doc), FastSchema::Verdict::kValid) << file << doc.dump(1);
      }
    }
    EXPECT_GT(valid, 250) << file;
    EXPECT_GT(invalid, 50) << file;
    EXPECT_LT(unknown, 150) << file;
  }
}

TEST(FastSchemaTest, OpaqueKeywordsAreLeftToValijson) {
  auto fast = FastSchema::Compile(nlohmann::json::parse(
      R"({"type":"object","properties":{"a":{"type":"string","format":"email"}}})"));
  EXPECT_EQ(fast->Check(nlohmann::json::parse(R"({"a":"x"})")), FastSchema::Verdict::kUnknown);
  // Outside the opaque node the checker still decides.
  EXPECT_EQ(fast->Check(nlohmann::json::parse(R"({"b":1})")), FastSchema::Verdict::kValid);
  EXPECT_EQ(fast->Check(nlohmann::json::parse("[]")), FastSchema::Verdict::kInvalid);
  // valijson counts a string with a NUL only up to the NUL: not decided here.
  auto len = FastSchema::Compile(nlohmann::json::parse(R"({"type":"string","maxLength":2})"));
  EXPECT_EQ(len->Check(std::string("a\0bcd", 5)), FastSchema::Verdict::kUnknown);
  EXPECT_EQ(len->Check("ệệ"), FastSchema::Verdict::kValid);
  EXPECT_EQ(len->Check("ệệa"), FastSchema::Verdict::kInvalid);
}

TEST(FastSchemaTest, JsonSchemaErrorsAreValijsonsWhenInvalid) {
  auto schema = JsonSchema::FromFile(DANVAN_SCHEMAS_DIR "/records/envelope.schema.json");
  ASSERT_TRUE(schema.ok());
  std::vector<FieldError> errors;
  EXPECT_TRUE((*schema)->Validate(nlohmann::json::parse(
                                      R"({"kind":"petition","source":"s","id":"1","unit":"u",
                                          "event_time":"2023-03-02","version":1,"data":{}})"),
                                  &errors));
  EXPECT_TRUE(errors.empty());
  EXPECT_FALSE((*schema)->Validate(nlohmann::json::parse(
                                       R"({"kind":"petition","source":"s s","id":"1","unit":"u",
                                           "event_time":"2023-03-02","version":1,"data":{}})"),
                                   &errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "/source");
  EXPECT_EQ(errors[0].code, "schema.pattern");
}

}  // namespace
}  // namespace danvan
