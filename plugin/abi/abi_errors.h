// The one error shape of the C ABI (docs/integration.md "Errors"). Every failing open,
// start, stop, submit, submit_batch and query call writes into *error_out:
//
//   {"status":"invalid_input",
//    "errors":[{"code":"schema.required","path":"/data/MaHoSo",
//               "message":"thiếu trường bắt buộc","message_en":"required field is missing"}]}
//
// and the per-event "errors" of submit results carry the same four fields. `code` is a stable
// machine code a host can switch on; `path` a JSON pointer into the input ("" when the error is
// not about one field); `message` Vietnamese for administrators; `message_en` English.
//
// Internal errors stay what they are (Status, FieldError); this module converts them at the
// boundary. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "danvan/danvan.h"

namespace danvan::abi {

struct AbiError {
  std::string code;
  std::string path;
  std::string message;     // Vietnamese
  std::string message_en;  // English
  nlohmann::json ToJson() const;
};

// The ABI status for an internal status code (the ABI and the console answer with the same).
danvan_status ToAbiStatus(Status::Code code);

// The stable error code for a status that carries none of its own ("input.invalid", ...).
std::string FallbackErrorCode(Status::Code code);

// The status's name, the one danvan_api.status_name gives ("invalid_input"...).
const char* StatusName(danvan_status status);

// {"status": <status_name>, "errors": [...]} as text.
std::string ErrorDocument(danvan_status status, const std::vector<AbiError>& errors);

// The errors a failed Status carries. Its message may be a JSON array of FieldError objects
// (a rejected event), "path: reason" lines (configuration, batch limits, op arguments) or plain
// text; `fallback_code` is used where no more specific code is known.
std::vector<AbiError> ErrorsFromStatus(const Status& status, const std::string& fallback_code);

// FieldError JSON objects ({"path","reason"[,"code"]}) -> AbiErrors; one error per field:
// when a field has a specific error (date.invalid) the generic schema one (schema.pattern) is
// dropped.
std::vector<AbiError> ErrorsFromFieldErrors(const nlohmann::json& errors);

// Rewrites every "errors" array of a submit/submit_batch result into the ABI shape (code,
// path, message, message_en; "reason" kept equal to message for hosts written against 1.0).
void NormalizeResultErrors(nlohmann::json& result);

// The code for a Vietnamese reason written without one (older producers).
std::string CodeForReason(const std::string& reason, const std::string& fallback_code);

// English text of a code ("" for an unknown code).
std::string EnglishFor(const std::string& code);

}  // namespace danvan::abi
