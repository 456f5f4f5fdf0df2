#include "core/data_dirs.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

#ifndef DANVAN_LIB_TO_DATA
#define DANVAN_LIB_TO_DATA "../share/danvan"
#endif

namespace danvan {
namespace fs = std::filesystem;

std::string LoadedBinaryPath() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&LoadedBinaryPath), &info) == 0 || !info.dli_fname)
    return "";
  std::error_code ec;
  fs::path p = fs::canonical(info.dli_fname, ec);
  return ec ? std::string(info.dli_fname) : p.string();
}

Result<std::string> FindDataSubdir(const std::string& name, const std::string& config_key) {
  std::string tried = "không tìm thấy thư mục " + name + " (" + name + " directory not found); đã thử: cấu hình " +
                      config_key + " (không đặt)";
  std::error_code ec;
  if (const char* env = std::getenv(kDataDirEnv); env && *env) {
    fs::path p = fs::path(env) / name;
    if (fs::is_directory(p, ec)) return p.lexically_normal().string();
    tried += "; biến môi trường " + std::string(kDataDirEnv) + ": " + p.string() + " không tồn tại";
  } else {
    tried += "; biến môi trường " + std::string(kDataDirEnv) + " (không đặt)";
  }
  const std::string self = LoadedBinaryPath();
  if (!self.empty()) {
    fs::path p = (fs::path(self).parent_path() / DANVAN_LIB_TO_DATA / name).lexically_normal();
    if (fs::is_directory(p, ec)) return p.string();
    tried += "; cạnh thư viện " + self + ": " + p.string() + " không tồn tại";
  } else {
    tried += "; vị trí của thư viện (dladdr) không xác định";
  }
  return Status::InvalidInput(tried);
}

}  // namespace danvan
