// MaskPersonalData, table-driven: what is personal data (masked) and what is not (kept byte
// for byte). The rules and their reasons are in plugin/core/mask.h.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/logger.h"
#include "core/mask.h"

namespace danvan {
namespace {

struct Case {
  const char* why;
  std::string in;
  std::string want;
};

// Personal data: every one of these must come out masked exactly as written.
const std::vector<Case>& Positives() {
  static const std::vector<Case> k = {
      {"mobile, solid", "0912345678", "09*****678"},
      {"mobile, dashes", "091-234-5678", "09*-***-*678"},
      {"mobile, dots", "091.234.5678", "09*.***.*678"},
      {"mobile, spaces", "0912 345 678", "09** *** 678"},
      {"mobile, 4-3-3 dots", "0912.345.678", "09**.***.678"},
      {"mobile 03x (Viettel)", "0362 123 456", "03** *** 456"},
      {"mobile 05x", "0563123456", "05*****456"},
      {"mobile 07x", "070-123-4567", "07*-***-*567"},
      {"mobile 08x", "0888.123.456", "08**.***.456"},
      {"country code, spaces", "+84 91 234 5678", "+84 ** *** *678"},
      {"country code, solid", "+84912345678", "+84******678"},
      {"country code in parentheses", "(+84) 912 345 678", "(+84) *** *** 678"},
      {"country code with the trunk 0", "+84 0912 345 678", "+84 **** *** 678"},
      {"country code without +", "84912345678", "84******678"},
      {"landline Hai Phong, solid", "02253842123", "02******123"},
      {"landline, area code in parentheses", "(0225) 3842 123", "(02**) **** 123"},
      {"landline, dots", "0225.3842.123", "02**.****.123"},
      {"landline, country code", "+84 225 3842 123", "+84 *** **** 123"},
      {"CCCD 12 digits", "079203004567", "07*******567"},
      {"CMND 9 digits", "031234567", "03****567"},
      {"e-mail", "an.nguyen@gmail.com", "a********@gmail.com"},
      {"e-mail, agency domain", "tiepcongdan@haiphong.gov.vn", "t**********@haiphong.gov.vn"},
      {"e-mail with digits", "0912345678@gmail.com", "0*********@gmail.com"},
      // As they appear in logged rejection reasons that echo the refused value.
      {"echoed date field", "/data/received_at: ngày giờ không tồn tại hoặc sai định dạng ISO 8601: \"091-234-5678\"",
       "/data/received_at: ngày giờ không tồn tại hoặc sai định dạng ISO 8601: \"09*-***-*678\""},
      {"echoed portal date", "/data/NgayHenTra: sai định dạng yyyyMMddHHmmss: \"+84 91 234 5678\"",
       "/data/NgayHenTra: sai định dạng yyyyMMddHHmmss: \"+84 ** *** *678\""},
      {"in a sentence, after a colon", "SĐT:091.234.5678, CCCD: 079203004567.",
       "SĐT:09*.***.*678, CCCD: 07*******567."},
      {"Vietnamese letter glued before", "Điện thoạiĐ0912345678", "Điện thoạiĐ09*****678"},
      {"typographic quotes", "“0912345678”", "“09*****678”"},
      {"two numbers with a slash", "0912345678/0987654321", "09*****678/09*****321"},
      {"two numbers with a space", "0912345678 0987654321", "09*****678 09*****321"},
      {"JSON string", "{\"phone\":\"0912345678\"}", "{\"phone\":\"09*****678\"}"},
      {"at the end of a sentence", "Liên hệ 0912 345 678.", "Liên hệ 09** *** 678."},
  };
  return k;
}

// Not personal data: must come out unchanged.
const std::vector<Case>& Negatives() {
  static const std::vector<Case> k = {
      {"dossier code", "000.00.00.H26-231201-0001", ""},
      {"dossier code of the sample", "000.20.31.H31-230301-0001", ""},
      {"procedure code", "1.005090", ""},
      {"record id", "DT-2023-000123", ""},
      {"portal date yyyyMMddHHmmss", "20230301083000", ""},
      {"ISO date-time", "2023-03-15T08:00:00+07:00", ""},
      {"date dd-MM-yyyy and time", "05-03-2023 08:30", ""},
      {"date dd.MM.yyyy", "09.03.2023", ""},
      {"millisecond timestamp", "1677633000000", ""},
      {"amount with dots", "Lệ phí 150.000.000 đồng", ""},
      {"amount with commas", "150,000,000", ""},
      {"decimal with a comma", "tỉ lệ 0,123456789", ""},
      {"hotline", "Đường dây nóng 1900 1234, 18001567", ""},
      {"10 digits not a phone", "1234567890", ""},
      {"11 digits not a phone", "12345678901", ""},
      {"13 digits", "0791234567890", ""},
      {"path with a 12-digit directory", "/var/lib/danvan/079203004567/bao-cao.csv", ""},
      {"path with a date directory", "/srv/danvan/reports/20230615083000/csv/xep-hang.csv", ""},
      {"path ending in digits", "/tmp/danvan-test-3141592653", ""},
      {"file named like a number", "0912345678.pdf", ""},
      {"Windows path", "C:\\bao-cao\\0912345678.pdf", ""},
      {"file name with an underscore", "don_079203004567.pdf", ""},
      {"code joined by a dash", "H26-079203004567", ""},
      {"sha-256", "3f5a9c0e1b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a", ""},
      {"hex id with long digit runs", "a079203004567b", ""},
      {"unit code", "SGDDT.THPT.TRANPHU", ""},
      {"retina image, not an address", "/static/icon@2x.png", ""},
      {"at sign without a domain", "@0912345678", ""},
      {"at sign before a domain without letters", "user@10.0.0.1", ""},
      {"URL with a port", "https://localhost:8443/integration", ""},
      {"version numbers", "ABI 1.2, schema 3", ""},
      {"count and ids in a log", "{\"records\":123456789012345,\"seq\":42}", ""},
  };
  return k;
}

TEST(MaskPersonalData, MasksPhonesIdNumbersAndEmails) {
  for (const Case& c : Positives()) EXPECT_EQ(MaskPersonalData(c.in), c.want) << c.why << ": " << c.in;
}

TEST(MaskPersonalData, KeepsIdentifiersThatAreNotPersonal) {
  for (const Case& c : Negatives()) EXPECT_EQ(MaskPersonalData(c.in), c.in) << c.why;
}

TEST(MaskPersonalData, EveryPositiveKeepsOnlyTheEdgesOfTheNumber) {
  // Whatever the notation, the middle digits never survive.
  for (const Case& c : Positives()) {
    const std::string out = MaskPersonalData(c.in);
    EXPECT_EQ(out.find("234"), std::string::npos) << c.why << ": " << out;
    EXPECT_EQ(out.find("nguyen"), std::string::npos) << c.why << ": " << out;
  }
}

// The logger masks every string value it is given (rejection reasons included).
std::vector<std::string>* g_lines = nullptr;
void Sink(void*, int32_t, const char* m, size_t n) { g_lines->emplace_back(m, n); }

TEST(MaskPersonalData, LoggerMasksNestedFieldsAndKeepsPaths) {
  std::vector<std::string> lines;
  g_lines = &lines;
  Logger log(&Sink, nullptr, LogLevel::kInfo);
  log.Log(LogLevel::kWarn, "event_rejected",
          {{"errors", {{{"path", "/data/petitioners/0/phone"},
                        {"reason", "sai định dạng: \"091-234-5678\""}}}},
           {"storage", "/var/lib/danvan/20230615083000/danvan.sqlite"},
           {"key", {{"id", "000.00.00.H26-231201-0001"}}}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].find("091-234-5678"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("09*-***-*678"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("/var/lib/danvan/20230615083000/danvan.sqlite"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("000.00.00.H26-231201-0001"), std::string::npos) << lines[0];
  g_lines = nullptr;
}

}  // namespace
}  // namespace danvan
