// DumpJson against the serialiser it stands in for: nlohmann's dump(-1, ' ', false, handler).
#include "core/json_write.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

namespace danvan {
namespace {

using nlohmann::json;

std::string Nl(const json& j, json::error_handler_t h) { return j.dump(-1, ' ', false, h); }

TEST(JsonWriteTest, SameBytesAsNlohmann) {
  const json docs[] = {
      json::parse(R"({"a":[1,-2,3.5,1e300,-0.0,true,false,null,"x"],"b":{},"c":[],"":""})"),
      json("quote \" backslash \\ slash / \b\f\n\r\t \x01\x1f\x7f end"),
      json("Nguyễn Văn Ánh — ứng dụng 𝄞 €"),
      json(std::string("nul\0inside", 10)),
      json(static_cast<uint64_t>(18446744073709551615ULL)),
      json(static_cast<int64_t>(INT64_MIN)),
      json(0.1),
      json(1.0),
      json::parse(R"([{"k\"ey":{"nested":[[[]]]}}])"),
  };
  for (const auto& d : docs)
    for (auto h : {json::error_handler_t::strict, json::error_handler_t::replace, json::error_handler_t::ignore})
      EXPECT_EQ(DumpJson(d, h), Nl(d, h)) << d.dump();
}

TEST(JsonWriteTest, InvalidUtf8FollowsTheHandler) {
  for (const std::string& bad : {std::string("a\xC3"), std::string("\xFF\xFE"), std::string("\xED\xA0\x80"),
                                std::string("\xC0\x80"), std::string("ok\xE1\xBB")}) {
    json d = {{"v", bad}, {bad, 1}};
    EXPECT_EQ(DumpJson(d, json::error_handler_t::replace), Nl(d, json::error_handler_t::replace));
    EXPECT_EQ(DumpJson(d, json::error_handler_t::ignore), Nl(d, json::error_handler_t::ignore));
    EXPECT_THROW(DumpJson(d), json::type_error);
  }
}

TEST(JsonWriteTest, RandomDocuments) {
  std::mt19937 rng(16);
  std::uniform_int_distribution<int> byte(0, 255), len(0, 12), kind(0, 7);
  auto str = [&] {
    std::string s;
    for (int n = len(rng); n > 0; --n) {
      int b = byte(rng);
      // Mostly text: ASCII, Vietnamese letters, some controls and stray bytes.
      if (b < 150) s.push_back(static_cast<char>(0x20 + b % 95));
      else if (b < 200) s += "ệ";
      else if (b < 215) s.push_back(static_cast<char>(b % 32));
      else if (b < 225) s += "\"\\";
      else s.push_back(static_cast<char>(b));
    }
    return s;
  };
  std::function<json(int)> gen = [&](int depth) -> json {
    switch (depth > 4 ? kind(rng) % 5 : kind(rng)) {
      case 0: return str();
      case 1: return static_cast<int64_t>(rng()) - (1LL << 31);
      case 2: return std::ldexp(static_cast<double>(rng()), byte(rng) - 128);
      case 3: return byte(rng) % 2 == 0;
      case 4: return nullptr;
      case 5: {
        json a = json::array();
        for (int n = len(rng) % 4; n > 0; --n) a.push_back(gen(depth + 1));
        return a;
      }
      default: {
        json o = json::object();
        for (int n = len(rng) % 4; n > 0; --n) o[str()] = gen(depth + 1);
        return o;
      }
    }
  };
  for (int i = 0; i < 5000; ++i) {
    const json d = gen(0);
    ASSERT_EQ(DumpJson(d, json::error_handler_t::replace), Nl(d, json::error_handler_t::replace));
    std::string strict_nl, strict_ours;
    try {
      strict_nl = Nl(d, json::error_handler_t::strict);
    } catch (const json::type_error&) {
      strict_nl = "<throws>";
    }
    try {
      strict_ours = DumpJson(d);
    } catch (const json::type_error&) {
      strict_ours = "<throws>";
    }
    ASSERT_EQ(strict_ours, strict_nl);
  }
}

// Strings are copied eight bytes at a time while no byte needs a look (issue 16, fourth step):
// every byte value, at every offset of strings of 1..40 bytes (so at every position of the
// 8-byte words and of the tail), in ASCII and in Vietnamese text, gives nlohmann's bytes.
TEST(JsonWriteTest, EveryByteAtEveryOffsetOfLongStrings) {
  for (int b = 0; b < 256; ++b) {
    for (size_t n = 1; n <= 40; ++n) {
      for (size_t at = 0; at < n; ++at) {
        for (const char* fill : {"a", "\xE1\xBB\x87"}) {  // 'a', or 'ệ' (3 bytes) repeated
          std::string s;
          while (s.size() < n) s += fill;
          s.resize(n);  // may cut a sequence: invalid UTF-8 is part of the test
          s[at] = static_cast<char>(b);
          const json d = s;
          for (auto h : {json::error_handler_t::replace, json::error_handler_t::ignore})
            ASSERT_EQ(DumpJson(d, h), Nl(d, h)) << b << " at " << at << " of " << n;
          std::string mine, theirs;
          try { theirs = Nl(d, json::error_handler_t::strict); } catch (const json::type_error&) { theirs = "<throws>"; }
          try { mine = DumpJson(d); } catch (const json::type_error&) { mine = "<throws>"; }
          ASSERT_EQ(mine, theirs) << b << " at " << at << " of " << n;
        }
      }
    }
  }
}

}  // namespace
}  // namespace danvan
