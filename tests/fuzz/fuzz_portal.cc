// libFuzzer target: answers from the national portal (or whatever sits in its place: a gateway,
// a proxy's error page, a truncated body). The input is split into a status line, headers and a
// body; it is classified as an operation's answer in both protocol styles, per item against a
// fixed call of three dossiers, and its Retry-After is parsed.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "portal/portal_http_client.h"

namespace {

danvan::HttpResponse SplitResponse(std::string_view in) {
  danvan::HttpResponse r;
  if (in.size() >= 2) {
    r.status = (static_cast<uint8_t>(in[0]) * 256 + static_cast<uint8_t>(in[1])) % 600;
    in.remove_prefix(2);
  }
  // Header lines up to an empty line ("\n\n"), then the body.
  const size_t end = in.find("\n\n");
  std::string_view head = end == std::string_view::npos ? std::string_view() : in.substr(0, end);
  r.body = std::string(end == std::string_view::npos ? in : in.substr(end + 2));
  while (!head.empty()) {
    const size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos)
      r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
    head = nl == std::string_view::npos ? std::string_view() : head.substr(nl + 1);
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const danvan::HttpResponse response =
      SplitResponse(std::string_view(reinterpret_cast<const char*>(data), size));
  static const std::vector<nlohmann::json> sent = {
      {{"MaHoSo", "000.00.31.H26-230301-0001"}},
      {{"MaHoSo", "000.00.31.H26-230301-0002"}},
      {{"MaHoSo", "000.00.31.H26-230301-0003"}}};
  for (danvan::PortalStyle style : {danvan::PortalStyle::kEnvelope, danvan::PortalStyle::kPerOperation}) {
    danvan::PortalConfig config;
    config.style = style;
    bool session_expired = false;
    danvan::SendResult r = danvan::ClassifyResponse(config, response, 1'700'000'000'000, &session_expired);
    danvan::ClassifyItems(config, sent, &r);
  }
  (void)danvan::ParseRetryAfter(response.Header("Retry-After"), 1'700'000'000'000);
  return 0;
}
