// Explainable, data-driven tagging of dân vận records (issue 3).
//
// A rule file (schemas/rules.schema.json; default pack config/rules/default.json) holds a
// version and a list of rules. Each rule: id, tag, optional value, Vietnamese description,
// source, the record kinds it applies to, and a condition `when`:
//   {"all": [c, ...]}  {"any": [c, ...]}  {"not": c}
//   {"field": P, "op": OP, ...}   P is a path inside the record's `data` ("content",
//        "petitioners.name": arrays fan out), an envelope field ("@unit", "@source", "@id"),
//        or a derived value: "$days_since:<path>", "$count:<path>", "$days_since_received",
//        "$days_past_due", "$petitioner_count" (see docs in the rule schema).
//   {"tag": T, "op": OP, ...}     a tag set by an earlier rule on the same record.
// OPs: exists, missing, eq, ne (value), in, not_in (values), pattern (value: ECMAScript regex,
//   optional "icase"), gt, ge, lt, le (value: number), before, after (value: ISO date),
//   eq_field, ne_field (other: path), contains_any, contains_all (keywords and/or lists: names
//   of the file's keyword lists; P may be a list of text fields).
// Keyword matching is Vietnamese-aware (text/keywords.h): case, NFC/NFD, mark order and the
// tố/tổ pitfall are handled; rules sharing a `group` are exclusive: the matching rule with the
// highest `priority` (then file order) is the only one that emits.
//
// Load errors (schema violations, unknown operators, fields known to no record schema, tags no
// earlier rule sets, bad regexes) name the rule id and the JSON pointer inside the rule file.
//
// Letter reading (issue 12, tagging/letter_model.h): when the rule file has a "reading"
// section, petition and reception letters are first read by the letter model (cues + linear
// model, files named relative to the rule file); it emits, with a confidence and weighted
// evidence: text_kind (always: the primary kind), text_kind_strength (strong|weak),
// secondary_kind (one per secondary kind), complexity=complex, group_petition, staff_conduct,
// anonymous_denunciation, protracted=reraised (each only when true), letter_reading (the whole
// reading, every flag true or false) and needs_review (below the configured confidence).
// Rules then run as before and may read those tags; a rule hit with the same tag and value as
// a reading hit replaces it (a host field is certain), and a rule setting text_kind replaces the
// reading's kind (e.g. feedback_regulation). Last, the invariants of domain.md §3a are applied:
// group_petition => complexity=complex; anonymous_denunciation only on a denunciation (the
// host's petition_kind, else the petition_kind tag, else text_kind).
//
// Use from the engine:
//   auto rs = RuleSet::FromFile(path, schemas_dir);      // on error keep the old RuleSet
//   std::atomic_store(&current, rs.value());             // shared_ptr<const RuleSet> swap
//   auto tags = current->Evaluate({kind, event, now_ms}); // after RepairJsonText + parse
//   TagDiff d = DiffTags(stored_tags, tags);               // re-tagging report
// RuleSet is immutable; Evaluate() is const and thread-safe (no shared mutable state).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/arena_json.h"
#include "core/bounded_input.h"
#include "core/status.h"

namespace danvan::tagging {

class LetterModel;

struct RecordView {
  std::string_view kind;        // "petition", "dossier", ... (the envelope's kind)
  const nlohmann::json& event;  // the full envelope, including "data"
  int64_t now_ms = 0;           // from the engine's Clock: derived day counts use it
  // A person's confirmed or corrected reading of the letter (tags.review), or null:
  // {"action":"confirm"|"correct","kind":K,"secondary":[K...],"flags":{"complex":bool,...},
  //  "by":who,"why":text,"at":ISO time}. It replaces the model's reading.
  const nlohmann::json* review = nullptr;
};

// The same record read from an arena view (core/arena_json.h): what intake tags, without a
// nlohmann copy of the event. The tags are those RecordView gives for the same document.
struct ArenaRecordView {
  std::string_view kind;
  const ArenaJson& event;
  int64_t now_ms = 0;
  const nlohmann::json* review = nullptr;
};

// Evidence kept compact until it is rendered: the letter reading's decisions (feature names as
// views into the model, weights, probabilities) are turned into JSON only when a tag is stored
// or explained (TagHit::ToJson / EvidenceJson), not on every evaluation. One object is shared by
// the tags of one reading, each naming its `part`. Immutable after construction; thread-safe.
class DeferredEvidence {
 public:
  virtual ~DeferredEvidence() = default;
  virtual nlohmann::json Render(int part) const = 0;
};

struct TagHit {
  std::string tag;
  std::string value;  // "" for a tag without value
  std::string rule_id;
  std::string rules_version;
  double confidence = -1;  // 0..1 for decisions of the letter reading; -1: a rule (certain)
  // Array of evidence items, e.g. {"field":"content","keywords":["khiếu nại"],
  // "matched":["khiếu nại"]}, {"field":"$petitioner_count","op":"ge","actual":7,"expected":5},
  // {"tag":"text_kind","value":"complaint"}, {"not":"/rules/4/when/all/1"}.
  // Null when the evidence is deferred (below): read it with EvidenceJson().
  nlohmann::json evidence;
  std::shared_ptr<const DeferredEvidence> deferred;  // when set, the evidence is its `deferred_part`
  int deferred_part = 0;
  // The evidence as JSON (rendered now when deferred; the same JSON every time).
  nlohmann::json EvidenceJson() const { return deferred ? deferred->Render(deferred_part) : evidence; }
  // {"tag","value","rule","rules_version","evidence"} (+ "confidence" when >= 0)
  nlohmann::json ToJson() const;
  // Appends AppendJson(ToJson())'s bytes (core/json_write.h, strict: text that is not UTF-8
  // throws nlohmann's error), without building the object or copying the evidence.
  void AppendJson(std::string* out) const;
  static Result<TagHit> FromJson(const nlohmann::json& j);
};

// Difference between two taggings of one record, keyed by tag name (a tag may appear once per
// value; a tag whose value changed is reported under `changed`).
struct TagDiff {
  std::vector<TagHit> added;
  std::vector<TagHit> removed;
  std::vector<std::pair<TagHit, TagHit>> changed;  // (old, new)
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
  // {"added":[{"tag","value","rule","rules_version"}], "removed":[...],
  //  "changed":[{"tag","old_value","new_value","old_rule","new_rule",...}]}
  nlohmann::json ToJson() const;
};
TagDiff DiffTags(const std::vector<TagHit>& old_tags, const std::vector<TagHit>& new_tags);

class RuleSet {
 public:
  // `schemas_dir` holds rules.schema.json and records/<kind>.schema.json.
  // `base_dir`: where the files named in the rule file (the "reading" section) are looked up;
  // FromFile passes the rule file's directory.
  static Result<std::shared_ptr<const RuleSet>> FromJson(const nlohmann::json& rules,
                                                         const std::string& schemas_dir,
                                                         const std::string& base_dir = ".");
  // The file is read within `limits` (core/bounded_input.h): a regular file, size and nesting
  // depth bounded.
  static Result<std::shared_ptr<const RuleSet>> FromFile(const std::string& path,
                                                         const std::string& schemas_dir,
                                                         const JsonReadLimits& limits = {});
  ~RuleSet();

  const std::string& version() const { return version_; }
  size_t rule_count() const;
  size_t keyword_count() const;
  // The letter model of the "reading" section, or null.
  std::shared_ptr<const LetterModel> letter_model() const;

  // Tags of one record, in rule evaluation order. Thread-safe.
  std::vector<TagHit> Evaluate(const RecordView& record) const;
  std::vector<TagHit> Evaluate(const ArenaRecordView& record) const;

  struct Impl;  // implementation detail (rules.cc)

 private:
  RuleSet();
  std::unique_ptr<Impl> impl_;
  std::string version_;
};

}  // namespace danvan::tagging
