// libFuzzer target: legacy-encoding detection and repair on raw bytes (the first thing intake
// runs on a host's event), every legacy decoder, and the Vietnamese normaliser and folder.
#include <cstdint>
#include <string>
#include <string_view>

#include "text/json_repair.h"
#include "text/legacy.h"
#include "text/normalize.h"
#include "text/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace danvan::text;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto repaired = RepairJsonText(bytes);
  (void)repaired;
  auto detection = DetectLegacy(bytes);
  (void)detection;
  for (Encoding e : {Encoding::kTcvn3, Encoding::kVni, Encoding::kViscii, Encoding::kCp1258}) {
    auto decoded = DecodeLegacy(e, bytes);
    if (decoded.ok()) {
      auto encoded = EncodeLegacy(e, decoded.value());
      (void)encoded;
    }
  }
  if (IsValidUtf8(bytes)) {
    for (bool casefold : {false, true}) (void)NormalizeNfc(bytes, casefold);
    (void)NormalizeNfd(bytes);
    (void)FoldDiacritics(bytes);
    (void)ToUpperNfc(bytes);
    (void)PrepareForMatch(bytes);
    (void)ScoreVietnamese(bytes);
  }
  return 0;
}
