// The report scan's readers (plugin/engine/record_scan.h) give what the document path gives:
// json::parse without exceptions, then Contribution::FromJson for each item, or a top-level
// member that is a string. Texts of every shape the stored JSON could take, and reuse from one
// record to the next (a short record after a long one, a field absent after present).
#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/record_scan.h"
#include "indicators/contributions.h"

namespace danvan {
namespace {

using nlohmann::json;

// The document path of the report's scan before the readers (engine/report_ops.cc).
struct Reference {
  bool is_array = false;
  std::optional<std::vector<indicators::Contribution>> items;  // nullopt: FromJson threw
  std::string what;
};

Reference ReferenceOf(const std::string& text) {
  Reference r;
  json j = json::parse(text, nullptr, false);
  r.is_array = j.is_array();
  if (!r.is_array) return r;
  try {
    std::vector<indicators::Contribution> v;
    for (const auto& item : j) v.push_back(indicators::Contribution::FromJson(item));
    r.items = v;
  } catch (const json::exception& e) {
    r.what = e.what();
  }
  return r;
}

const std::vector<std::string> kContribTexts = {
    R"([["p.recv",19531,1.0],["p.recv.petition",19531,1.0],["p.open",19531,1.0],["p.open",19557,-1.0],)"
    R"(["p.open_rsum",19531,19531.0],["p.open_overdue",19553,1.0],["p.open_overdue",19557,-1.0]])",
    R"([["t.total",19725,1.0,"D02.VP"],["t.late",20086,1,"D02.VP"],["t.late",20090,-1,"D02.VP"]])",
    R"([])",
    R"( [ [ "p.complex" , 19600 , 2 ] ] )",
    R"([["p.\u0070rotracted",19600.7,1e0],["p.group",18446744073709551615,-0.0],["p.reraised",-3,0.1]])",
    R"([["v.registered",20171,1.0],["v.recognised",20200,0]])",
    R"([["Đơn thư \"khó\"",20000,3.5,"Ủy ban"]])",
    // Other shapes inside the array: the document path (FromJson converts or throws).
    R"([["p.open",true,1]])",
    R"([["p.open",19531,1,"D01",{"x":1}]])",
    R"([["p.open",19531,1,5]])",
    R"([[1,19531,1]])",
    R"([["p.open",19531,1],17])",
    R"([{"series":"p.open"}])",
    R"([["p.open",null,1]])",
    // Not an array: the record is skipped.
    R"({"p.open":1})", R"("[]")", R"(5)", R"(null)", R"()", R"([["p.open",19531,1])",
    R"([["p.open",19531,1]] x)", R"([["p.open",1e400,1]])", "[[\"p.open\xff\",1,1]]",
};

TEST(ReportOpsRecordScan, ContributionsAreTheDocumentPathsOnEveryShape) {
  ContributionReader reader;
  // Each text after every other (buffers reused from one record to the next).
  for (const auto& before : kContribTexts) {
    for (const auto& text : kContribTexts) {
      reader.Read(before);
      const Reference ref = ReferenceOf(text);
      ASSERT_EQ(reader.Read(text), ref.is_array) << text;
      if (!ref.is_array) continue;
      if (!ref.items) {
        try {
          reader.Items();
          FAIL() << "no throw for " << text;
        } catch (const json::exception& e) {
          EXPECT_EQ(std::string(e.what()), ref.what) << text;
        }
        continue;
      }
      auto items = reader.Items();
      ASSERT_EQ(items.size(), ref.items->size()) << text << " after " << before;
      for (size_t i = 0; i < items.size(); ++i) {
        EXPECT_EQ(items[i].series, (*ref.items)[i].series) << text;
        EXPECT_EQ(items[i].day, (*ref.items)[i].day) << text;
        // Bit for bit (-0.0 stays -0.0).
        EXPECT_EQ(std::signbit(items[i].value), std::signbit((*ref.items)[i].value)) << text;
        EXPECT_EQ(items[i].value, (*ref.items)[i].value) << text;
      }
      // The scan's questions, against the same sums over the reference items.
      for (const char* series : {"p.open", "p.open_overdue", "t.late", "p.protracted", "v.recognised", "p.group"}) {
        for (int64_t day : {int64_t{0}, int64_t{19531}, int64_t{19555}, int64_t{20100}, INT64_MAX}) {
          double sum = 0;
          int64_t first = INT64_MAX;
          bool flow = false;
          for (const auto& c : *ref.items) {
            if (c.series == series && c.day >= 19531 && c.day <= day && c.value != 0) flow = true;
            if (c.series != series || c.day > day) continue;
            sum += c.value;
            if (c.value > 0) first = std::min(first, c.day);
          }
          int64_t got_first = 0;
          EXPECT_EQ(reader.LevelAt(series, day, &got_first), sum) << text << " " << series << " " << day;
          EXPECT_EQ(got_first, first) << text;
          EXPECT_EQ(reader.FlowIn(series, 19531, day), flow) << text << " " << series << " " << day;
        }
      }
    }
  }
}

std::string StrOf(const json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

TEST(ReportOpsRecordScan, TopLevelStringsAreTheDocumentsMembers) {
  const std::vector<std::string> names = {"title", "status", "assignee", "due_at"};
  const std::vector<std::string> texts = {
      R"({"accepted_at":"2023-06-29T10:15:15+07:00","assignee":"Đặng Xuân Dũng","petitioners":[{"name":"Lương Kim Yến","title":"x","status":"y"}],"status":"resolved","title":"Kiến nghị về chế độ phụ cấp"})",
      R"({"title":"đầu","title":"sau"})",
      R"({"title":"chuỗi","title":5})",
      R"({"title":5,"title":"chuỗi"})",
      R"({"title":{"title":"lồng"},"status":["resolved"],"assignee":null,"due_at":true})",
      R"({"title":"a\"b\\c\u00e9\ud83d\ude00\n"})",
      R"({"nested":{"status":"không phải cấp trên cùng","deeper":[{"assignee":"x"}]},"due_at":"2025-01-31"})",
      R"({})",
      R"([{"title":"mảng"}])", R"("title")", R"(null)", R"({"title":"thiếu ngoặc")", R"({"title":"a"} {})",
      "{\"title\":\"\xc3\x28\"}",
  };
  TopLevelStrings reader(names);
  for (const auto& before : texts) {
    for (const auto& text : texts) {
      reader.Read(before);
      json d = json::parse(text, nullptr, false);
      ASSERT_EQ(reader.Read(text), d.is_object()) << text;
      if (!d.is_object()) continue;
      for (size_t i = 0; i < names.size(); ++i)
        EXPECT_EQ(reader.Get(i), StrOf(d, names[i].c_str())) << text << " after " << before << ": " << names[i];
    }
  }
}

}  // namespace
}  // namespace danvan
