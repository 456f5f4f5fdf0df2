#include "reports/tables.h"

#include <memory>
#include <set>

#include "reports/vnformat.h"

namespace danvan::reports {
namespace {

Cell T(std::string text) { return Cell{std::move(text), std::nullopt, ""}; }
Cell N(double v, int decimals = 2, std::string fmt = "#,##0.##") {
  return Cell{FormatNumberVn(v, decimals), v, std::move(fmt)};
}
Cell I(int v) { return Cell{std::to_string(v), static_cast<double>(v), "0"}; }
Cell Pct(std::optional<double> r) {
  if (!r) return T("—");
  return Cell{FormatPercentVn(r), *r, "0.0%"};
}

std::string RowFormat(const IndicatorRow& r) {
  return r.format.empty() ? DefaultIndicatorFormat(r.indicator_id) : r.format;
}

Cell ValueCell(const std::string& fmt, const std::optional<IndicatorValue>& v) {
  if (!v) return T("—");
  if (fmt == "percent") return Pct(v->ratio);
  if (fmt == "days") return v->ratio ? N(*v->ratio, 1, "0.0") : T("—");
  if (fmt == "fraction")
    return T(FormatNumberVn(v->numerator, 1) + "/" + FormatNumberVn(v->denominator, 1));
  return N(v->numerator, 1, "#,##0");
}

Cell ChangeCell(const std::string& fmt, const std::optional<IndicatorValue>& cur,
                const std::optional<IndicatorValue>& prev) {
  if (!cur || !prev) return T("—");
  if (fmt == "percent") {
    if (!cur->ratio || !prev->ratio) return T("—");
    const double d = *cur->ratio - *prev->ratio;
    return Cell{FormatPointChangeVn(d), d, "+0.0%;-0.0%;0%"};
  }
  if (fmt == "days") {
    if (!cur->ratio || !prev->ratio) return T("—");
    const double d = *cur->ratio - *prev->ratio;
    return Cell{FormatCountChangeVn(d), d, "+0.0;-0.0;0"};
  }
  const double d = cur->numerator - prev->numerator;
  return Cell{FormatCountChangeVn(d), d, "+#,##0;-#,##0;0"};
}

std::string SheetName(std::string base, std::set<std::string>* used) {
  // Excel: at most 31 characters (counted in UTF-16 units; our names are BMP), no []:*?/\ .
  std::string clean;
  for (char c : base) clean += std::string("[]:*?/\\").find(c) == std::string::npos ? c : '-';
  auto truncate = [](const std::string& s, size_t max_chars) {
    size_t chars = 0, i = 0;
    for (; i < s.size(); ++i) {
      if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
        if (chars == max_chars) break;
        ++chars;
      }
    }
    return s.substr(0, i);
  };
  std::string name = truncate(clean, 31);
  for (int n = 2; used->count(name); ++n) {
    std::string suffix = " (" + std::to_string(n) + ")";
    name = truncate(clean, 31 - suffix.size()) + suffix;
  }
  used->insert(name);
  return name;
}

std::string SourceText(const scoring::CriterionView& c) {
  if (c.source == "indicator") return "Chỉ số " + std::string(c.indicator_id);
  if (c.source == "redistributed") return "Phân bổ lại";
  if (c.source == "no_data") return "Không có dữ liệu";
  if (c.source == "manual") {
    if (!c.manual) return "Nhập tay";
    std::string s =
        c.manual->assessor == scoring::Assessor::kSuperior ? "Cấp trên chấm" : "Tự chấm";
    if (!c.manual->entered_by.empty()) (s += ": ") += c.manual->entered_by;
    if (!c.manual->entered_at.empty()) s += ", " + FormatDateVn(c.manual->entered_at);
    if (!c.manual->evidence_note.empty()) (s += "; ") += c.manual->evidence_note;
    if (!c.manual->document_ref.empty()) ((s += " (") += c.manual->document_ref) += ")";
    return s;
  }
  return std::string(c.source);
}

Cell CriterionValue(const scoring::CriterionView& c) {
  if (!c.value) return T("—");
  if (c.indicator && c.indicator->ratio && *c.value == *c.indicator->ratio) {
    Cell cell = Pct(c.value);
    cell.text += " (" + FormatNumberVn(c.indicator->numerator, 1) + "/" +
                 FormatNumberVn(c.indicator->denominator, 1) + ")";
    return cell;
  }
  return N(*c.value, 2);
}

}  // namespace

std::vector<TableSource> TableSources(const ReportModel& m) {
  std::vector<TableSource> out;
  std::set<std::string> sheets;
  auto add = [&](std::string id, const std::string& sheet, std::string title,
                 std::vector<std::string> headers, size_t row_count,
                 std::function<void(const RowFn&)> rows) {
    out.push_back({std::move(id), SheetName(sheet, &sheets), std::move(title), std::move(headers),
                   row_count, std::move(rows)});
  };
  // The two short tables (a dozen rows from meta, the summary's sentences) are made whole.
  auto held = [](std::vector<Row> rows) {
    return [rows = std::make_shared<const std::vector<Row>>(std::move(rows))](const RowFn& row) {
      for (const Row& r : *rows)
        if (!row(r)) return;
    };
  };

  {
    std::vector<Row> rows;
    rows.push_back({T("Báo cáo"), T(ReportTitle(m.meta))});
    rows.push_back(
        {T("Loại báo cáo"), T(m.meta.kind == "annual" ? "Báo cáo năm" : "Báo cáo 6 tháng")});
    rows.push_back({T("Đơn vị"), T(m.meta.unit.name + " (" + m.meta.unit.code + ")")});
    rows.push_back({T("Phạm vi"), T(m.meta.scope == "department" ? "Tổng hợp toàn Sở" : "Đơn vị")});
    rows.push_back(
        {T("Kỳ báo cáo"),
         T((m.meta.period.label.empty() ? "" : m.meta.period.label + ": ") + "từ " +
           FormatDateVn(m.meta.period.from) + " đến " + FormatDateVn(m.meta.period.to))});
    if (m.meta.previous_period)
      rows.push_back(
          {T("Kỳ so sánh"),
           T((m.meta.previous_period->label.empty() ? "" : m.meta.previous_period->label + ": ") +
             "từ " + FormatDateVn(m.meta.previous_period->from) + " đến " +
             FormatDateVn(m.meta.previous_period->to))});
    rows.push_back({T("Ngày chốt số liệu"), T(FormatDateVn(m.meta.cut_off))});
    if (!m.meta.due.empty()) rows.push_back({T("Hạn gửi báo cáo"), T(FormatDateVn(m.meta.due))});
    if (!m.meta.rubric_id.empty())
      rows.push_back({T("Bộ tiêu chí chấm điểm"),
                      T(m.meta.rubric_id + ", phiên bản " + m.meta.rubric_version)});
    if (!m.meta.generated_at.empty())
      rows.push_back({T("Thời điểm lập"), T(FormatDateVn(m.meta.generated_at))});
    if (!m.meta.generated_by.empty()) rows.push_back({T("Người lập"), T(m.meta.generated_by)});
    const size_t n = rows.size();
    add("thong-tin", "Thông tin", "Thông tin báo cáo", {"Mục", "Nội dung"}, n,
        held(std::move(rows)));
  }
  {
    std::vector<Row> rows;
    const std::vector<std::string> summary = m.summary.empty() ? ComposeSummary(m) : m.summary;
    for (size_t i = 0; i < summary.size(); ++i)
      rows.push_back({I(static_cast<int>(i + 1)), T(summary[i])});
    const size_t n = rows.size();
    add("tom-tat", "Tóm tắt", "Tóm tắt kết quả", {"STT", "Nội dung"}, n, held(std::move(rows)));
  }
  for (const IndicatorTable& it : m.indicator_tables) {
    add("chi-so-" + it.id, "Chỉ số " + it.id, it.title.empty() ? "Chỉ số " + it.id : it.title,
        {"STT", "Mã chỉ số", "Chỉ số", "Tử số", "Mẫu số", "Kỳ này", "Kỳ trước", "Thay đổi"},
        it.rows.size(), [&it](const RowFn& row) {
          int n = 0;
          for (const IndicatorRow& r : it.rows) {
            const std::string fmt = RowFormat(r);
            if (!row({I(++n), T(r.indicator_id),
                      T(r.label.empty() ? DefaultIndicatorLabel(r.indicator_id) : r.label),
                      r.current ? N(r.current->numerator, 2) : T("—"),
                      r.current ? N(r.current->denominator, 2) : T("—"), ValueCell(fmt, r.current),
                      ValueCell(fmt, r.previous), ChangeCell(fmt, r.current, r.previous)}))
              return;
          }
        });
  }
  add("xep-hang", "Xếp hạng", "Điểm, xếp loại và xếp hạng",
      {"Hạng", "Mã đơn vị", "Đơn vị", "Tổng điểm", "Điểm tối đa", "Xếp loại", "Ghi chú"},
      m.scores.size(), [&m](const RowFn& row) {
        for (const ScoreSummary& s : m.scores) {
          std::string note;
          if (s.rank_tied) note = "Đồng hạng";
          for (const std::string& r : s.not_eligible_reasons)
            note += (note.empty() ? "" : "; ") + r;
          if (!row({s.rank ? I(*s.rank) : T("—"), T(s.unit.code), T(s.unit.name),
                    N(s.total, 2, "0.00"), N(s.max_points, 2, "0.##"), T(s.rating), T(note)}))
            return;
        }
      });
  {
    size_t n = 0;
    for (const ScoreSummary& s : m.scores) n += s.criteria;
    add("diem-tieu-chi", "Điểm tiêu chí", "Điểm theo từng tiêu chí",
        {"Mã đơn vị", "Đơn vị", "Nhóm", "Mã tiêu chí", "Tiêu chí", "Giá trị", "Điểm", "Tối đa",
         "Nguồn", "Ghi chú"},
        n, [&m](const RowFn& row) {
          for (size_t i = 0; i < m.scores.size(); ++i) {
            // The unit's typed criterion table (scoring/packed_scores.h): no text parsed.
            const ScoreSummary& s = m.scores[i];
            bool more = true;
            m.scores.ForEachCriterion(i, [&](const scoring::CriterionView& c) {
              return more = row({T(s.unit.code), T(s.unit.name), T(std::string(c.group_name)),
                                 T(std::string(c.criterion_id)), T(std::string(c.name)),
                                 CriterionValue(c), N(c.points, 2, "0.00"),
                                 N(c.max_points, 2, "0.##"), T(SourceText(c)),
                                 T(std::string(c.note))});
            });
            if (!more) return;
          }
        });
  }
  add("don-qua-han", "Đơn quá hạn", "Đơn thư quá hạn chưa giải quyết",
      {"STT", "Mã đơn", "Nội dung", "Loại đơn", "Đơn vị", "Ngày nhận", "Hạn giải quyết",
       "Số ngày quá hạn", "Các bước quá hạn theo luật", "Người xử lý"},
      m.actions.overdue_petitions.size(), [&m](const RowFn& row) {
        int n = 0;
        for (const auto& p : m.actions.overdue_petitions) {
          std::string steps;
          for (const auto& s : p.overdue_steps) steps += (steps.empty() ? "" : "; ") + s;
          if (!row({I(++n), T(p.id), T(p.title), T(KindLabel(p.kind)), T(p.unit),
                    T(FormatDateVn(p.received_at)), T(FormatDateVn(p.due_at)), I(p.days_overdue),
                    T(steps), T(p.assignee)}))
            return;
        }
      });
  add("vu-viec-phuc-tap", "Vụ việc phức tạp", "Vụ việc phức tạp, kéo dài",
      {"STT", "Mã", "Nội dung", "Loại đơn", "Đơn vị", "Ngày nhận", "Tính chất", "Trạng thái",
       "Ghi chú"},
      m.actions.cases.size(), [&m](const RowFn& row) {
        int n = 0;
        for (const auto& c : m.actions.cases) {
          std::string flags;
          for (const std::string& f : c.flags) flags += (flags.empty() ? "" : ", ") + KindLabel(f);
          if (!row({I(++n), T(c.id), T(c.title), T(KindLabel(c.kind)), T(c.unit),
                    T(FormatDateVn(c.received_at)), T(flags), T(KindLabel(c.status)), T(c.note)}))
            return;
        }
      });
  add("thang-chua-tiep-dan", "Tháng chưa tiếp dân",
      "Tháng người đứng đầu chưa tiếp công dân định kỳ", {"STT", "Mã đơn vị", "Đơn vị", "Tháng"},
      m.actions.missed_head_reception.size(), [&m](const RowFn& row) {
        int n = 0;
        for (const auto& r : m.actions.missed_head_reception)
          if (!row({I(++n), T(r.unit_code), T(r.unit_name), T(FormatDateVn(r.month))})) return;
      });
  add("nhiem-vu-cham", "Nhiệm vụ chậm", "Nhiệm vụ kế hoạch chậm tiến độ",
      {"STT", "Kế hoạch", "Nhiệm vụ số", "Nội dung", "Đơn vị chủ trì", "Hạn hoàn thành", "Tiến độ",
       "Trạng thái"},
      m.actions.late_plan_tasks.size(), [&m](const RowFn& row) {
        int n = 0;
        for (const auto& lt : m.actions.late_plan_tasks)
          if (!row({I(++n), T(lt.plan_id), T(lt.task_no), T(lt.title), T(lt.lead_unit),
                    T(FormatDateVn(lt.due)), Pct(lt.progress_percent / 100.0),
                    T(KindLabel(lt.status))}))
            return;
      });
  add("mo-hinh-dan-van-kheo", "Dân vận khéo", "Mô hình, điển hình \"Dân vận khéo\"",
      {"STT", "Tên mô hình", "Loại", "Lĩnh vực", "Đơn vị đăng ký", "Ngày đăng ký", "Cấp công nhận",
       "Quyết định công nhận", "Ngày công nhận"},
      m.actions.dvk_models.size(), [&m](const RowFn& row) {
        int n = 0;
        for (const auto& d : m.actions.dvk_models)
          if (!row({I(++n), T(d.name), T(KindLabel(d.model_type)), T(KindLabel(d.field)),
                    T(d.registering_unit), T(FormatDateVn(d.registered_at)),
                    T(d.recognition_level.empty() ? "Chưa công nhận"
                                                  : KindLabel(d.recognition_level)),
                    T(d.recognition_decision), T(FormatDateVn(d.recognised_at))}))
            return;
      });
  return out;
}

std::vector<Table> BuildTables(const ReportModel& m) {
  std::vector<Table> out;
  for (const TableSource& src : TableSources(m)) {
    Table t{src.id, src.sheet, src.title, src.headers, {}};
    t.rows.reserve(src.row_count);
    src.for_each_row([&t](const Row& r) {
      t.rows.push_back(r);
      return true;
    });
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace danvan::reports
