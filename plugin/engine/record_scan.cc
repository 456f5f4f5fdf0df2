#include "engine/record_scan.h"

#include <algorithm>
#include <climits>
#include <utility>

#include "core/bounded_input.h"
#include "indicators/contributions.h"

namespace danvan {

using nlohmann::json;

// SAX events of a contribution array. Sets shaped = false (and stops) at the first value that
// is not where [[string, number, number(, string)], ...] has it; parse errors stop it too.
class ContributionReader::Sax {
 public:
  explicit Sax(ContributionReader* r) : r_(r) {}
  bool shaped = true;
  bool array = false;  // the text's top-level value is an array

  bool null() { return Other(); }
  bool boolean(bool) { return Other(); }
  bool number_integer(json::number_integer_t v) { return Number(static_cast<int64_t>(v), static_cast<double>(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return Number(static_cast<int64_t>(v), static_cast<double>(v)); }
  bool number_float(json::number_float_t v, const json::string_t&) {
    return Number(static_cast<int64_t>(v), static_cast<double>(v));
  }
  bool string(json::string_t& s) {
    if (depth_ != 2) return Other();
    if (pos_ == 0) {
      Current().series.assign(s);
    } else if (pos_ != 3) {
      return Other();
    }
    ++pos_;
    return true;
  }
  bool binary(json::binary_t&) { return Other(); }
  bool start_object(std::size_t) { return Other(); }
  bool key(json::string_t&) { return Other(); }
  bool end_object() { return Other(); }
  bool start_array(std::size_t) {
    if (depth_ == 0) {
      array = true;
    } else if (depth_ == 1) {
      if (r_->size_ == r_->items_.size()) r_->items_.emplace_back();
      ++r_->size_;
      pos_ = 0;
    } else {
      return Other();
    }
    ++depth_;
    return true;
  }
  bool end_array() {
    if (depth_ == 2 && pos_ < 3) return Other();  // [series, day] or shorter: FromJson's j[2]
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

 private:
  Item& Current() { return r_->items_[r_->size_ - 1]; }
  bool Number(int64_t as_int, double as_double) {
    if (depth_ != 2) return Other();
    if (pos_ == 1) Current().day = as_int;
    else if (pos_ == 2) Current().value = as_double;
    else return Other();
    ++pos_;
    return true;
  }
  bool Other() {
    shaped = false;
    return false;
  }
  ContributionReader* r_;
  int depth_ = 0;
  int pos_ = 0;  // position of the next value in the current item
};

bool ContributionReader::Read(std::string_view text) {
  size_ = 0;
  converted_ = true;
  fallback_ = nullptr;
  Sax sax(this);
  const bool ok = json::sax_parse(text.begin(), text.end(), &sax);
  if (ok) return sax.array;
  if (sax.shaped) return false;  // not JSON (a parse error)
  // Another shape: the document path, as it was (bounded as every read of a stored column).
  size_ = 0;
  fallback_ = ParseStoredJson(text);
  if (!fallback_.is_array()) {
    fallback_ = nullptr;
    return false;
  }
  converted_ = false;
  return true;
}

std::span<const ContributionReader::Item> ContributionReader::Items() {
  if (!converted_) {
    size_ = 0;
    for (const auto& j : fallback_) {
      auto c = indicators::Contribution::FromJson(j);  // throws on an item of another shape
      if (size_ == items_.size()) items_.emplace_back();
      Item& it = items_[size_++];
      it.series = std::move(c.series);
      it.day = c.day;
      it.value = c.value;
    }
    converted_ = true;
  }
  return {items_.data(), size_};
}

double ContributionReader::LevelAt(std::string_view series, int64_t day, int64_t* first_day) {
  double sum = 0;
  int64_t first = INT64_MAX;
  for (const Item& c : Items()) {
    if (c.series != series || c.day > day) continue;
    sum += c.value;
    if (c.value > 0) first = std::min(first, c.day);
  }
  if (first_day) *first_day = first;
  return sum;
}

bool ContributionReader::FlowIn(std::string_view series, int64_t from, int64_t to) {
  for (const Item& c : Items())
    if (c.series == series && c.day >= from && c.day <= to && c.value != 0) return true;
  return false;
}

// SAX events of a JSON object, keeping the wanted top-level members that are strings.
class TopLevelStrings::Sax {
 public:
  explicit Sax(TopLevelStrings* t) : t_(t) {}
  bool object = false;  // the top-level value is an object

  bool null() { return Scalar(); }
  bool boolean(bool) { return Scalar(); }
  bool number_integer(json::number_integer_t) { return Scalar(); }
  bool number_unsigned(json::number_unsigned_t) { return Scalar(); }
  bool number_float(json::number_float_t, const json::string_t&) { return Scalar(); }
  bool string(json::string_t& s) {
    if (depth_ == 1 && wanted_ >= 0) {
      t_->values_[wanted_].assign(s);
      t_->present_[wanted_] = 1;
    }
    return true;
  }
  bool binary(json::binary_t&) { return Scalar(); }
  bool start_object(std::size_t) {
    if (depth_ == 0) object = true;
    return Open();
  }
  bool key(json::string_t& k) {
    if (depth_ != 1) return true;
    wanted_ = -1;
    for (size_t i = 0; i < t_->names_.size(); ++i)
      if (t_->names_[i] == k) wanted_ = static_cast<int>(i);
    return true;
  }
  bool end_object() {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) { return Open(); }
  bool end_array() {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

 private:
  // A member that is not a string: the name reads as absent (a later occurrence may set it).
  bool Scalar() {
    if (depth_ == 1 && wanted_ >= 0) t_->present_[wanted_] = 0;
    return true;
  }
  bool Open() {
    Scalar();
    ++depth_;
    return true;
  }
  TopLevelStrings* t_;
  int depth_ = 0;
  int wanted_ = -1;  // index of the current top-level member's name, -1 when not wanted
};

TopLevelStrings::TopLevelStrings(std::vector<std::string> names)
    : names_(std::move(names)), values_(names_.size()), present_(names_.size(), 0) {}

bool TopLevelStrings::Read(std::string_view text) {
  std::fill(present_.begin(), present_.end(), 0);
  Sax sax(this);
  const bool ok = json::sax_parse(text.begin(), text.end(), &sax);
  if (ok && sax.object) return true;
  std::fill(present_.begin(), present_.end(), 0);
  return false;
}

}  // namespace danvan
