// Console passwords: PBKDF2-HMAC-SHA256 (OpenSSL PKCS5_PBKDF2_HMAC), salted, stored as
//   pbkdf2-sha256$<iterations>$<salt, base64>$<derived key, base64>
// (the layout of passlib's and Django's PBKDF2 strings). `danvan-console-passwd` makes one.
//
// Thread-safe: pure functions (OpenSSL's PBKDF2 and RAND_bytes are thread-safe).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace danvan::console {

struct PasswordHash {
  int64_t iterations = 0;
  std::string salt;  // raw bytes
  std::string key;   // raw bytes (the derived key)
};

// Parses a stored hash string. InvalidInput (naming what is wrong, never the value) when it
// is not of the form above, the salt is shorter than 16 bytes, the key is not 32 bytes, or
// iterations < min_iterations.
Result<PasswordHash> ParsePasswordHash(std::string_view text, int64_t min_iterations);

// A new hash string for `password`: 16 random bytes of salt (RAND_bytes), `iterations` rounds.
Result<std::string> HashPassword(std::string_view password, int64_t iterations);

// True when `password` derives to hash.key. The comparison is constant-time (CRYPTO_memcmp);
// the cost is the PBKDF2 rounds whatever the outcome.
bool VerifyPassword(std::string_view password, const PasswordHash& hash);

// Constant-time equality of two byte strings (the lengths are not secret).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// `n` random bytes from OpenSSL's CSPRNG, hex-encoded (2n characters); empty on failure.
std::string RandomHex(size_t n);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace danvan::console
