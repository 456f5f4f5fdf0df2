// Rule loading, evaluation semantics, evidence, re-tag diffs and thread-safety of RuleSet.
#include "tagging/rules.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/timeutil.h"

namespace danvan::tagging {
namespace {

using json = nlohmann::json;
const std::string kRoot = DANVAN_SOURCE_ROOT;
const std::string kSchemas = kRoot + "/schemas";

int64_t Now() { return ParseIsoTime("2023-09-30T17:00:00+07:00").value(); }

json Rule(json when, std::string id = "r1", std::string tag = "t") {
  return {{"id", id},
          {"tag", tag},
          {"description", "Luật thử"},
          {"source", "x"},
          {"kinds", {"petition"}},
          {"when", std::move(when)}};
}
json Pack(std::vector<json> rules, std::string version = "v1") {
  return {{"version", version}, {"rules", rules}};
}

json Petition(json data) {
  return {{"kind", "petition"},
          {"source", "motcua-hp"},
          {"id", "DT-1"},
          {"unit", "SGDDT.TTRA"},
          {"data", std::move(data)}};
}

// Every evaluation is made twice: over nlohmann's document (re-tagging) and over the arena
// view intake reads (issue 16); both must give the same hits, evidence included.
std::vector<TagHit> Eval(const RuleSet& rs, const json& ev) {
  const std::string kind = ev.is_object() && ev.contains("kind") && ev["kind"].is_string()
                               ? ev["kind"].get<std::string>() : std::string();
  std::vector<TagHit> hits = rs.Evaluate({kind, ev, Now()});
  JsonArena arena;
  const std::vector<TagHit> view_hits = rs.Evaluate(ArenaRecordView{kind, *FromNlohmann(ev, &arena), Now()});
  EXPECT_EQ(view_hits.size(), hits.size()) << ev.dump();
  for (size_t i = 0; i < std::min(hits.size(), view_hits.size()); ++i)
    EXPECT_EQ(view_hits[i].ToJson().dump(), hits[i].ToJson().dump()) << ev.dump();
  return hits;
}

TEST(RuleLoad, DefaultPackLoads) {
  auto rs = RuleSet::FromFile(kRoot + "/config/rules/default.json", kSchemas);
  ASSERT_TRUE(rs.ok()) << rs.status().message();
  EXPECT_EQ(rs.value()->version(), "2026.1");
  EXPECT_GE(rs.value()->rule_count(), 25u);
  EXPECT_NE(rs.value()->letter_model(), nullptr);
}

void ExpectError(const json& pack, const std::string& rule_id, const std::string& path) {
  auto rs = RuleSet::FromJson(pack, kSchemas);
  ASSERT_FALSE(rs.ok()) << pack.dump();
  EXPECT_EQ(rs.status().code(), Status::Code::kInvalidInput);
  const std::string& m = rs.status().message();
  EXPECT_NE(m.find("'" + rule_id + "'"), std::string::npos) << m;
  EXPECT_NE(m.find(path), std::string::npos) << m;
}

TEST(RuleLoad, ErrorsNameRuleAndPath) {
  // Unknown operator.
  ExpectError(Pack({Rule({{"field", "content"}, {"op", "contains"}}, "bad-op")}), "bad-op",
              "/rules/0/when");
  // Field known to no record schema.
  ExpectError(
      Pack({Rule(
          {{"all",
            {{{"field", "content"}, {"op", "exists"}}, {{"field", "noi_dung"}, {"op", "exists"}}}}},
          "bad-field")}),
      "bad-field", "/rules/0/when/all/1/field");
  // Field of another kind's schema (dossier's MaHoSo in a petition rule).
  ExpectError(Pack({Rule({{"field", "MaHoSo"}, {"op", "exists"}}, "wrong-kind")}), "wrong-kind",
              "/rules/0/when/field");
  // Bad derived value.
  ExpectError(Pack({Rule({{"field", "$days_since:ngay"}, {"op", "gt"}, {"value", 1}}, "bad-der")}),
              "bad-der", "/rules/0/when/field");
  // Tag that no earlier rule sets.
  ExpectError(Pack({Rule({{"tag", "later"}, {"op", "exists"}}, "early"),
                    Rule({{"field", "content"}, {"op", "exists"}}, "r2", "later")}),
              "early", "/rules/0/when/tag");
  // Bad regex.
  ExpectError(
      Pack({Rule({{"field", "decision_no"}, {"op", "pattern"}, {"value", "([0-9"}}, "bad-re")}),
      "bad-re", "/rules/0/when/value");
  // Numeric comparison without a number.
  ExpectError(Pack({Rule({{"field", "round"}, {"op", "gt"}, {"value", "hai"}}, "bad-num")}),
              "bad-num", "/rules/0/when/value");
  // Unknown keyword list.
  ExpectError(
      Pack({Rule({{"field", "content"}, {"op", "contains_any"}, {"lists", {"nope"}}}, "bad-list")}),
      "bad-list", "/rules/0/when/lists/0");
  // Duplicate id (second rule).
  ExpectError(Pack({Rule({{"field", "content"}, {"op", "exists"}}, "dup"),
                    Rule({{"field", "title"}, {"op", "exists"}}, "dup")}),
              "dup", "/rules/1/id");
  // Schema violation: a rule without its Vietnamese description.
  json no_desc = Rule({{"field", "content"}, {"op", "exists"}}, "no-desc");
  no_desc.erase("description");
  ExpectError(Pack({Rule({{"field", "content"}, {"op", "exists"}}, "ok"), no_desc}), "no-desc",
              "/rules/1");
  // Schema violation inside a condition: unknown key.
  ExpectError(Pack({Rule({{"field", "content"}, {"op", "exists"}, {"valeur", 1}}, "extra")}),
              "extra", "/rules/0/when");
}

TEST(RuleLoad, BadFileLeavesPreviousRulesInForce) {
  auto good = RuleSet::FromJson(
      Pack({Rule({{"field", "content"}, {"op", "contains_any"}, {"keywords", {"khiếu nại"}}})},
           "v1"),
      kSchemas);
  ASSERT_TRUE(good.ok());
  std::shared_ptr<const RuleSet> current = good.value();
  // The engine's swap: only a successfully loaded RuleSet replaces the current one.
  auto bad =
      RuleSet::FromJson(Pack({Rule({{"field", "content"}, {"op", "like"}})}, "v2"), kSchemas);
  ASSERT_FALSE(bad.ok());
  if (bad.ok()) current = bad.value();
  EXPECT_EQ(current->version(), "v1");
  EXPECT_EQ(Eval(*current, Petition({{"content", "KHIẾU NẠI"}})).size(), 1u);
  auto missing = RuleSet::FromFile("/nonexistent/rules.json", kSchemas);
  EXPECT_FALSE(missing.ok());
}

TEST(RuleEval, DefaultPackExplainsPetitionKind) {
  auto rs = RuleSet::FromFile(kRoot + "/config/rules/default.json", kSchemas).value();
  json ev = Petition({{"title", "ĐƠN KHIẾU NẠI"},
                      {"content", "Tôi không đồng ý với quyết định kỷ luật."},
                      {"received_at", "2023-09-01"},
                      {"status", "received"}});
  auto tags = Eval(*rs, ev);
  const TagHit* kind = nullptr;
  for (const auto& t : tags) {
    if (t.tag == "petition_kind") kind = &t;
  }
  ASSERT_NE(kind, nullptr);
  EXPECT_EQ(kind->value, "complaint");
  EXPECT_EQ(kind->rule_id, "petition-kind.classify");
  EXPECT_EQ(kind->rules_version, "2026.1");
  // The text_kind tag carries the letter model's weighted evidence and a confidence.
  bool saw = false, strong = false;
  for (const auto& t : tags) {
    if (t.tag == "text_kind_strength") strong = t.value == "strong";
    if (t.tag != "text_kind") continue;
    saw = true;
    EXPECT_EQ(t.rule_id, "reading.kind");
    EXPECT_GT(t.confidence, 0.25);
    const json ev = t.EvidenceJson();  // the reading's evidence is rendered when asked for
    ASSERT_TRUE(ev.is_array());
    ASSERT_FALSE(ev[0]["features"].empty()) << ev.dump();
    EXPECT_TRUE(ev[0]["features"][0]["feature"].is_string());
    EXPECT_GT(ev[0]["features"][0]["weight"].get<double>(), 0);
    EXPECT_EQ(t.ToJson()["evidence"], ev);
  }
  EXPECT_TRUE(saw);
  // Host class contradicts the text -> mismatch, when the reading is strong.
  ev["data"]["petition_kind"] = "feedback";
  bool mismatch = false;
  for (const auto& t : Eval(*rs, ev)) {
    if (t.tag == "petition_kind_mismatch") {
      mismatch = true;
      EXPECT_EQ(t.value, "complaint");
    }
    EXPECT_NE(t.tag, "petition_kind");
  }
  EXPECT_EQ(mismatch, strong);
}

// The reading's evidence is kept compact and rendered when a tag is stored or explained; a tag
// outlives the rule set that made it (a configuration reload swaps the set while tags are being
// stored), and renders the same JSON every time.
TEST(RuleEval, ReadingEvidenceRendersAfterTheRuleSetIsGone) {
  auto rs = RuleSet::FromFile(kRoot + "/config/rules/default.json", kSchemas).value();
  json ev = Petition({{"title", "Đơn tố cáo"},
                      {"content", "Tôi không ghi tên. Hiệu trưởng thu tiền trái quy định của toàn "
                                  "trường, 1.200 học sinh. Đề nghị thanh tra, xử lý nghiêm."},
                      {"received_at", "2023-09-01"},
                      {"status", "received"}});
  std::vector<TagHit> tags = Eval(*rs, ev);
  std::vector<json> stored;
  size_t deferred = 0;
  for (const auto& t : tags) {
    stored.push_back(t.ToJson());
    if (t.deferred) {
      ++deferred;
      EXPECT_TRUE(t.evidence.is_null()) << t.tag;  // not rendered by Evaluate
      EXPECT_TRUE(t.EvidenceJson().is_array()) << t.tag;
      EXPECT_FALSE(t.EvidenceJson().empty()) << t.tag;
    }
  }
  EXPECT_GE(deferred, 3u);  // text_kind, text_kind_strength, letter_reading at least
  rs.reset();
  for (size_t i = 0; i < tags.size(); ++i) {
    EXPECT_EQ(tags[i].ToJson(), stored[i]) << tags[i].tag;
    TagHit copy = tags[i];
    EXPECT_EQ(copy.ToJson(), stored[i]) << tags[i].tag;
    auto back = TagHit::FromJson(stored[i]);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->ToJson(), stored[i]);
  }
}

TEST(RuleEval, OperatorsAndDerivedValues) {
  json pack = Pack({
      Rule({{"field", "$days_since_received"}, {"op", "gt"}, {"value", 60}}, "old", "old"),
      Rule({{"field", "$petitioner_count"}, {"op", "ge"}, {"value", 3}}, "many", "many"),
      Rule({{"field", "decision_no"}, {"op", "pattern"}, {"value", "^[0-9]+/QĐ-SGDĐT$"}}, "re",
           "re"),
      Rule({{"field", "channel"}, {"op", "in"}, {"values", {"portal", "email"}}}, "online",
           "online"),
      Rule({{"field", "received_at"}, {"op", "before"}, {"value", "2023-03-01"}}, "early", "early"),
      Rule({{"not", {{"field", "anonymous"}, {"op", "eq"}, {"value", true}}}}, "named", "named"),
      Rule({{"field", "$count:extensions"}, {"op", "ge"}, {"value", 1}}, "ext", "ext"),
      Rule({{"field", "@unit"}, {"op", "eq"}, {"value", "SGDDT.TTRA"}}, "unit", "unit"),
      Rule({{"field", "$days_past_due"}, {"op", "gt"}, {"value", 0}}, "late", "late"),
      // A path through an array: every element's member is a value (the third matches).
      Rule({{"field", "petitioners.name"}, {"op", "eq"}, {"value", "C"}}, "named_c", "named_c"),
  });
  auto rs = RuleSet::FromJson(pack, kSchemas);
  ASSERT_TRUE(rs.ok()) << rs.status().message();
  json ev = Petition({{"received_at", "2023-02-10"},
                      {"due_at", "2023-03-12"},
                      {"petitioners", {{{"name", "A"}}, {{"name", "B"}}, {{"name", "C"}}}},
                      {"decision_no", "125/QĐ-SGDĐT"},
                      {"channel", "portal"},
                      {"extensions", {{{"days", 15}, {"reason", "phức tạp"}}}}});
  std::set<std::string> tags;
  for (const auto& t : Eval(*rs.value(), ev)) tags.insert(t.tag);
  EXPECT_EQ(tags, (std::set<std::string>{"old", "many", "re", "online", "early", "named", "ext",
                                         "unit", "late", "named_c"}));
  ev["data"]["received_at"] = "2023-09-20";
  ev["data"]["due_at"] = "2023-10-20";
  ev["data"]["petitioner_count"] = 2;  // the explicit count wins over the list
  ev["data"]["anonymous"] = true;
  ev["data"]["channel"] = "direct";
  ev["data"]["decision_no"] = "125/QĐ-UBND";
  ev["data"]["extensions"] = json::array();
  ev["data"]["petitioners"] = {{{"name", "A"}}, {{"name", "B"}}};
  tags.clear();
  for (const auto& t : Eval(*rs.value(), ev)) tags.insert(t.tag);
  EXPECT_EQ(tags, (std::set<std::string>{"unit"}));
}

TEST(RuleEval, ExactDiacriticsPreferredFoldedWhenNone) {
  auto rs = RuleSet::FromJson(
      Pack({Rule({{"field", "content"}, {"op", "contains_any"}, {"keywords", {"tố cáo"}}})}),
      kSchemas);
  ASSERT_TRUE(rs.ok()) << rs.status().message();
  auto count = [&](const char* text) {
    return Eval(*rs.value(), Petition({{"content", text}})).size();
  };
  EXPECT_EQ(count("Tôi tố cáo ông A"), 1u);
  EXPECT_EQ(count("TÔI TỐ CÁO ÔNG A"), 1u);
  EXPECT_EQ(count("toi to cao ong A"), 1u);
  EXPECT_EQ(count("Tổ cáo buộc của đoàn kiểm tra"), 0u);  // tổ, not tố
  EXPECT_EQ(count("Tôi tố cáoo"), 0u);                    // word boundary
}

TEST(RuleEval, GroupsAreExclusiveByPriority) {
  json low = Rule({{"field", "content"}, {"op", "exists"}}, "low", "k");
  low["value"] = "low";
  low["group"] = "g";
  low["priority"] = 1;
  json high = Rule({{"field", "content"}, {"op", "contains_any"}, {"keywords", {"khiếu nại"}}},
                   "high", "k");
  high["value"] = "high";
  high["group"] = "g";
  high["priority"] = 5;
  auto rs = RuleSet::FromJson(Pack({low, high}), kSchemas).value();
  auto a = Eval(*rs, Petition({{"content", "khiếu nại"}}));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].value, "high");
  auto b = Eval(*rs, Petition({{"content", "cảm ơn"}}));
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].value, "low");
}

TEST(RuleEval, RetagDiffReportsChangesWithVersions) {
  json r_kind = Rule({{"field", "content"}, {"op", "contains_any"}, {"keywords", {"khiếu nại"}}},
                     "kind", "kind");
  r_kind["value"] = "complaint";
  json r_old = Rule({{"field", "content"}, {"op", "exists"}}, "old-only", "legacy_tag");
  auto v1 = RuleSet::FromJson(Pack({r_kind, r_old}, "v1"), kSchemas).value();
  json r_kind2 = r_kind;
  r_kind2["value"] = "complaint_1";
  json r_new = Rule({{"field", "content"}, {"op", "contains_any"}, {"keywords", {"lần hai"}}},
                    "round2", "round");
  r_new["value"] = "2";
  auto v2 = RuleSet::FromJson(Pack({r_kind2, r_new}, "v2"), kSchemas).value();
  json ev = Petition({{"content", "Đơn khiếu nại lần hai"}});
  auto before = Eval(*v1, ev);
  auto after = Eval(*v2, ev);
  TagDiff d = DiffTags(before, after);
  ASSERT_EQ(d.changed.size(), 1u);
  EXPECT_EQ(d.changed[0].first.value, "complaint");
  EXPECT_EQ(d.changed[0].second.value, "complaint_1");
  EXPECT_EQ(d.changed[0].second.rules_version, "v2");
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(d.added[0].tag, "round");
  ASSERT_EQ(d.removed.size(), 1u);
  EXPECT_EQ(d.removed[0].tag, "legacy_tag");
  json j = d.ToJson();
  EXPECT_EQ(j["changed"][0]["old_rules_version"], "v1");
  EXPECT_TRUE(DiffTags(after, after).empty());
  // Round trip of the stored form.
  auto back = TagHit::FromJson(after[0].ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->value, after[0].value);
  EXPECT_EQ(back->evidence, after[0].EvidenceJson());
}

TEST(RuleEval, ConcurrentEvaluationIsConsistent) {
  auto rs = RuleSet::FromFile(kRoot + "/config/rules/default.json", kSchemas).value();
  json ev = Petition(
      {{"title", "Đơn tố cáo"},
       {"content", "Chúng tôi gồm 12 hộ dân tố cáo việc thu tiền trái phép, xin được giấu tên."},
       {"received_at", "2023-05-02"},
       {"status", "in_progress"},
       {"due_at", "2023-06-01"}});
  auto reference = Eval(*rs, ev);
  ASSERT_GE(reference.size(), 5u);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        auto got = Eval(*rs, ev);
        if (!DiffTags(reference, got).empty() || got.size() != reference.size()) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace danvan::tagging
