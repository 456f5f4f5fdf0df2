// UTF-8 validation. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace danvan::text {

// True when every byte is < 0x80. Checks 8 bytes at a time.
bool IsAscii(std::string_view s);

// Byte offset of the first byte that does not start or continue a well-formed UTF-8 sequence
// (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF), or nullopt when `s` is valid.
std::optional<size_t> FindInvalidUtf8(std::string_view s);
inline bool IsValidUtf8(std::string_view s) { return !FindInvalidUtf8(s).has_value(); }

// Decodes one code point at s[*pos] and advances *pos. Precondition: `s` is valid UTF-8.
char32_t NextCodePoint(std::string_view s, size_t* pos);
void AppendUtf8(char32_t cp, std::string* out);

}  // namespace danvan::text
