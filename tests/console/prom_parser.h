// A strict parser of the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), for tests: every sample's
// family declared by a # TYPE line first, metric and label names by the format's grammar, label
// values with only \\, \" and \n escapes, values as Go's ParseFloat reads them (plus +Inf, -Inf,
// NaN), no series twice, TYPE at most once per family, and histograms with an le label on every
// bucket, cumulative buckets ending in +Inf equal to _count, and a _sum.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace prom {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::string error;  // empty when the text is valid
  std::map<std::string, std::string> types;
  std::vector<Sample> samples;
  bool Has(const std::string& name) const {
    for (const auto& s : samples)
      if (s.name == name) return true;
    return false;
  }
  // The value of the series with exactly these labels (NaN when absent).
  double Value(const std::string& name, const std::map<std::string, std::string>& labels) const {
    for (const auto& s : samples)
      if (s.name == name && s.labels == labels) return s.value;
    return std::nan("");
  }
};

inline bool ParseValue(const std::string& t, double* v) {
  if (t == "+Inf" || t == "Inf") return *v = INFINITY, true;
  if (t == "-Inf") return *v = -INFINITY, true;
  if (t == "NaN") return *v = NAN, true;
  static const std::regex num(R"(^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$)");
  if (!std::regex_match(t, num)) return false;
  *v = std::strtod(t.c_str(), nullptr);
  return true;
}

inline Exposition Parse(const std::string& text) {
  Exposition e;
  static const std::regex metric_name("^[a-zA-Z_:][a-zA-Z0-9_:]*$");
  static const std::regex label_name("^[a-zA-Z_][a-zA-Z0-9_]*$");
  std::set<std::string> seen_series, helped;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  auto fail = [&](const std::string& why) {
    e.error = "line " + std::to_string(n) + ": " + why + ": " + line;
    return e;
  };
  if (!text.empty() && text.back() != '\n') {
    e.error = "the text must end with a line feed";
    return e;
  }
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream ls(line);
      std::string hash, kw, name;
      ls >> hash >> kw >> name;
      if (kw == "TYPE") {
        std::string type, extra;
        ls >> type;
        if (!std::regex_match(name, metric_name)) return fail("bad metric name");
        if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" && type != "untyped")
          return fail("bad type");
        if (ls >> extra) return fail("trailing text after TYPE");
        if (e.types.count(name)) return fail("TYPE given twice");
        for (const auto& s : e.samples)
          if (s.name == name || s.name.rfind(name + "_", 0) == 0) return fail("TYPE after the family's samples");
        e.types[name] = type;
      } else if (kw == "HELP") {
        if (!std::regex_match(name, metric_name)) return fail("bad metric name");
        if (!helped.insert(name).second) return fail("HELP given twice");
      }
      continue;
    }
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (!std::regex_match(s.name, metric_name)) return fail("bad metric name");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        size_t eq = line.find('=', i);
        if (eq == std::string::npos) return fail("label without =");
        std::string ln = line.substr(i, eq - i);
        if (!std::regex_match(ln, label_name)) return fail("bad label name");
        i = eq + 1;
        if (i >= line.size() || line[i] != '"') return fail("label value not quoted");
        ++i;
        std::string value;
        bool closed = false;
        while (i < line.size()) {
          char c = line[i++];
          if (c == '\\') {
            if (i >= line.size()) return fail("dangling escape");
            char d = line[i++];
            if (d == 'n') value += '\n';
            else if (d == '\\' || d == '"') value += d;
            else return fail("bad escape");
          } else if (c == '"') {
            closed = true;
            break;
          } else {
            value += c;
          }
        }
        if (!closed) return fail("unterminated label value");
        if (s.labels.count(ln)) return fail("label given twice");
        s.labels[ln] = value;
        if (i < line.size() && line[i] == ',') ++i;
        else if (i < line.size() && line[i] == '}') continue;
        else return fail("expected , or }");
      }
    }
    if (i >= line.size() || line[i] != ' ') return fail("expected a space before the value");
    std::string rest = line.substr(i + 1), value_text = rest, ts;
    if (size_t sp = rest.find(' '); sp != std::string::npos) {
      value_text = rest.substr(0, sp);
      ts = rest.substr(sp + 1);
      if (!std::regex_match(ts, std::regex("^-?\\d+$"))) return fail("bad timestamp");
    }
    if (!ParseValue(value_text, &s.value)) return fail("bad value");
    // The family: the name itself, or the histogram/summary it is a part of.
    std::string family = s.name;
    if (!e.types.count(family))
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string sf(suffix);
        if (s.name.size() > sf.size() && s.name.compare(s.name.size() - sf.size(), sf.size(), sf) == 0) {
          std::string base = s.name.substr(0, s.name.size() - sf.size());
          if (e.types.count(base) && (e.types[base] == "histogram" || e.types[base] == "summary")) family = base;
        }
      }
    if (!e.types.count(family)) return fail("sample before its # TYPE");
    if (e.types[family] == "histogram" && family != s.name) {
      const bool bucket = s.name == family + "_bucket";
      if (bucket != (s.labels.count("le") == 1)) return fail("le label on a non-bucket or missing on a bucket");
    }
    std::string key = s.name;
    for (const auto& [k, v] : s.labels) key += "\x1f" + k + "=" + v;
    if (!seen_series.insert(key).second) return fail("series given twice");
    e.samples.push_back(std::move(s));
  }
  // Histograms: per label set (without le), buckets cumulative, ending in +Inf == _count, _sum present.
  for (const auto& [family, type] : e.types) {
    if (type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    std::map<std::map<std::string, std::string>, double> counts;
    std::set<std::map<std::string, std::string>> sums;
    for (const auto& s : e.samples) {
      auto labels = s.labels;
      if (s.name == family + "_bucket") {
        double le = 0;
        if (!ParseValue(labels["le"], &le)) {
          e.error = family + ": bad le";
          return e;
        }
        labels.erase("le");
        buckets[labels].push_back({le, s.value});
      } else if (s.name == family + "_count") {
        counts[labels] = s.value;
      } else if (s.name == family + "_sum") {
        sums.insert(labels);
      }
    }
    for (const auto& [labels, list] : buckets) {
      for (size_t k = 1; k < list.size(); ++k)
        if (list[k].first <= list[k - 1].first || list[k].second < list[k - 1].second) {
          e.error = family + ": buckets not increasing in le or not cumulative";
          return e;
        }
      if (list.empty() || !std::isinf(list.back().first)) {
        e.error = family + ": no +Inf bucket";
        return e;
      }
      if (!counts.count(labels) || counts[labels] != list.back().second) {
        e.error = family + ": _count differs from the +Inf bucket";
        return e;
      }
      if (!sums.count(labels)) {
        e.error = family + ": no _sum";
        return e;
      }
    }
  }
  return e;
}

}  // namespace prom
