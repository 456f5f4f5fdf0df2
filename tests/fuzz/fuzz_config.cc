// libFuzzer target: the configuration document a host passes to `open`, through the parser and
// validator (ParseEngineConfig) — the part of `open` that reads untrusted bytes before any file
// is created. schemas_dir/config_dir keys inside the input are replaced by the source tree's so
// the fuzzer explores the document, not the file system.
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/engine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
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
