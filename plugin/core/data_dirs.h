// Where the plugin's shipped data (schemas/, config/) lies when the configuration does not
// name it. Order: the environment variable DANVAN_DATA_DIR (a directory holding schemas/ and
// config/), then the install layout relative to the loaded libdanvan.so itself (found with
// dladdr: <libdir>/<relative path to share/danvan>). No build-machine path is compiled in.
// Thread-safe (reads the environment and the file system only).
#pragma once

#include <string>

#include "core/status.h"

namespace danvan {

inline constexpr const char* kDataDirEnv = "DANVAN_DATA_DIR";

// The directory `name` ("schemas" or "config") of the data root, or InvalidInput saying every
// place that was tried (for the administrator: the config key, the variable, the paths).
Result<std::string> FindDataSubdir(const std::string& name, const std::string& config_key);

// The file system path of the binary (shared library or executable) this code is linked into;
// empty when unknown.
std::string LoadedBinaryPath();

}  // namespace danvan
