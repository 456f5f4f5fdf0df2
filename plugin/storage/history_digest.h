// The compact form of a record's history kept in its row (RecordRow::history_digest), so intake
// reads one row per record instead of the record's whole history: for every history entry its
// outcome, order key, status and time (what the evaluator and the step de-duplication need),
// without the event time, received time or step detail (read with GetHistory when needed).
//
// Format (engine-neutral text, the same in every storage engine): one entry after another,
//   <o><order_key>,<at_ms>,<n>:<status>
// o = 'a' applied, 's' stale, 't' step, 'x' any other outcome; n = the status's size in bytes
// (so a status may hold any character). Entries are unordered (the SQLite migration that fills
// it for existing records concatenates them in no particular order); DigestHistory sorts them
// as GetHistory does. Cost: O(entries) to read, O(1) amortised to append.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/store.h"

namespace danvan {

inline char DigestOutcomeCode(std::string_view outcome) {
  if (outcome == "applied") return 'a';
  if (outcome == "stale") return 's';
  if (outcome == "step") return 't';
  return 'x';
}

inline const char* DigestOutcomeName(char code) {
  switch (code) {
    case 'a': return "applied";
    case 's': return "stale";
    case 't': return "step";
    default: return "other";
  }
}

// Appends the entry for h to *digest.
inline void AppendDigest(std::string* digest, const HistoryRow& h) {
  digest->push_back(DigestOutcomeCode(h.outcome));
  *digest += std::to_string(h.order_key);
  digest->push_back(',');
  *digest += std::to_string(h.at_ms);
  digest->push_back(',');
  *digest += std::to_string(h.status.size());
  digest->push_back(':');
  *digest += h.status;
}

// Calls fn(outcome_code, order_key, at_ms, status) for every entry, in stored order. Returns
// false (after the entries before it) at the first malformed entry.
template <typename Fn>
bool ForEachDigestEntry(std::string_view d, Fn&& fn) {
  size_t i = 0;
  auto number = [&](char end, int64_t* out) {
    const char* first = d.data() + i;
    const char* last = d.data() + d.size();
    auto [p, ec] = std::from_chars(first, last, *out);
    if (ec != std::errc() || p == last || *p != end) return false;
    i = static_cast<size_t>(p - d.data()) + 1;
    return true;
  };
  while (i < d.size()) {
    const char code = d[i++];
    int64_t order_key = 0, at_ms = 0, n = 0;
    if (!number(',', &order_key) || !number(',', &at_ms) || !number(':', &n)) return false;
    if (n < 0 || static_cast<size_t>(n) > d.size() - i) return false;
    fn(code, order_key, at_ms, d.substr(i, static_cast<size_t>(n)));
    i += static_cast<size_t>(n);
  }
  return true;
}

// The history entries of the digest into *out (record_pk, order_key, status, at_ms, outcome;
// no event time, detail or received time), ordered as GetHistory orders them (at_ms,
// order_key, then as appended). False when the digest is malformed (read the history instead).
inline bool DigestHistory(std::string_view digest, int64_t record_pk, std::vector<HistoryRow>* out) {
  out->clear();
  const bool ok = ForEachDigestEntry(digest, [&](char code, int64_t order_key, int64_t at_ms,
                                                 std::string_view status) {
    HistoryRow h;
    h.record_pk = record_pk;
    h.order_key = order_key;
    h.status = std::string(status);
    h.at_ms = at_ms;
    h.outcome = DigestOutcomeName(code);
    out->push_back(std::move(h));
  });
  std::stable_sort(out->begin(), out->end(), [](const HistoryRow& a, const HistoryRow& b) {
    return a.at_ms != b.at_ms ? a.at_ms < b.at_ms : a.order_key < b.order_key;
  });
  return ok;
}

}  // namespace danvan
