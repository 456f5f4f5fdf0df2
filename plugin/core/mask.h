// Masking of personal data (citizen ID numbers, phone numbers, e-mail addresses) before any
// text leaves the plugin in a log line or an export beyond what the portal requires
// (Personal Data Protection Decree 13/2023/ND-CP).
#pragma once

#include <string>
#include <string_view>

namespace danvan {

// "079203004567" -> "07*******567"; "0912345678" -> "09*****678"; "an.nguyen@gmail.com" ->
// "a***@gmail.com". Thread-safe.
std::string MaskPersonalData(std::string_view text);

}  // namespace danvan
