// The Word (.docx) draft of a periodic report in the layout of Decree 30/2020/NĐ-CP, filled from
// an editable template (config/reports/bao-cao-nd30.docx, made by
// tools/docx-template/make_template.py; an administrator may edit it in Word).
//
// Placeholders are {{name}} in word/document.xml. A paragraph whose whole text is one list
// placeholder is repeated once per value (an empty list removes it); any other placeholder is
// replaced inside its paragraph, also when Word split it over several runs (the paragraph's text
// then goes into its first run, keeping that run's formatting). Values are XML-escaped.
//
// Pure functions, thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace danvan::console {

struct DocxValues {
  std::map<std::string, std::string> scalars;            // "so_ky_hieu" -> "   /BC-SGDĐT"
  std::map<std::string, std::vector<std::string>> lists;  // "noi_dung" -> paragraphs
};

// Fills word/document.xml (the text of the part); placeholders left unknown stay as they are.
std::string FillDocumentXml(const std::string& xml, const DocxValues& values);

// Reads the template .docx (at most max_bytes), fills word/document.xml and returns the new
// .docx bytes; every other part is copied unchanged. InvalidInput naming the file when it is not
// a .docx (no word/document.xml).
// The values of the shipped template from a `report` op's "report" object and the
// reports.decree30 configuration (agency_parent, agency, symbol, place, addressees,
// signer_title, signer_name): the agency defaults to the report's unit name, the date to the
// report's cut-off day; the number is left blank for the clerk ("Số:      /BC-...").
DocxValues Decree30Values(const nlohmann::json& report, const nlohmann::json& config);

Result<std::string> FillDocxTemplate(const std::string& template_path, const DocxValues& values,
                                     int64_t max_bytes = 16 << 20);

}  // namespace danvan::console
