// The review list of letter readings (issue 12): the `tags.review` query op.
//
// A petition or reception letter whose reading is below the configured confidence carries the
// tag needs_review (tagging/rules.h, "reading" section). A person then confirms the reading or
// corrects it, saying who and why:
//   {"op":"tags.review","action":"list"[,"limit":N][,"unit":U][,"decided":true]}
//   {"op":"tags.review","action":"confirm","source","kind","id","by"[,"why"]}
//   {"op":"tags.review","action":"correct","source","kind","id","by","why",
//    "set":{"kind":K,"secondary":[K...],"flags":{"complex":bool,...}}}   (partial: the rest is
//    taken from the current reading; group => complex and anonymous => denunciation are checked)
// The decision is stored (table tag_review), journalled ("tag_review", audited), applied at
// once (the record is re-tagged and its indicator contributions follow), and wins over the
// model in every later tagging, including background re-tagging after a rule reload.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"
#include "storage/store.h"

namespace danvan {

class Engine;

// In-memory copy of the stored decisions, read on every tagging (no store read on submit).
// Thread-safe.
class TagReviewBook {
 public:
  Status Load(Store* store);
  // The decision (RecordView::review form) of a record, or null.
  std::shared_ptr<const nlohmann::json> Find(const RecordKey& key) const;
  void Put(const RecordKey& key, std::shared_ptr<const nlohmann::json> decision);
  void Erase(const RecordKey& key);
  size_t size() const;

  // The RecordView::review form of a stored row.
  static nlohmann::json DecisionOf(const TagReviewRow& row);

 private:
  static std::string KeyOf(const RecordKey& key);
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const nlohmann::json>> by_key_;  // guarded by mu_
};

// Loads the stored decisions and registers tags.review (during Engine::Open).
Status RegisterTagReviewOps(Engine& engine);

}  // namespace danvan
