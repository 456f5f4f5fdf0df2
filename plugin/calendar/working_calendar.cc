#include "calendar/working_calendar.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <regex>

#include "calendar/json_file.h"
#include "core/timeutil.h"

namespace danvan::calendar {
namespace {

constexpr int64_t kMsPerMinute = 60'000;
constexpr int64_t kMsPerHour = 3'600'000;

const char* const kWeekdayNames[7] = {"monday", "tuesday",  "wednesday", "thursday",
                                      "friday", "saturday", "sunday"};

// "07:30" -> ms after midnight ("24:00" allowed). Format is guaranteed by the schema, but the
// function is defensive because FromDocuments may get unvalidated input.
bool ParseClock(const std::string& s, int64_t* out) {
  if (s.size() != 5 || s[2] != ':') return false;
  for (int i : {0, 1, 3, 4})
    if (s[i] < '0' || s[i] > '9') return false;
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return false;
  *out = h * kMsPerHour + m * kMsPerMinute;
  return true;
}

Result<DayKind> KindFromName(const std::string& s) {
  if (s == "holiday") return DayKind::kHoliday;
  if (s == "compensatory_off") return DayKind::kCompensatoryOff;
  if (s == "swapped_off") return DayKind::kSwappedOff;
  if (s == "granted_off") return DayKind::kGrantedOff;
  if (s == "makeup_working") return DayKind::kMakeupWorking;
  return Status::InvalidInput("loại ngày không hợp lệ '" + s + "'");
}

std::string OutOfRange(int64_t day, int first_year, int last_year) {
  return "Ngày " + FormatIsoDate(day) + " nằm ngoài phạm vi lịch làm việc đã nạp (" +
         std::to_string(first_year) + "–" + std::to_string(last_year) + ")";
}

}  // namespace

const char* DayKindName(DayKind kind) {
  switch (kind) {
    case DayKind::kWorkday:
      return "workday";
    case DayKind::kWeekend:
      return "weekend";
    case DayKind::kHoliday:
      return "holiday";
    case DayKind::kCompensatoryOff:
      return "compensatory_off";
    case DayKind::kSwappedOff:
      return "swapped_off";
    case DayKind::kGrantedOff:
      return "granted_off";
    case DayKind::kMakeupWorking:
      return "makeup_working";
  }
  return "unknown";
}

Result<std::shared_ptr<const WorkingCalendar>> WorkingCalendar::LoadDirectory(
    const std::string& dir, const std::string& schemas_dir, const JsonReadLimits& limits) {
  std::vector<std::string> files;
  std::error_code ec;
  static const std::regex kYearFile("^[0-9]{4}\\.json$");
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && std::regex_match(name, kYearFile))
      files.push_back(entry.path().string());
  }
  if (ec) return Status::IoError("Không đọc được thư mục lịch '" + dir + "': " + ec.message());
  if (files.empty())
    return Status::NotFound("Thư mục lịch '" + dir + "' không có tệp năm nào (<năm>.json)");
  std::sort(files.begin(), files.end());
  return LoadFiles(files, schemas_dir, limits);
}

Result<std::shared_ptr<const WorkingCalendar>> WorkingCalendar::LoadFiles(
    const std::vector<std::string>& files, const std::string& schemas_dir,
    const JsonReadLimits& limits) {
  auto validator = SchemaValidator::Load(schemas_dir + "/calendar.schema.json");
  if (!validator.ok()) return validator.status();
  std::vector<nlohmann::json> docs;
  for (const auto& f : files) {
    auto doc = ReadJsonFile(f, limits);
    if (!doc.ok()) return doc.status();
    Status s = validator.value()->Validate(doc.value(), f);
    if (!s.ok()) return s;
    docs.push_back(std::move(doc).value());
  }
  return FromDocuments(docs, files);
}

Result<std::shared_ptr<const WorkingCalendar>> WorkingCalendar::FromDocuments(
    const std::vector<nlohmann::json>& docs, const std::vector<std::string>& labels) {
  if (docs.empty()) return Status::InvalidInput("Không có tệp lịch nào để nạp");
  if (labels.size() != docs.size())
    return Status::Internal("FromDocuments: số nhãn khác số tài liệu");
  std::shared_ptr<WorkingCalendar> cal(new WorkingCalendar());
  try {
    // Order by year, check distinct and contiguous.
    std::map<int, size_t> by_year;
    for (size_t i = 0; i < docs.size(); ++i) {
      const auto& d = docs[i];
      if (!d.is_object() || !d.contains("year") || !d["year"].is_number_integer())
        return DataError(labels[i], "$.year", "thiếu năm (year) hoặc không phải số nguyên");
      int y = d["year"].get<int>();
      auto [it, inserted] = by_year.emplace(y, i);
      if (!inserted)
        return DataError(
            labels[i], "$.year",
            "năm " + std::to_string(y) + " đã có trong tệp '" + labels[it->second] + "'");
    }
    cal->first_year_ = by_year.begin()->first;
    cal->last_year_ = by_year.rbegin()->first;
    for (int y = cal->first_year_; y <= cal->last_year_; ++y) {
      if (!by_year.count(y))
        return Status::InvalidInput(
            "Thiếu tệp lịch năm " + std::to_string(y) + ": các năm được nạp phải liên tục (" +
            std::to_string(cal->first_year_) + "–" + std::to_string(cal->last_year_) + ")");
    }
    cal->first_day_ = DaysFromCivil(cal->first_year_, 1, 1);
    const int64_t end_day = DaysFromCivil(cal->last_year_ + 1, 1, 1);
    cal->days_.resize(static_cast<size_t>(end_day - cal->first_day_));
    bool offset_set = false;

    for (const auto& [year, doc_index] : by_year) {
      const auto& d = docs[doc_index];
      const std::string& file = labels[doc_index];
      const int16_t year_index = static_cast<int16_t>(year - cal->first_year_);

      int offset = d.value("utc_offset_minutes", 420);
      if (offset_set && offset != cal->utc_offset_minutes_)
        return DataError(file, "$.utc_offset_minutes",
                         "độ lệch múi giờ " + std::to_string(offset) + " khác các năm khác (" +
                             std::to_string(cal->utc_offset_minutes_) + ")");
      cal->utc_offset_minutes_ = offset;
      offset_set = true;

      // Weekly pattern.
      bool weekend[7] = {false, false, false, false, false, false, false};
      if (!d.contains("weekend") || !d["weekend"].is_array())
        return DataError(file, "$.weekend", "thiếu danh sách ngày nghỉ hằng tuần");
      for (size_t k = 0; k < d["weekend"].size(); ++k) {
        const auto& w = d["weekend"][k];
        int idx = -1;
        for (int j = 0; j < 7; ++j)
          if (w.is_string() && w.get<std::string>() == kWeekdayNames[j]) idx = j;
        if (idx < 0)
          return DataError(file, JsonPathIndex("$.weekend", k), "tên thứ trong tuần không hợp lệ");
        weekend[idx] = true;
      }

      // Working hours.
      YearData yd;
      const auto& wh = d.at("working_hours");
      const auto& periods = wh.at("periods");
      int64_t prev_end = 0;
      for (size_t k = 0; k < periods.size(); ++k) {
        const std::string path = JsonPathIndex("$.working_hours.periods", k);
        Period p{};
        if (!ParseClock(periods[k].value("start", ""), &p.start_ms))
          return DataError(file, path + ".start", "giờ bắt đầu không hợp lệ (HH:MM)");
        if (!ParseClock(periods[k].value("end", ""), &p.end_ms))
          return DataError(file, path + ".end", "giờ kết thúc không hợp lệ (HH:MM)");
        if (p.end_ms <= p.start_ms)
          return DataError(file, path, "giờ kết thúc phải sau giờ bắt đầu");
        if (p.start_ms < prev_end)
          return DataError(file, path, "các khoảng giờ làm việc phải tăng dần và không chồng nhau");
        prev_end = p.end_ms;
        yd.periods_ms += p.end_ms - p.start_ms;
        yd.periods.push_back(p);
      }
      const double hours = wh.at("hours_per_day").get<double>();
      yd.day_length_ms = static_cast<int64_t>(std::llround(hours * kMsPerHour));
      if (yd.day_length_ms != yd.periods_ms)
        return DataError(file, "$.working_hours.hours_per_day",
                         "số giờ làm việc mỗi ngày (" + wh.at("hours_per_day").dump() +
                             ") không bằng tổng các khoảng giờ làm việc (" +
                             std::to_string(yd.periods_ms / kMsPerMinute) + " phút)");
      cal->years_.push_back(std::move(yd));

      // Default pattern for every day of the year.
      const int64_t y0 = DaysFromCivil(year, 1, 1), y1 = DaysFromCivil(year + 1, 1, 1);
      for (int64_t day = y0; day < y1; ++day) {
        Day& rec = cal->days_[static_cast<size_t>(day - cal->first_day_)];
        bool is_weekend = weekend[Weekday(day)];
        rec.kind = is_weekend ? DayKind::kWeekend : DayKind::kWorkday;
        rec.working = !is_weekend;
        rec.entry = -1;
        rec.year_index = year_index;
      }

      // Listed days.
      const auto& days = d.at("days");
      for (size_t k = 0; k < days.size(); ++k) {
        const std::string path = JsonPathIndex("$.days", k);
        const auto& e = days[k];
        auto day = ParseIsoDate(e.value("date", ""));
        if (!day) return DataError(file, path + ".date", "ngày không hợp lệ (YYYY-MM-DD)");
        if (*day < y0 || *day >= y1)
          return DataError(
              file, path + ".date",
              "ngày " + FormatIsoDate(*day) + " không thuộc năm " + std::to_string(year));
        auto kind = KindFromName(e.value("type", ""));
        if (!kind.ok()) return DataError(file, path + ".type", kind.status().message());
        Day& rec = cal->days_[static_cast<size_t>(*day - cal->first_day_)];
        if (rec.entry >= 0)
          return DataError(file, path + ".date",
                           "ngày " + FormatIsoDate(*day) + " bị khai báo hai lần");
        const bool is_weekend = weekend[Weekday(*day)];
        if (kind.value() == DayKind::kMakeupWorking && !is_weekend)
          return DataError(
              file, path + ".type",
              "ngày làm bù " + FormatIsoDate(*day) + " không phải ngày nghỉ hằng tuần");
        if ((kind.value() == DayKind::kCompensatoryOff || kind.value() == DayKind::kSwappedOff) &&
            is_weekend)
          return DataError(
              file, path + ".type",
              "ngày nghỉ bù/hoán đổi " + FormatIsoDate(*day) + " trùng ngày nghỉ hằng tuần");
        rec.kind = kind.value();
        rec.working = kind.value() == DayKind::kMakeupWorking;
        rec.entry = static_cast<int32_t>(cal->entries_.size());
        cal->entries_.push_back(Entry{e.value("name", ""), e.value("source", ""),
                                      e.value("note", ""), e.value("unconfirmed", false)});
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidInput(std::string("Tệp lịch có cấu trúc không hợp lệ: ") + e.what());
  }

  cal->prefix_days_.assign(cal->days_.size() + 1, 0);
  cal->prefix_ms_.assign(cal->days_.size() + 1, 0);
  for (size_t i = 0; i < cal->days_.size(); ++i) {
    const Day& rec = cal->days_[i];
    cal->prefix_days_[i + 1] = cal->prefix_days_[i] + (rec.working ? 1 : 0);
    cal->prefix_ms_[i + 1] =
        cal->prefix_ms_[i] + (rec.working ? cal->years_[rec.year_index].periods_ms : 0);
  }
  return std::shared_ptr<const WorkingCalendar>(std::move(cal));
}

int64_t WorkingCalendar::DayOf(int64_t epoch_ms) const {
  return LocalDay(epoch_ms, utc_offset_minutes_);
}

int64_t WorkingCalendar::StartOfDayMs(int64_t day) const {
  return day * kMsPerDay - utc_offset_minutes_ * kMsPerMinute;
}

int64_t WorkingCalendar::EndOfDayMs(int64_t day) const { return StartOfDayMs(day + 1) - 1; }

Result<size_t> WorkingCalendar::Index(int64_t day) const {
  if (!Covers(day)) return Status::NotFound(OutOfRange(day, first_year_, last_year_));
  return static_cast<size_t>(day - first_day_);
}

Result<bool> WorkingCalendar::IsWorkingDay(int64_t day) const {
  auto i = Index(day);
  if (!i.ok()) return i.status();
  return days_[i.value()].working;
}

Result<DayInfo> WorkingCalendar::Describe(int64_t day) const {
  auto i = Index(day);
  if (!i.ok()) return i.status();
  const Day& rec = days_[i.value()];
  DayInfo info;
  info.day = day;
  info.working = rec.working;
  info.kind = rec.kind;
  if (rec.entry >= 0) {
    const Entry& e = entries_[static_cast<size_t>(rec.entry)];
    info.name = e.name;
    info.source = e.source;
    info.note = e.note;
    info.unconfirmed = e.unconfirmed;
  }
  return info;
}

Result<int64_t> WorkingCalendar::NextWorkingDay(int64_t day) const {
  return AddWorkingDays(day, 1);
}

Result<int64_t> WorkingCalendar::OnOrNextWorkingDay(int64_t day) const {
  auto w = IsWorkingDay(day);
  if (!w.ok()) return w.status();
  if (w.value()) return day;
  return AddWorkingDays(day, 1);
}

Result<int64_t> WorkingCalendar::AddWorkingDays(int64_t day, int64_t n) const {
  auto idx = Index(day);
  if (!idx.ok()) return idx.status();
  const size_t i = idx.value();
  if (n == 0) return day;
  if (n > 0) {
    // Smallest j > i with working count in (i, j] == n and j working: prefix_days_[j+1] is the
    // first prefix value reaching prefix_days_[i+1] + n.
    const int64_t target = prefix_days_[i + 1] + n;
    auto it = std::lower_bound(prefix_days_.begin(), prefix_days_.end(), target);
    if (it == prefix_days_.end())
      return Status::NotFound("Cộng " + std::to_string(n) + " ngày làm việc từ " +
                              FormatIsoDate(day) + " vượt quá lịch đã nạp (đến hết năm " +
                              std::to_string(last_year_) + ")");
    const size_t k = static_cast<size_t>(it - prefix_days_.begin());
    return first_day_ + static_cast<int64_t>(k) - 1;
  }
  // Largest j < i with working count in [j, i) == |n| and j working.
  const int64_t target = prefix_days_[i] + n;  // n < 0
  if (target < 0)
    return Status::NotFound("Lùi " + std::to_string(-n) + " ngày làm việc từ " +
                            FormatIsoDate(day) + " vượt quá lịch đã nạp (từ đầu năm " +
                            std::to_string(first_year_) + ")");
  auto it = std::lower_bound(prefix_days_.begin(), prefix_days_.end(), target + 1);
  const size_t k = static_cast<size_t>(it - prefix_days_.begin());
  return first_day_ + static_cast<int64_t>(k) - 1;
}

Result<int64_t> WorkingCalendar::WorkingDaysBetween(int64_t from, int64_t to) const {
  auto a = Index(from);
  if (!a.ok()) return a.status();
  auto b = Index(to);
  if (!b.ok()) return b.status();
  return prefix_days_[b.value() + 1] - prefix_days_[a.value() + 1];
}

Result<int64_t> WorkingCalendar::WorkingDayLengthMs(int64_t day) const {
  auto i = Index(day);
  if (!i.ok()) return i.status();
  return years_[days_[i.value()].year_index].day_length_ms;
}

int64_t WorkingCalendar::DayWorkingMs(size_t i, int64_t from_offset, int64_t to_offset) const {
  const Day& rec = days_[i];
  if (!rec.working || to_offset <= from_offset) return 0;
  int64_t total = 0;
  for (const Period& p : years_[rec.year_index].periods) {
    const int64_t a = std::max(p.start_ms, from_offset), b = std::min(p.end_ms, to_offset);
    if (b > a) total += b - a;
  }
  return total;
}

Result<int64_t> WorkingCalendar::WorkingMsBetween(int64_t from_ms, int64_t to_ms) const {
  if (to_ms <= from_ms) return int64_t{0};
  const int64_t d0 = DayOf(from_ms), d1 = DayOf(to_ms);
  auto i0 = Index(d0);
  if (!i0.ok()) return i0.status();
  auto i1 = Index(d1);
  if (!i1.ok()) return i1.status();
  const int64_t off0 = from_ms - StartOfDayMs(d0), off1 = to_ms - StartOfDayMs(d1);
  if (d0 == d1) return DayWorkingMs(i0.value(), off0, off1);
  int64_t total = DayWorkingMs(i0.value(), off0, kMsPerDay);
  total += prefix_ms_[i1.value()] - prefix_ms_[i0.value() + 1];
  total += DayWorkingMs(i1.value(), 0, off1);
  return total;
}

Result<int64_t> WorkingCalendar::AddWorkingMs(int64_t from_ms, int64_t working_ms) const {
  if (working_ms < 0) return Status::InvalidInput("AddWorkingMs: thời lượng âm");
  const int64_t d0 = DayOf(from_ms);
  auto i0r = Index(d0);
  if (!i0r.ok()) return i0r.status();
  if (working_ms == 0) return from_ms;
  const size_t i0 = i0r.value();
  int64_t remaining = working_ms;
  // Within the first day.
  const int64_t off0 = from_ms - StartOfDayMs(d0);
  const int64_t first = DayWorkingMs(i0, off0, kMsPerDay);
  auto finish_in_day = [&](size_t i, int64_t from_offset, int64_t rem) -> int64_t {
    const int64_t day_start = StartOfDayMs(first_day_ + static_cast<int64_t>(i));
    for (const Period& p : years_[days_[i].year_index].periods) {
      const int64_t a = std::max(p.start_ms, from_offset);
      if (p.end_ms <= a) continue;
      if (p.end_ms - a >= rem) return day_start + a + rem;
      rem -= p.end_ms - a;
    }
    return day_start + kMsPerDay;  // unreachable when rem <= the day's remaining working time
  };
  if (first >= remaining) return finish_in_day(i0, off0, remaining);
  remaining -= first;
  // Whole days: find the first index k > i0 where the cumulative working ms reaches `remaining`.
  const int64_t target = prefix_ms_[i0 + 1] + remaining;
  auto it = std::lower_bound(prefix_ms_.begin() + static_cast<std::ptrdiff_t>(i0) + 1,
                             prefix_ms_.end(), target);
  if (it == prefix_ms_.end())
    return Status::NotFound(
        "Cộng thời gian làm việc từ " + FormatIsoTime(from_ms, utc_offset_minutes_) +
        " vượt quá lịch đã nạp (đến hết năm " + std::to_string(last_year_) + ")");
  const size_t k = static_cast<size_t>(it - prefix_ms_.begin()) - 1;  // the day that completes it
  return finish_in_day(k, 0, target - prefix_ms_[k]);
}

}  // namespace danvan::calendar
