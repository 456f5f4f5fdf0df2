// FormatPortalTime / FormatIsoTime write their digits without printf (issue 16, seventh step):
// the same text as the printf formats they replace, at every year, offset and second.
#include "core/timeutil.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>

namespace danvan {
namespace {

// The printf forms the two functions used before (core/timeutil.cc).
std::string PrintfPortal(int64_t epoch_ms, int offset) {
  int64_t local_s = epoch_ms / 1000 + offset * 60LL;
  int64_t day = local_s >= 0 ? local_s / 86400 : (local_s - 86399) / 86400;
  int64_t sod = local_s - day * 86400;
  // Civil date of `day` (days since 1970-01-01), Howard Hinnant's algorithm, independently.
  int64_t z = day + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int y = static_cast<int>(static_cast<int64_t>(yoe) + era * 400 + (m <= 2));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02u%02u%02d%02d%02d", y, m, d, static_cast<int>(sod / 3600),
                static_cast<int>(sod % 3600 / 60), static_cast<int>(sod % 60));
  return buf;
}

std::string PrintfIso(int64_t epoch_ms, int offset) {
  std::string p = PrintfPortal(epoch_ms, offset);
  char buf[40];
  int off = offset < 0 ? -offset : offset;
  std::snprintf(buf, sizeof buf, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s%c%02d:%02d", p.c_str(), p.c_str() + 4,
                p.c_str() + 6, p.c_str() + 8, p.c_str() + 10, p.c_str() + 12, offset < 0 ? '-' : '+',
                off / 60, off % 60);
  return buf;
}

TEST(TimeFormatTest, SameTextAsPrintf) {
  constexpr int64_t kDay = 86400000;
  std::vector<int64_t> times = {0, -1, 1, 999, -999, 1000, -1000, kDay - 1, -kDay, 1678500000000,
                                // 0000-01-01, 9999-12-31T23:59:59, 10000-01-01 and before year 0
                                -62167219200000, 253402300799000, 253402300800000, -62167219200001,
                                -62198755200000, 400000000000000};
  std::mt19937_64 rng(16);
  std::uniform_int_distribution<int64_t> any(-70000000000000, 300000000000000);
  for (int i = 0; i < 20000; ++i) times.push_back(any(rng));
  for (int64_t t : times) {
    for (int offset : {420, 0, -1, 1, -300, 345, -720, 840, 5999, 6000, -6000, 100000}) {
      ASSERT_EQ(FormatPortalTime(t, offset), PrintfPortal(t, offset)) << t << " " << offset;
      ASSERT_EQ(FormatIsoTime(t, offset), PrintfIso(t, offset)) << t << " " << offset;
    }
  }
  EXPECT_EQ(FormatIsoTime(1678500000000), "2023-03-11T09:00:00+07:00");
  EXPECT_EQ(FormatPortalTime(1678500000000), "20230311090000");
}

}  // namespace
}  // namespace danvan
