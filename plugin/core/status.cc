#include "core/status.h"

namespace danvan {

std::string Status::ToString() const {
  const char* name = "ok";
  switch (code_) {
    case Code::kOk: return "ok";
    case Code::kRetryLater: name = "retry_later"; break;
    case Code::kInvalidInput: name = "invalid_input"; break;
    case Code::kNotFound: name = "not_found"; break;
    case Code::kConflict: name = "conflict"; break;
    case Code::kIoError: name = "io_error"; break;
    case Code::kInternal: name = "internal"; break;
  }
  return std::string(name) + ": " + message_;
}

}  // namespace danvan
