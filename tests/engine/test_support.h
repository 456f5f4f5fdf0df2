// Helpers for engine tests: a temporary directory and an engine on a real SQLite file.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/engine.h"

namespace danvan::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string ConfigFor(const std::filesystem::path& db, nlohmann::json extra = nlohmann::json::object());
std::unique_ptr<Engine> OpenEngine(const std::string& config_text,
                                   std::shared_ptr<Clock> clock = nullptr);

// A realistic dossier event (portal item) for tests.
nlohmann::json DossierEvent(const std::string& id, int version, const std::string& status,
                            const std::string& unit = "SGDDT.VP");
nlohmann::json PetitionEvent(const std::string& id, int version, const std::string& status,
                             const std::string& unit = "SGDDT.TTRA");

}  // namespace danvan::testing
