// The dated unit hierarchy (config/units/*.json, schema schemas/units.schema.json).
// A record counts for its unit and every ancestor valid on the record's day.
// Immutable after loading; shared across threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/bounded_input.h"
#include "core/status.h"

namespace danvan::indicators {

struct Unit {
  std::string code;
  std::string name;
  std::string short_name;
  std::string type;
  std::string portal_code;
  // One entry per validity interval of this code (a unit may move under another parent).
  struct Span {
    std::string parent;  // "" for a root
    int64_t from_day = INT64_MIN;
    int64_t to_day = INT64_MAX;  // inclusive
  };
  std::vector<Span> spans;
};

class UnitTree {
 public:
  // The file is read within `limits` (core/bounded_input.h).
  static Result<std::shared_ptr<const UnitTree>> LoadFile(const std::string& path,
                                                          const std::string& schemas_dir,
                                                          const JsonReadLimits& limits = {});
  static Result<std::shared_ptr<const UnitTree>> FromJson(const nlohmann::json& doc,
                                                          const std::string& label);

  const Unit* Find(const std::string& code) const;
  // `code` and its ancestors valid on `day`, nearest first. An unknown code yields {code}.
  std::vector<std::string> Chain(const std::string& code, int64_t day) const;
  // Units valid at some point of [from_day, to_day] whose chain includes `root`.
  std::vector<std::string> Descendants(const std::string& root, int64_t from_day,
                                       int64_t to_day) const;
  std::vector<std::string> Roots() const;
  const std::vector<std::string>& codes() const { return order_; }
  const std::string& id() const { return id_; }

 private:
  std::map<std::string, Unit> units_;
  std::vector<std::string> order_;  // as in the file
  std::string id_;
};

}  // namespace danvan::indicators
