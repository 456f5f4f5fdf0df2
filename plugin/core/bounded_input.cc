#include "core/bounded_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

namespace danvan {
namespace {

// Longest key shown in an error's path; longer keys are cut (with "…").
constexpr size_t kMaxShownKey = 64;

// Appends `key` to a JSON pointer (RFC 6901 escapes), cut to kMaxShownKey bytes on a UTF-8
// boundary. Control bytes are shown as \uXXXX so a path is always printable.
void AppendKey(std::string* out, const std::string& key) {
  out->push_back('/');
  size_t n = key.size();
  if (n > kMaxShownKey) {
    n = kMaxShownKey;
    while (n > 0 && (static_cast<unsigned char>(key[n]) & 0xC0) == 0x80) --n;
  }
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(key[i]);
    if (c == '~') {
      *out += "~0";
    } else if (c == '/') {
      *out += "~1";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      *out += buf;
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  if (n < key.size()) *out += "…";
}

// SAX handler of ScanJson: keeps the path of the value being read (at most max_depth frames)
// and stops the parser at the first container past the limit.
class DepthScanner {
 public:
  using json = nlohmann::json;

  DepthScanner(int max_depth, std::map<std::string, std::string>* top_level)
      : max_depth_(max_depth), top_level_(top_level) {}

  bool null() { return Value(); }
  bool boolean(bool) { return Value(); }
  bool number_integer(json::number_integer_t) { return Value(); }
  bool number_unsigned(json::number_unsigned_t) { return Value(); }
  bool number_float(json::number_float_t, const json::string_t&) { return Value(); }
  bool string(json::string_t& s) {
    if (top_level_ && stack_.size() == 1 && stack_[0].object && stack_[0].key_pending &&
        top_level_->size() < 16 && s.size() <= 1024 && stack_[0].key.size() <= 64)
      (*top_level_)[stack_[0].key] = s;
    return Value();
  }
  bool binary(json::binary_t&) { return Value(); }
  bool start_object(std::size_t) { return Open(true); }
  bool start_array(std::size_t) { return Open(false); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool key(json::string_t& k) {
    stack_.back().key = k;
    stack_.back().key_pending = true;
    return true;
  }
  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& ex) {
    error_ = JsonScanError{JsonScanError::Kind::kSyntax, CurrentPath(), "", position};
    const std::string what = ex.what();
    if (what.find("out_of_range.406") != std::string::npos) {
      error_->kind = JsonScanError::Kind::kNumberRange;
      error_->reason = "số vượt quá phạm vi biểu diễn được: " + Shown(last_token);
    } else {
      error_->reason = "JSON không hợp lệ tại byte " + std::to_string(position) +
                       (last_token.empty() ? "" : " (gần " + Shown(last_token) + ")");
    }
    return false;
  }

  const std::optional<JsonScanError>& error() const { return error_; }

 private:
  struct Frame {
    bool object = false;
    int64_t next_index = 0;    // arrays: index of the next element
    std::string key;           // objects: key of the value being read
    bool key_pending = false;  // objects: `key` names a value not read yet
  };

  static std::string Shown(const std::string& token) {
    // The lexer's token string escapes control bytes already; keep it short.
    std::string t = token.size() > 40 ? token.substr(0, 40) + "…" : token;
    return "'" + t + "'";
  }

  // The pointer of the value about to be read (before its frame is pushed).
  // Between members of an object (a key being read) the path is the object's.
  std::string CurrentPath() const {
    std::string p;
    for (const Frame& f : stack_) {
      if (f.object) {
        if (!f.key_pending) break;
        AppendKey(&p, f.key);
      } else {
        p += "/" + std::to_string(f.next_index);
      }
    }
    return p.empty() ? "/" : p;
  }

  void Advance() {
    if (stack_.empty()) return;
    if (stack_.back().object) stack_.back().key_pending = false;
    else ++stack_.back().next_index;
  }

  bool Value() {
    Advance();
    return true;
  }

  bool Open(bool object) {
    if (static_cast<int>(stack_.size()) >= max_depth_) {
      error_ = JsonScanError{JsonScanError::Kind::kDepth, CurrentPath(),
                             "lồng quá sâu: quá " + std::to_string(max_depth_) +
                                 " cấp mảng/đối tượng lồng nhau (limits.max_json_depth)",
                             0};
      return false;
    }
    stack_.push_back({object, 0, {}, false});
    return true;
  }

  bool Close() {
    stack_.pop_back();
    Advance();
    return true;
  }

  int max_depth_;
  std::map<std::string, std::string>* top_level_;
  std::vector<Frame> stack_;
  std::optional<JsonScanError> error_;
};

// Closes a file descriptor on every path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "thư mục";
  if (S_ISFIFO(mode)) return "FIFO (ống)";
  if (S_ISCHR(mode)) return "thiết bị ký tự";
  if (S_ISBLK(mode)) return "thiết bị khối";
  if (S_ISSOCK(mode)) return "socket";
  return "không phải tệp thông thường";
}

}  // namespace

std::optional<JsonScanError> ScanJson(std::string_view text, int max_depth,
                                      std::map<std::string, std::string>* top_level) {
  DepthScanner scanner(max_depth < 1 ? 1 : max_depth, top_level);
  // The SAX parser is iterative (its state stack is a std::vector) and reports a number out of
  // range (1e400) as a parse error instead of throwing.
  const bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &scanner);
  if (scanner.error()) {
    JsonScanError e = *scanner.error();
    return e;
  }
  if (!ok) return JsonScanError{JsonScanError::Kind::kSyntax, "/", "JSON không hợp lệ", 0};
  return std::nullopt;
}

namespace {

// nlohmann's DOM builder (the one nlohmann::json::parse uses), refusing a container nested
// deeper than max_depth: start_* returning false stops the parser there (the tree built so far
// is a valid one, freed without recursion). Cheaper than parse() with a callback, which goes
// through std::function and the callback builder's keep-stacks for every value.
class BoundedDomParser : public nlohmann::detail::json_sax_dom_parser<nlohmann::json> {
 public:
  using Base = nlohmann::detail::json_sax_dom_parser<nlohmann::json>;
  BoundedDomParser(nlohmann::json& root, int max_depth) : Base(root, /*allow_exceptions_=*/false), max_depth_(max_depth) {}
  bool start_object(std::size_t len) {
    // `depth_` counts the containers open around the one starting.
    if (depth_ >= max_depth_) return false;
    ++depth_;
    return Base::start_object(len);
  }
  bool start_array(std::size_t len) {
    if (depth_ >= max_depth_) return false;
    ++depth_;
    return Base::start_array(len);
  }
  bool end_object() {
    --depth_;
    return Base::end_object();
  }
  bool end_array() {
    --depth_;
    return Base::end_array();
  }

 private:
  int max_depth_;
  int depth_ = 0;
};

// The document of `text`, or nullopt when nlohmann's parser refuses it or a container lies past
// max_depth. One pass: nlohmann's DOM parser is iterative too, and it stops at the first
// container past the limit.
std::optional<nlohmann::json> ParseWithin(std::string_view text, int max_depth) {
  nlohmann::json doc;
  try {
    BoundedDomParser sax(doc, max_depth);
    if (nlohmann::json::sax_parse(text.begin(), text.end(), &sax, nlohmann::json::input_format_t::json,
                                  /*strict=*/true, /*ignore_comments=*/false))
      return doc;
  } catch (const std::exception&) {
    // nlohmann's "excessive size" (out_of_range), not reached for text input
  }
  return std::nullopt;
}

}  // namespace

Result<nlohmann::json> ParseJsonBounded(std::string_view text, int max_depth,
                                        JsonScanError* error) {
  // Only a refused text is scanned again, to say where and why.
  if (auto doc = ParseWithin(text, max_depth)) return std::move(*doc);
  return RefusedJson(text, max_depth, error);
}

nlohmann::json ParseStoredJson(std::string_view text) {
  if (auto doc = ParseWithin(text, kMaxStoredJsonDepth)) return std::move(*doc);
  return nlohmann::json(nlohmann::json::value_t::discarded);
}

Status RefusedJson(std::string_view text, int max_depth, JsonScanError* error) {
  JsonScanError e = ScanJson(text, max_depth)
                        .value_or(JsonScanError{JsonScanError::Kind::kSyntax, "/", "JSON không hợp lệ", 0});
  std::string message = e.path + ": " + e.reason;
  if (error) *error = std::move(e);
  return Status::InvalidInput(std::move(message));
}

Result<std::string> ReadRegularFile(const std::string& path, int64_t max_bytes) {
  // stat first: a device or FIFO is refused before it is opened (opening some has effects).
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Status::IoError("Không đọc được tệp '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    return Status::IoError("Tệp '" + path + "' không phải tệp thông thường (" + KindOf(st.st_mode) + ")");
  if (st.st_size > max_bytes)
    return Status::InvalidInput("Tệp '" + path + "' quá lớn: " + std::to_string(st.st_size) +
                                " byte, tối đa " + std::to_string(max_bytes) +
                                " (limits.max_data_file_bytes)");
  // O_NONBLOCK: should the path be swapped for a FIFO after the stat, open does not wait for a
  // writer; fstat on the open descriptor then refuses it.
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) return Status::IoError("Không mở được tệp '" + path + "': " + std::strerror(errno));
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return Status::IoError("Tệp '" + path + "' không phải tệp thông thường");
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IoError("Lỗi khi đọc tệp '" + path + "': " + std::strerror(errno));
    }
    if (n == 0) break;
    // A file that grows while it is read (or whose size stat cannot tell) stops at the limit.
    if (static_cast<int64_t>(out.size()) + n > max_bytes)
      return Status::InvalidInput("Tệp '" + path + "' quá lớn: hơn " + std::to_string(max_bytes) +
                                  " byte (limits.max_data_file_bytes)");
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::optional<std::string> FindControlCharacter(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    unsigned code = 0x110000;
    if (c < 0x20 || c == 0x7F) code = c;
    // C1 controls are U+0080..U+009F: 0xC2 0x80..0x9F in UTF-8.
    else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F &&
             static_cast<unsigned char>(s[i + 1]) >= 0x80)
      code = static_cast<unsigned char>(s[i + 1]);
    if (code != 0x110000) {
      char buf[12];
      std::snprintf(buf, sizeof buf, "U+%04X", code);
      return std::string(buf);
    }
  }
  return std::nullopt;
}

}  // namespace danvan
