#include "core/json_write.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <bit>
#include <cstring>

namespace danvan {
namespace {


// False when `s` is not valid UTF-8 (nothing appended then).
bool AppendString(std::string_view s, std::string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  const size_t start = out->size();
  out->push_back('"');
  size_t run = 0;  // start of the bytes not yet copied
  size_t i = 0;
  while (i < n) {
    // Eight bytes at a time while they are all ASCII that needs no escape: no byte >= 0x80,
    // < 0x20, '"' or '\\' (the usual has-zero-byte / has-less-than tests, exact for these).
    constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      const uint64_t quote = w ^ (kOnes * '"'), backslash = w ^ (kOnes * '\\');
      const uint64_t special = (w | ((w - kOnes * 0x20) & ~w) | ((quote - kOnes) & ~quote) |
                                ((backslash - kOnes) & ~backslash)) & kHigh;
      if (special) {
        // To the first flagged byte, a real one (borrows only flag bytes above a real one).
        if constexpr (std::endian::native == std::endian::little) i += std::countr_zero(special) / 8;
        break;
      }
      i += 8;
    }
    if (i >= n) break;
    const unsigned char c = p[i];
    if (c >= 0x80) {
      const size_t len = Utf8SequenceLength(p + i, n - i);
      if (!len) {
        out->resize(start);
        return false;
      }
      i += len;
      continue;
    }
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out->append(s.data() + run, i - run);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case 0x08: out->append("\\b"); break;
      case 0x09: out->append("\\t"); break;
      case 0x0A: out->append("\\n"); break;
      case 0x0C: out->append("\\f"); break;
      case 0x0D: out->append("\\r"); break;
      default: {
        static const char kHex[] = "0123456789abcdef";
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out->append(esc, 6);
      }
    }
    run = ++i;
  }
  out->append(s.data() + run, n - run);
  out->push_back('"');
  return true;
}

template <typename Int>
void AppendInteger(Int v, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

void Append(const nlohmann::json& j, std::string* out, nlohmann::json::error_handler_t handler) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      out->push_back('{');
      bool first = true;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!first) out->push_back(',');
        first = false;
        if (!AppendString(it.key(), out)) out->append(nlohmann::json(it.key()).dump(-1, ' ', false, handler));
        out->push_back(':');
        Append(it.value(), out, handler);
      }
      out->push_back('}');
      return;
    }
    case nlohmann::json::value_t::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& e : j) {
        if (!first) out->push_back(',');
        first = false;
        Append(e, out, handler);
      }
      out->push_back(']');
      return;
    }
    case nlohmann::json::value_t::string:
      if (!AppendString(j.get_ref<const std::string&>(), out)) out->append(j.dump(-1, ' ', false, handler));
      return;
    case nlohmann::json::value_t::boolean:
      out->append(j.get<bool>() ? "true" : "false");
      return;
    case nlohmann::json::value_t::null:
      out->append("null");
      return;
    case nlohmann::json::value_t::number_integer:
      AppendInteger(j.get<int64_t>(), out);
      return;
    case nlohmann::json::value_t::number_unsigned:
      AppendInteger(j.get<uint64_t>(), out);
      return;
    case nlohmann::json::value_t::discarded:
      // A stored column that is not JSON (ParseStoredJson): nlohmann writes "<discarded>",
      // which would make the whole answer something other than JSON.
      out->append("null");
      return;
    default:  // floats (nlohmann's shortest round-trip form), binary
      out->append(j.dump(-1, ' ', false, handler));
      return;
  }
}

}  // namespace

size_t Utf8SequenceLength(const unsigned char* p, size_t left) {
  const unsigned char c = p[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (left < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t k = 2; k < len; ++k)
    if (p[k] < 0x80 || p[k] > 0xBF) return 0;
  return len;
}

void AppendJson(const nlohmann::json& doc, std::string* out, nlohmann::json::error_handler_t handler) {
  Append(doc, out, handler);
}

void AppendJsonString(std::string_view s, std::string* out, nlohmann::json::error_handler_t handler) {
  if (!AppendString(s, out)) out->append(nlohmann::json(std::string(s)).dump(-1, ' ', false, handler));
}

void AppendJsonInt(int64_t v, std::string* out) { AppendInteger(v, out); }

void AppendJsonDouble(double v, std::string* out) {
  // nlohmann's serializer::dump_float for IEEE doubles.
  if (!std::isfinite(v)) {
    out->append("null");
    return;
  }
  char buf[64];
  char* end = nlohmann::detail::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, end);
}

}  // namespace danvan
