// The report model flattened into tables: the common intermediate of the CSV, XLSX and HTML
// writers, so the three formats always show the same rows in the same order.
#pragma once

#include <functional>
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

using Row = std::vector<Cell>;
// Called for each row of a table in order; returning false stops the table's rows (a writer
// whose file failed).
using RowFn = std::function<bool(const Row&)>;

// A table whose rows are made one at a time, when a writer asks for them, so a writer holds
// one row of a listing, never the whole listing (bounded memory at city scale). Borrows the
// model it was made from: the model must outlive it and stay unchanged. Not thread-safe.
struct TableSource {
  std::string id, sheet, title;  // as in Table
  std::vector<std::string> headers;
  size_t row_count = 0;
  // Makes the rows, each passed to `row` and then dropped.
  std::function<void(const RowFn& row)> for_each_row;
};

// Order: report information, summary, indicator tables (in model order), ranking, criterion
// scores, then the action lists (overdue petitions, complex/protracted cases, months without
// the head's reception, late plan tasks, "Dân vận khéo" models). Action tables are present even
// when empty (headers only), so a spreadsheet always has the same sheets.
std::vector<TableSource> TableSources(const ReportModel& m);
// The same tables with all their rows (small models, tests): TableSources collected.
std::vector<Table> BuildTables(const ReportModel& m);

}  // namespace danvan::reports
