// libFuzzer target: the configuration document a host passes to `open`, through the parser and
// validator (ParseEngineConfig) — the part of `open` that reads untrusted bytes before any file
// is created. schemas_dir/config_dir keys inside the input are replaced by the source tree's so
// the fuzzer explores the document, not the file system.
// Also a differential check of the arena reader (core/arena_json.h) against nlohmann's parser
// on the same bytes: the same verdict and error, the same document (any difference aborts).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/arena_json.h"
#include "core/json_view.h"
#include "core/json_write.h"
#include "engine/engine.h"
#include "text/utf8.h"

namespace {

void SameAsNlohmann(std::string_view text) {
  static danvan::JsonArena arena;
  arena.Reset();
  danvan::JsonScanError want_error, got_error;
  auto want = danvan::ParseJsonBounded(text, 16, &want_error);
  auto got = danvan::ParseArenaJsonBounded(text, 16, &arena, &got_error);
  if (want.ok() != got.ok()) std::abort();
  if (!want.ok()) {
    if (want.status().message() != got.status().message() || want_error.byte != got_error.byte) std::abort();
    return;
  }
  std::string a, b;
  danvan::AppendJson(want.value(), &a);
  danvan::AppendArenaJson(*got.value(), &b);
  if (a != b || danvan::ToNlohmann(*got.value()) != want.value()) std::abort();
  // A text that is valid UTF-8 read again with the reader told so (valid_utf8): the same
  // document and bytes.
  if (!danvan::text::FindInvalidUtf8(text)) {
    static danvan::JsonArena arena8;
    arena8.Reset();
    auto again = danvan::ParseArenaJsonBounded(text, 16, &arena8, nullptr, /*valid_utf8=*/true);
    std::string c;
    if (!again.ok()) std::abort();
    danvan::AppendArenaJson(*again.value(), &c);
    if (c != b || danvan::ToNlohmann(*again.value()) != want.value()) std::abort();
  }
  // The readers intake's tagging and evaluation use on the view (core/json_view.h) answer as
  // nlohmann's do, exceptions included: size, text, and value(key, "") for every member.
  const danvan::ArenaJson& view = *got.value();
  const nlohmann::json& doc = want.value();
  if (danvan::jview::Size(view) != doc.size() || danvan::jview::Dump(view) != doc.dump()) std::abort();
  auto value_of = [](auto&& read) {
    try {
      return "=" + read();
    } catch (const nlohmann::json::exception& e) {
      return std::string("!") + e.what();
    }
  };
  std::vector<std::string> keys = {"a"};
  for (const auto& m : view.members()) keys.emplace_back(m.key);
  for (const std::string& k : keys) {
    if (k.find('\0') != std::string::npos) continue;  // the readers take C-string keys
    if (value_of([&] { return danvan::jview::ValueString(view, k.c_str(), ""); }) !=
        value_of([&] { return doc.value(k, std::string()); }))
      std::abort();
    const danvan::ArenaJson* v = danvan::jview::Find(view, k);
    const nlohmann::json* w = danvan::jview::Find(doc, k);
    if ((v == nullptr) != (w == nullptr)) std::abort();
    if (v && (danvan::jview::StringOr(view, k) != danvan::jview::StringOr(doc, k) ||
              danvan::jview::Elements(*v).size() != danvan::jview::Elements(*w).size()))
      std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  SameAsNlohmann(text);
  if (text.find("_dir") != std::string_view::npos) return 0;
  std::string document(text);
  // Give the document the source tree's directories when it is an object, so validation runs.
  const size_t brace = document.find('{');
  if (brace != std::string::npos)
    document.insert(brace + 1, "\"schemas_dir\":\"" DANVAN_SOURCE_ROOT
                               "/schemas\",\"config_dir\":\"" DANVAN_SOURCE_ROOT "/config\",");
  auto parsed = danvan::ParseEngineConfig(document);
  (void)parsed;
  return 0;
}
