#include "console/password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <charconv>
#include <vector>

namespace danvan::console {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kKeyBytes = 32;  // SHA-256 output: PBKDF2 gains nothing from a longer key

std::string Base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

bool Unbase64(std::string_view text, std::string* out) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 1024) return false;
  std::string buf(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(buf.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return false;
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  if (text.size() >= 1 && text[text.size() - 1] == '=') --len;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --len;
  buf.resize(len);
  *out = std::move(buf);
  return true;
}

std::string Derive(std::string_view password, std::string_view salt, int64_t iterations) {
  std::string key(kKeyBytes, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        static_cast<int>(iterations), EVP_sha256(), static_cast<int>(key.size()),
                        reinterpret_cast<unsigned char*>(key.data())) != 1)
    return {};
  return key;
}

}  // namespace

Result<PasswordHash> ParsePasswordHash(std::string_view text, int64_t min_iterations) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (parts.size() < 5) {
    size_t end = text.find('$', start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (parts.size() != 4 || parts[0] != "pbkdf2-sha256")
    return Status::InvalidInput("cần dạng pbkdf2-sha256$<số vòng>$<muối base64>$<khóa base64> "
                                "(tạo bằng danvan-console-passwd)");
  PasswordHash h;
  auto [p, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), h.iterations);
  if (ec != std::errc() || p != parts[1].data() + parts[1].size() || h.iterations <= 0 ||
      h.iterations > 100000000)
    return Status::InvalidInput("số vòng PBKDF2 không hợp lệ");
  if (h.iterations < min_iterations)
    return Status::InvalidInput("số vòng PBKDF2 " + std::to_string(h.iterations) + " nhỏ hơn mức tối thiểu " +
                                std::to_string(min_iterations) + " (console.password_min_iterations)");
  if (!Unbase64(parts[2], &h.salt) || h.salt.size() < kSaltBytes)
    return Status::InvalidInput("muối phải là base64 của ít nhất 16 byte");
  if (!Unbase64(parts[3], &h.key) || h.key.size() != kKeyBytes)
    return Status::InvalidInput("khóa dẫn xuất phải là base64 của đúng 32 byte (SHA-256)");
  return h;
}

Result<std::string> HashPassword(std::string_view password, int64_t iterations) {
  if (iterations <= 0 || iterations > 100000000) return Status::InvalidInput("số vòng PBKDF2 không hợp lệ");
  std::string salt(kSaltBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size())) != 1)
    return Status::Internal("RAND_bytes thất bại");
  std::string key = Derive(password, salt, iterations);
  if (key.empty()) return Status::Internal("PKCS5_PBKDF2_HMAC thất bại");
  return "pbkdf2-sha256$" + std::to_string(iterations) + "$" + Base64(salt) + "$" + Base64(key);
}

bool VerifyPassword(std::string_view password, const PasswordHash& hash) {
  std::string key = Derive(password, hash.salt, hash.iterations);
  return key.size() == hash.key.size() && ConstantTimeEquals(key, hash.key);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string RandomHex(size_t n) {
  std::string raw(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(n)) != 1) return {};
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : md) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace danvan::console
