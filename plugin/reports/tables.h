// The report model flattened into tables: the common intermediate of the CSV, XLSX and HTML
// writers, so the three formats always show the same rows in the same order.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reports/report_model.h"

namespace danvan::reports {

struct Cell {
  std::string text;              // Vietnamese display text ("95,5%", "15/6/2023")
  std::optional<double> number;  // the raw number where the cell is numeric (XLSX writes it)
  std::string num_format;        // XLSX number format for `number`: "0.0%", "#,##0", "0.00"
};

struct Table {
  std::string id;     // file stem for CSV: "chi-so-idx766"
  std::string sheet;  // XLSX sheet name, ≤ 31 characters, unique
  std::string title;  // heading
  std::vector<std::string> headers;
  std::vector<std::vector<Cell>> rows;
};

// Order: report information, summary, indicator tables (in model order), ranking, criterion
// scores, then the action lists (overdue petitions, complex/protracted cases, months without
// the head's reception, late plan tasks, "Dân vận khéo" models). Action tables are present even
// when empty (headers only), so a spreadsheet always has the same sheets.
std::vector<Table> BuildTables(const ReportModel& m);

}  // namespace danvan::reports
