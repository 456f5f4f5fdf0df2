// tools/danvan-letters (issue 12): the trainer run as an administrator runs it, on a small
// labelled corpus written here. Checks that a batch named by --complex-exclude gives the complex
// model nothing to learn from (a writer who labels complex by another convention), that the
// choice is recorded in the model file, and that a batch name not among the files is refused.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

const std::string kRoot = DANVAN_SOURCE_ROOT;
const std::string kTool = DANVAN_LETTERS_TOOL;

class LettersTool : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("danvan_letters_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // Batch A follows the convention: a matter stated to affect the whole school is complex,
    // a single pupil's matter is not. Batch B marks every letter complex.
    const char* plain[] = {"Tôi đề nghị nhà trường sửa lại cổng sau cho con tôi đi lại an toàn.",
                           "Con tôi bị trừ điểm bài kiểm tra Toán, tôi xin xem lại bài.",
                           "Tôi xin cảm ơn cô chủ nhiệm lớp 3A đã kèm con tôi.",
                           "Tôi đề nghị cho con tôi chuyển sang lớp buổi chiều."};
    const char* many[] = {"Toàn trường phải đóng thêm tiền sửa mái, ảnh hưởng đến hàng trăm học sinh.",
                          "Cả khối 9 bị bắt học thêm, hàng chục phụ huynh bức xúc.",
                          "Toàn bộ học sinh khối 6 không có sách giáo khoa, ảnh hưởng đến nhiều gia đình.",
                          "Tất cả các em trong trường phải mua đồng phục mới, hàng trăm phụ huynh phản đối."};
    Write("A", [&](int i) { return i % 4 == 0 ? Letter(many[i / 4 % 4], true) : Letter(plain[i % 4], false); });
    Write("B", [&](int i) { return Letter(i % 4 == 0 ? many[i / 4 % 4] : plain[i % 4], true); });
  }
  void TearDown() override { fs::remove_all(dir_); }

  static json Letter(const std::string& content, bool complex) {
    return {{"title", ""}, {"content", content},
            {"labels", {{"kind", "feedback"}, {"secondary", json::array()}, {"complex", complex},
                        {"group", false}, {"staff_conduct", false}, {"anonymous", false},
                        {"reraised", false}}}};
  }
  template <typename F>
  void Write(const std::string& batch, F letter) {
    std::ofstream out(dir_ / (batch + ".jsonl"));
    for (int i = 0; i < 48; ++i) {
      json l = letter(i);
      l["id"] = batch + "-" + std::to_string(i);
      out << l.dump() << "\n";
    }
  }
  // Runs the trainer; returns its exit code and the model it wrote (null when none).
  // `batches`: the batch files written by Write(); `outputs`: the trainer's --outputs.
  int Train(const std::string& extra, json* model, const std::vector<std::string>& batches = {"A", "B"},
            const std::string& outputs = "complex,group") {
    const fs::path out = dir_ / "model.json";
    fs::remove(out);
    std::string files;
    for (const std::string& b : batches) files += " '" + (dir_ / (b + ".jsonl")).string() + "'";
    const std::string cmd = "'" + kTool + "' train --cues '" + kRoot + "/config/tagging/cues.json' --out '" +
                            out.string() + "' --epochs 10 --outputs " + outputs + " " + extra + files +
                            " > /dev/null 2> '" + (dir_ / "stderr.txt").string() + "'";
    const int rc = std::system(cmd.c_str());
    *model = nullptr;
    if (std::ifstream in(out); in) *model = json::parse(in);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
  std::string Stderr() const {
    std::ifstream in(dir_ / "stderr.txt");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  fs::path dir_;
};

TEST_F(LettersTool, AnExcludedBatchGivesTheComplexModelNothingToLearnFrom) {
  json with_b, without_b;
  ASSERT_EQ(Train("", &with_b), 0) << Stderr();
  ASSERT_EQ(Train("--complex-exclude B", &without_b), 0) << Stderr();
  ASSERT_TRUE(with_b.is_object() && without_b.is_object());
  // Learning from B, most letters are complex: a letter with no sign of it leans complex.
  // Without B, such a letter is clearly not complex.
  const double bias_with = with_b["flags"]["complex"]["bias"].get<double>();
  const double bias_without = without_b["flags"]["complex"]["bias"].get<double>();
  EXPECT_GT(bias_with, 0);
  EXPECT_LT(bias_without, -1.0);
  // The group model is not affected: B still teaches it (no letter is a group letter).
  EXPECT_LT(without_b["flags"]["group"]["bias"].get<double>(), -1.0);
  // The choice is written into the model with the command that made it.
  EXPECT_EQ(without_b["trained"]["params"]["complex_exclude"], json::array({"B"}));
  EXPECT_EQ(with_b["trained"]["params"]["complex_exclude"], json::array());
  EXPECT_NE(without_b["trained"]["command"].get<std::string>().find("--complex-exclude B"), std::string::npos);
}

TEST_F(LettersTool, AnExcludedBatchNotAmongTheFilesIsRefused) {
  json model;
  EXPECT_EQ(Train("--complex-exclude Z1", &model), 2);
  EXPECT_TRUE(model.is_null());
  EXPECT_NE(Stderr().find("--complex-exclude: no batch Z1"), std::string::npos) << Stderr();
}

// --conditions: the complex letters' §3a conditions (from the writers' rationales) train one
// detector per condition of the cue file; the model carries them with their thresholds and the
// conditions' weights, and records the sub-label file it learnt from.
TEST_F(LettersTool, ConditionSubLabelsTrainOneDetectorPerCondition) {
  {
    std::ofstream out(dir_ / "conditions.jsonl");
    for (int i = 0; i < 48; i += 4) out << json({{"id", "A-" + std::to_string(i)}, {"conditions", {"many"}}}).dump() << "\n";
  }
  json model;
  ASSERT_EQ(Train("--complex-exclude B --conditions '" + (dir_ / "conditions.jsonl").string() + "'", &model), 0)
      << Stderr();
  ASSERT_TRUE(model.contains("complex_conditions")) << model.dump().substr(0, 400);
  const json& dets = model["complex_conditions"]["detectors"];
  EXPECT_EQ(model["complex_conditions"]["combine"], "any");
  ASSERT_EQ(dets.size(), 5u);
  std::vector<std::string> ids;
  for (const auto& d : dets) ids.push_back(d["id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"places", "contents", "many", "foreign", "agencies"}));
  // The "many" detector learnt the whole-school phrases (cue features only, no n-grams).
  double many_weight = 0;
  for (auto& [name, w] : model["condition_features"].items()) {
    EXPECT_TRUE(name.rfind("c:", 0) == 0 || name.rfind("tc:", 0) == 0 || name.rfind("n:", 0) == 0 ||
                name.rfind("s:", 0) == 0 || name.rfind("len:", 0) == 0) << name;
    ASSERT_EQ(w.size(), 5u);
    if (name == "c:complex.many") many_weight = w[2].get<double>();
  }
  EXPECT_GT(many_weight, 0.5);
  EXPECT_EQ(model["trained"]["params"]["conditions_file"], "conditions");
  // --detectors-explain: the same detectors, none of them deciding (no threshold).
  json explain;
  ASSERT_EQ(Train("--complex-exclude B --detectors-explain --conditions '" + (dir_ / "conditions.jsonl").string() + "'",
                  &explain), 0) << Stderr();
  for (const auto& d : explain["complex_conditions"]["detectors"]) EXPECT_TRUE(d["threshold"].is_null()) << d;
  EXPECT_EQ(explain["trained"]["params"]["detectors_explain"], true);
  // An unknown condition is refused.
  {
    std::ofstream out(dir_ / "bad.jsonl");
    out << json({{"id", "A-0"}, {"conditions", {"weather"}}}).dump() << "\n";
  }
  EXPECT_EQ(Train("--conditions '" + (dir_ / "bad.jsonl").string() + "'", &model), 2);
  EXPECT_NE(Stderr().find("unknown condition weather"), std::string::npos) << Stderr();
}

// --complex-drop: features of a prefix (the letter's length) get no complex weight, while the
// other outputs still learn from them; --complex-nonneg: features of a prefix (a stated count of
// people) never count against complex. Both are recorded in the model.
TEST_F(LettersTool, ComplexDropAndNonNegativeLimitTheComplexWeights) {
  // Batch C: letters that name a number of pupils without being complex (a single class's
  // matter), so a free model learns the count against complex.
  Write("C", [&](int i) {
    return Letter(i % 2 ? "Lớp 3A có 12 học sinh, con tôi bị xếp ngồi bàn cuối, tôi xin đổi chỗ."
                        : "Nhóm bơi của con tôi có 15 em, tôi đề nghị cho các cháu học vào buổi chiều.", false);
  });
  auto train = [&](const std::string& extra, json* model) { return Train(extra, model, {"A", "C"}); };
  auto complex_weights = [](const json& model, const std::string& prefix) {
    std::vector<double> w;
    for (auto& [name, ws] : model["features"].items())
      if (name.rfind(prefix, 0) == 0) w.push_back(ws[4].get<double>());
    return w;
  };
  json free_model, limited;
  ASSERT_EQ(train("", &free_model), 0) << Stderr();
  ASSERT_EQ(train("--complex-drop len: --complex-nonneg n:people", &limited), 0) << Stderr();
  // Unlimited, the length and the count weigh in the complex output (the count against it).
  const auto free_len = complex_weights(free_model, "len:");
  const auto free_people = complex_weights(free_model, "n:people");
  ASSERT_FALSE(free_len.empty());
  ASSERT_FALSE(free_people.empty());
  EXPECT_TRUE(std::any_of(free_len.begin(), free_len.end(), [](double w) { return std::fabs(w) > 0.01; }));
  EXPECT_TRUE(std::any_of(free_people.begin(), free_people.end(), [](double w) { return w < -0.01; }));
  // Limited: no length weight for complex, no count weight below zero.
  for (double w : complex_weights(limited, "len:")) EXPECT_EQ(w, 0.0);
  for (double w : complex_weights(limited, "n:people")) EXPECT_GE(w, 0.0);
  EXPECT_EQ(limited["trained"]["params"]["complex_drop"], json::array({"len:"}));
  EXPECT_EQ(limited["trained"]["params"]["complex_nonneg"], json::array({"n:people"}));
  // A cap instead of a drop: the length weighs at most ±0.05 for complex.
  json capped;
  ASSERT_EQ(train("--complex-drop len: --complex-cap 0.05", &capped), 0) << Stderr();
  for (double w : complex_weights(capped, "len:")) EXPECT_LE(std::fabs(w), 0.05 + 1e-9);
  EXPECT_EQ(capped["trained"]["params"]["complex_cap"], 0.05);
  // --complex-clip: a prefix clipped to ±X beside a drop that stays a drop (the length gets no
  // complex weight, the count at most ±0.05); a clip without its limit is refused.
  json clipped;
  ASSERT_EQ(train("--complex-drop len: --complex-clip n:people,c:praise --complex-clip-at 0.05", &clipped), 0)
      << Stderr();
  const auto clipped_people = complex_weights(clipped, "n:people");
  ASSERT_FALSE(clipped_people.empty());
  for (double w : clipped_people) EXPECT_LE(std::fabs(w), 0.05 + 1e-9);
  EXPECT_TRUE(std::any_of(clipped_people.begin(), clipped_people.end(),
                          [](double w) { return std::fabs(w) > 0.04; }));
  for (double w : complex_weights(clipped, "len:")) EXPECT_EQ(w, 0.0);
  EXPECT_EQ(clipped["trained"]["params"]["complex_clip"], json::array({"n:people", "c:praise"}));
  EXPECT_EQ(clipped["trained"]["params"]["complex_clip_at"], 0.05);
  // The other outputs still learn from a clipped feature: it is clipped for complex only.
  json clipped_all, free_all;
  ASSERT_EQ(Train("--complex-clip n:people --complex-clip-at 0", &clipped_all, {"A", "C"}, "complex,kind"), 0)
      << Stderr();
  ASSERT_EQ(Train("", &free_all, {"A", "C"}, "complex,kind"), 0) << Stderr();
  for (auto& [name, w] : free_all["features"].items()) {
    if (name.rfind("n:people", 0) != 0) continue;
    // A feature whose every weight is under 5e-4 is not written: read it as zeros.
    const json c = clipped_all["features"].value(name, json::array({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
    EXPECT_EQ(c[4], 0.0) << name;
    const double tolerance = clipped_all["features"].contains(name) ? 0.0 : 5e-4;
    for (int o = 0; o < 4; ++o) EXPECT_NEAR(c[o].get<double>(), w[o].get<double>(), tolerance) << name;
  }
  EXPECT_EQ(train("--complex-clip n:people", &clipped), 2);
  EXPECT_NE(Stderr().find("--complex-clip-at"), std::string::npos) << Stderr();
  // An unknown threshold objective is refused.
  EXPECT_EQ(train("--complex-objective recall", &capped), 2);
  EXPECT_NE(Stderr().find("--complex-objective"), std::string::npos) << Stderr();
}

// --base-model: only complex is retrained; the kind, the other flags and the secondary kinds are
// the base model's, weight for weight, with its biases and thresholds, and the file says so.
TEST_F(LettersTool, BaseModelKeepsTheOutputsNotRetrained) {
  json base;
  ASSERT_EQ(Train("--outputs complex,group,kind", &base), 0) << Stderr();
  // The base learnt a group bias and kind weights; perturb them so a copy is recognisable.
  base["flags"]["group"] = {{"bias", -2.5}, {"threshold", 0.37}};
  base["features"]["w:zzz"] = json::array({0.1, 0.2, 0.3, 0.4, 0.9, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3});
  {
    std::ofstream out(dir_ / "base.json");
    out << base.dump();
  }
  // Complex only (the other outputs from the base).
  const std::string extra = "--complex-exclude B --base-model '" + (dir_ / "base.json").string() + "'";
  json composed;
  ASSERT_EQ(Train(extra, &composed, {"A", "B"}, "complex"), 0) << Stderr();
  EXPECT_EQ(composed["flags"]["group"], base["flags"]["group"]);
  EXPECT_EQ(composed["kind"]["bias"], base["kind"]["bias"]);
  ASSERT_TRUE(composed["features"].contains("w:zzz"));
  const json& z = composed["features"]["w:zzz"];
  EXPECT_EQ(z[0], 0.1);
  EXPECT_EQ(z[5], 0.6);
  EXPECT_EQ(z[12], 1.3);
  EXPECT_EQ(z[4], 0.0);  // complex is this training's: the base's 0.9 is not kept
  for (auto& [name, w] : base["features"].items())
    if (composed["features"].contains(name)) {
      EXPECT_EQ(composed["features"][name][1], w[1]) << name;
    }
  // Complex is retrained: B's labels are excluded here, not in the base.
  EXPECT_LT(composed["flags"]["complex"]["bias"].get<double>(), -1.0);
  const json& record = composed["trained"]["base_model"];
  EXPECT_EQ(record["file"], "base");
  EXPECT_EQ(record["version"], base["version"]);
  EXPECT_NE(std::find(record["outputs_kept"].begin(), record["outputs_kept"].end(), "group"),
            record["outputs_kept"].end());
  // A base of another cue file is refused.
  base["cues_version"] = "1999.1";
  {
    std::ofstream o2(dir_ / "base.json");
    o2 << base.dump();
  }
  json refused;
  EXPECT_EQ(Train(extra, &refused, {"A", "B"}, "complex"), 2);
  EXPECT_TRUE(refused.is_null());
  EXPECT_NE(Stderr().find("--base-model"), std::string::npos) << Stderr();
}

// --complex-only: features of a prefix weigh in the complex output only, so every other output
// is exactly as trained without them; --l2-ngram-complex: a larger n-gram L2 for complex alone
// shrinks its n-gram weights and leaves the other outputs' alone. Both are recorded.
TEST_F(LettersTool, ComplexOnlyFeaturesAndComplexNgramL2LeaveTheOtherOutputsAlone) {
  const std::string all = "complex,group,kind,staff_conduct,secondary";
  // The same cue file without the cue "complex.many": its features do not exist there.
  json cues = json::parse(std::ifstream(kRoot + "/config/tagging/cues.json"));
  json kept = json::array();
  for (const json& c : cues["cues"])
    if (c["id"] != "complex.many") kept.push_back(c);
  ASSERT_EQ(kept.size() + 1, cues["cues"].size());
  cues["cues"] = kept;
  std::ofstream(dir_ / "cues-without.json") << cues.dump();
  json without, only, plain;
  ASSERT_EQ(Train("--cues '" + (dir_ / "cues-without.json").string() + "'", &without, {"A", "B"}, all), 0)
      << Stderr();
  ASSERT_EQ(Train("--complex-only c:complex.many,tc:complex.many", &only, {"A", "B"}, all), 0) << Stderr();
  ASSERT_EQ(Train("", &plain, {"A", "B"}, all), 0) << Stderr();
  // With --complex-only, every output but complex is the model without the cue, weight for weight.
  size_t limited = 0;
  for (auto& [name, w] : only["features"].items()) {
    const bool is_only = name.rfind("c:complex.many", 0) == 0 || name.rfind("tc:complex.many", 0) == 0;
    if (is_only) {
      ++limited;
      for (int o = 0; o < 13; ++o)
        if (o != 4) {
          EXPECT_EQ(w[o].get<double>(), 0.0) << name << " output " << o;
        }
      EXPECT_NE(w[4].get<double>(), 0.0) << name;
      continue;
    }
    ASSERT_TRUE(without["features"].contains(name)) << name;
    for (int o = 0; o < 13; ++o)
      if (o != 4) {
        EXPECT_EQ(w[o], without["features"][name][o]) << name << " output " << o;
      }
  }
  EXPECT_GT(limited, 0u);
  EXPECT_EQ(only["kind"], without["kind"]);
  EXPECT_EQ(only["flags"]["group"], without["flags"]["group"]);
  EXPECT_EQ(only["flags"]["staff_conduct"], without["flags"]["staff_conduct"]);
  EXPECT_EQ(only["secondary"], without["secondary"]);
  // Without --complex-only the cue weighs in the kind too, and the kind is another model.
  bool elsewhere = false;
  for (auto& [name, w] : plain["features"].items())
    if (name.rfind("c:complex.many", 0) == 0)
      for (int o = 0; o < 4; ++o) elsewhere |= w[o].get<double>() != 0.0;
  EXPECT_TRUE(elsewhere);
  EXPECT_NE(plain["kind"], without["kind"]);
  EXPECT_EQ(only["trained"]["params"]["complex_only"], json::array({"c:complex.many", "tc:complex.many"}));
  // --l2-ngram-complex: smaller complex n-gram weights, the group output's unchanged.
  json strong;
  ASSERT_EQ(Train("--l2-ngram-complex 1000", &strong, {"A", "B"}, all), 0) << Stderr();
  double plain_sum = 0, strong_sum = 0;
  for (auto& [name, w] : strong["features"].items()) {
    if (name.rfind("w:", 0) != 0 && name.rfind("b:", 0) != 0) continue;
    plain_sum += std::fabs(plain["features"][name][4].get<double>());
    strong_sum += std::fabs(w[4].get<double>());
    EXPECT_EQ(w[5], plain["features"][name][5]) << name;
  }
  EXPECT_GT(plain_sum, 0.0);
  EXPECT_LT(strong_sum, plain_sum / 2);
  EXPECT_EQ(strong["trained"]["params"]["l2_ngram_complex"], 1000.0);
}

// --reraised-only: features of a prefix weigh in the re-raised output only (here the absence of
// any earlier handling, "s:absent:prior"), so the kind and the other flags are exactly as
// trained without them. Recorded in the model.
TEST_F(LettersTool, ReraisedOnlyFeaturesLeaveTheOtherOutputsAlone) {
  auto letter = [](const std::string& content, bool reraised) {
    json l = Letter(content, false);
    l["labels"]["kind"] = "complaint";
    l["labels"]["reraised"] = reraised;
    return l;
  };
  const char* first[] = {"Nhà trường ra quyết định kỷ luật con tôi, tôi đề nghị hủy bỏ quyết định.",
                         "Tôi không đồng ý với quyết định cắt phụ cấp của tôi, đề nghị xem xét lại.",
                         "Con tôi bị loại khỏi danh sách học bổng, tôi khiếu nại quyết định này."};
  const char* again[] = {"Phòng đã trả lời đơn của tôi nhưng không thỏa đáng, tôi khiếu nại lần hai quyết định kỷ luật.",
                         "Tôi không đồng ý với kết quả giải quyết khiếu nại lần đầu về việc cắt phụ cấp.",
                         "Tôi đã gửi đơn và được trả lời, nay tiếp tục khiếu nại quyết định loại con tôi."};
  for (const char* b : {"R", "S"})
    Write(b, [&](int i) { return i % 2 ? letter(first[i % 3], false) : letter(again[i % 3], true); });
  const std::string outputs = "kind,staff_conduct,reraised";
  json cues = json::parse(std::ifstream(kRoot + "/config/tagging/cues.json"));
  ASSERT_TRUE(cues.contains("absent"));
  cues.erase("absent");
  std::ofstream(dir_ / "cues-without.json") << cues.dump();
  json without, only, plain;
  ASSERT_EQ(Train("--cues '" + (dir_ / "cues-without.json").string() + "'", &without, {"R", "S"}, outputs), 0)
      << Stderr();
  ASSERT_EQ(Train("--reraised-only s:absent:", &only, {"R", "S"}, outputs), 0) << Stderr();
  ASSERT_EQ(Train("", &plain, {"R", "S"}, outputs), 0) << Stderr();
  ASSERT_TRUE(only["features"].contains("s:absent:prior"));
  for (auto& [name, w] : only["features"].items()) {
    if (name.rfind("s:absent:", 0) == 0) {
      for (int o = 0; o < 13; ++o)
        if (o != 8) EXPECT_EQ(w[o].get<double>(), 0.0) << name << " output " << o;
      EXPECT_LT(w[8].get<double>(), 0.0) << name;  // a first complaint is not re-raised
      continue;
    }
    ASSERT_TRUE(without["features"].contains(name)) << name;
    for (int o = 0; o < 13; ++o)
      if (o != 8) EXPECT_EQ(w[o], without["features"][name][o]) << name << " output " << o;
  }
  EXPECT_EQ(only["kind"], without["kind"]);
  EXPECT_EQ(only["flags"]["staff_conduct"], without["flags"]["staff_conduct"]);
  // Without the option it weighs in the kind too.
  bool elsewhere = false;
  for (int o = 0; o < 4; ++o) elsewhere |= plain["features"]["s:absent:prior"][o].get<double>() != 0.0;
  EXPECT_TRUE(elsewhere);
  EXPECT_EQ(only["trained"]["params"]["reraised_only"], json::array({"s:absent:"}));
}

// --inner-folds: thresholds chosen on groups of batches; the setting is recorded.
TEST_F(LettersTool, InnerFoldsAreRecorded) {
  Write("C", [&](int i) { return Letter(i % 2 ? "Tôi đề nghị sửa cổng trường." : "Toàn trường thiếu nước sạch.", i % 2 == 0); });
  json m;
  ASSERT_EQ(Train("--epochs 5 --inner-folds 2", &m, {"A", "B", "C"}, "complex"), 0) << Stderr();
  EXPECT_EQ(m["trained"]["params"]["inner_folds"], 2);
}

}  // namespace
