#include "console/docx.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include <Poco/DateTime.h>
#include <Poco/Exception.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <Poco/Zip/Compress.h>
#include <Poco/Zip/ZipArchive.h>
#include <Poco/Zip/ZipStream.h>

#include "core/bounded_input.h"

namespace danvan::console {
namespace {

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        // C0 controls other than tab and line feed are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') continue;
        out += c;
    }
  }
  return out;
}

std::string XmlUnescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    static const std::pair<const char*, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool done = false;
    for (const auto& [name, ch] : kEntities)
      if (s.compare(i, std::char_traits<char>::length(name), name) == 0) {
        out += ch;
        i += std::char_traits<char>::length(name) - 1;
        done = true;
        break;
      }
    if (!done) out += '&';
  }
  return out;
}

// The <w:t ...>text</w:t> elements of a paragraph: [open tag start, text start, text end).
struct TextSpan {
  size_t tag_begin, text_begin, text_end;
};

std::vector<TextSpan> TextSpans(const std::string& p) {
  std::vector<TextSpan> spans;
  size_t pos = 0;
  while ((pos = p.find("<w:t", pos)) != std::string::npos) {
    const char after = pos + 4 < p.size() ? p[pos + 4] : '\0';
    if (after != '>' && after != ' ') {  // <w:tbl>, <w:tc>, <w:tab/>...
      pos += 4;
      continue;
    }
    size_t close = p.find('>', pos);
    if (close == std::string::npos) break;
    if (p[close - 1] == '/') {  // <w:t/>
      pos = close + 1;
      continue;
    }
    size_t end = p.find("</w:t>", close);
    if (end == std::string::npos) break;
    spans.push_back({pos, close + 1, end});
    pos = end + 6;
  }
  return spans;
}

std::string ParagraphText(const std::string& p, const std::vector<TextSpan>& spans) {
  std::string text;
  for (const auto& s : spans) text += XmlUnescape(p.substr(s.text_begin, s.text_end - s.text_begin));
  return text;
}

// The paragraph with its whole text set to `text` (in the first <w:t>, the others emptied).
std::string WithText(const std::string& p, const std::vector<TextSpan>& spans, const std::string& text) {
  std::string out;
  size_t last = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    out += p.substr(last, spans[i].tag_begin - last);
    out += i == 0 ? "<w:t xml:space=\"preserve\">" + XmlEscape(text) : std::string("<w:t>");
    last = spans[i].text_end;
  }
  out += p.substr(last);
  return out;
}

std::string Replace(std::string text, const DocxValues& v) {
  for (const auto& [name, value] : v.scalars) {
    const std::string key = "{{" + name + "}}";
    for (size_t pos = 0; (pos = text.find(key, pos)) != std::string::npos; pos += value.size())
      text.replace(pos, key.size(), value);
  }
  return text;
}

}  // namespace

std::string FillDocumentXml(const std::string& xml, const DocxValues& values) {
  std::string out;
  size_t pos = 0;
  while (true) {
    // A paragraph: <w:p> or <w:p ...> up to its </w:p> (paragraphs do not nest in a body part,
    // but a table cell holds its own: they are found one after the other the same way).
    size_t start = pos;
    while ((start = xml.find("<w:p", start)) != std::string::npos) {
      const char c = start + 4 < xml.size() ? xml[start + 4] : '\0';
      if (c == '>' || c == ' ') break;
      start += 4;
    }
    if (start == std::string::npos) break;
    size_t end = xml.find("</w:p>", start);
    if (end == std::string::npos) break;
    end += 6;
    out += xml.substr(pos, start - pos);
    const std::string p = xml.substr(start, end - start);
    auto spans = TextSpans(p);
    const std::string text = ParagraphText(p, spans);
    if (text.find("{{") == std::string::npos) {
      out += p;
    } else {
      bool listed = false;
      for (const auto& [name, items] : values.lists) {
        if (text == "{{" + name + "}}") {
          for (const auto& item : items) out += WithText(p, spans, item);
          listed = true;
          break;
        }
      }
      if (!listed) out += WithText(p, spans, Replace(text, values));
    }
    pos = end;
  }
  out += xml.substr(pos);
  return out;
}

Result<std::string> FillDocxTemplate(const std::string& template_path, const DocxValues& values,
                                     int64_t max_bytes) {
  auto bytes = ReadRegularFile(template_path, max_bytes);
  if (!bytes.ok()) return bytes.status();
  try {
    std::istringstream in(bytes.value());
    Poco::Zip::ZipArchive archive(in);
    std::istringstream src(bytes.value());
    std::vector<std::pair<std::string, std::string>> parts;
    bool has_document = false;
    int64_t total = 0;
    for (auto it = archive.headerBegin(); it != archive.headerEnd(); ++it) {
      if (it->second.isDirectory()) continue;
      src.clear();
      Poco::Zip::ZipInputStream zin(src, it->second, true);
      std::string content;
      char buf[8192];
      while (zin) {
        zin.read(buf, sizeof buf);
        content.append(buf, static_cast<size_t>(zin.gcount()));
        total += zin.gcount();
        // A zip bomb stops here: the parts together may not unpack past 8 times the limit.
        if (total > 8 * max_bytes) return Status::InvalidInput(template_path + ": tệp mẫu giải nén quá lớn");
      }
      if (it->first == "word/document.xml") {
        content = FillDocumentXml(content, values);
        has_document = true;
      }
      parts.emplace_back(it->first, std::move(content));
    }
    if (!has_document)
      return Status::InvalidInput(template_path + ": không phải tệp Word .docx (thiếu word/document.xml)");
    std::ostringstream out;
    Poco::Zip::Compress zip(out, true);
    const Poco::DateTime when(2023, 1, 1);
    for (const auto& [name, content] : parts) {
      std::istringstream part(content);
      zip.addFile(part, when, Poco::Path(name, Poco::Path::PATH_UNIX), Poco::Zip::ZipCommon::CM_DEFLATE,
                  Poco::Zip::ZipCommon::CL_NORMAL);
    }
    zip.close();
    return out.str();
  } catch (const Poco::Exception& e) {
    return Status::InvalidInput(template_path + ": không đọc được tệp mẫu .docx: " + e.displayText());
  } catch (const std::exception& e) {
    return Status::InvalidInput(template_path + ": không đọc được tệp mẫu .docx: " + e.what());
  }
}

}  // namespace danvan::console

namespace danvan::console {

DocxValues Decree30Values(const nlohmann::json& report, const nlohmann::json& config) {
  using nlohmann::json;
  auto str = [](const json& j, const char* k, const std::string& def = "") {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : def;
  };
  const json meta = report.value("meta", json::object());
  const json unit = meta.value("unit", json::object());
  DocxValues v;
  v.scalars["co_quan_chu_quan"] = str(config, "agency_parent");
  v.scalars["co_quan_ban_hanh"] = str(config, "agency", str(unit, "name"));
  // Decree 30/2020/NĐ-CP Appendix I: "Số: …/BC-…": the number is given when the document is issued.
  v.scalars["so_ky_hieu"] = "      /" + str(config, "symbol", "BC");
  const std::string cut = str(meta, "cut_off");  // yyyy-mm-dd
  std::string date = "ngày      tháng      năm " + (cut.size() >= 4 ? cut.substr(0, 4) : std::string());
  if (cut.size() == 10)
    date = "ngày " + std::to_string(std::atoi(cut.substr(8, 2).c_str())) + " tháng " +
           std::to_string(std::atoi(cut.substr(5, 2).c_str())) + " năm " + cut.substr(0, 4);
  const std::string place = str(config, "place");
  v.scalars["dia_danh_ngay"] = place.empty() ? date : place + ", " + date;
  std::string title = str(meta, "title");
  for (const char* prefix : {"BÁO CÁO ", "Báo cáo "})
    if (title.rfind(prefix, 0) == 0) title = title.substr(std::char_traits<char>::length(prefix));
  v.scalars["trich_yeu"] = title;
  v.scalars["chuc_vu_nguoi_ky"] = str(config, "signer_title");
  v.scalars["nguoi_ky"] = str(config, "signer_name");
  auto& body = v.lists["noi_dung"];
  if (report.contains("summary") && report["summary"].is_array())
    for (const auto& s : report["summary"])
      if (s.is_string()) body.push_back(s.get<std::string>());
  auto& ranking = v.lists["xep_hang"];
  if (report.contains("scores") && report["scores"].is_array())
    for (const auto& s : report["scores"]) {
      if (!s.is_object()) continue;
      const json u = s.value("unit", json::object());
      char points[32];
      std::snprintf(points, sizeof points, "%.2f", s.value("total", 0.0));
      std::string p = points;
      if (auto dot = p.find('.'); dot != std::string::npos) p[dot] = ',';  // Vietnamese decimal comma
      std::string line = (s.contains("rank") && s["rank"].is_number_integer()
                              ? std::to_string(s["rank"].get<int>()) + ". "
                              : std::string("- ")) +
                         str(u, "name", str(u, "code")) + ": " + p + " điểm";
      const std::string rating = str(s, "rating");
      if (!rating.empty()) line += ", " + rating;
      ranking.push_back(line + ".");
    }
  auto& to = v.lists["noi_nhan"];
  if (config.contains("addressees") && config["addressees"].is_array())
    for (const auto& a : config["addressees"])
      if (a.is_string()) to.push_back("- " + a.get<std::string>() + ";");
  to.push_back("- Lưu: VT.");
  return v;
}

}  // namespace danvan::console
