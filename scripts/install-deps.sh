#!/usr/bin/env bash
# Installs the Debian 12 packages danvan needs to build, run and test. Idempotent.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config git ca-certificates
  libpoco-dev nlohmann-json3-dev libvalijson-dev libssl-dev openssl
  libsqlite3-dev sqlite3
  zlib1g-dev  # the packed unit scores of the score and report ops (plugin/scoring/packed_scores.cc)
  # The PostgreSQL storage engine (adapters/postgres, libpq) and the server its tests start
  # (scripts/pg-test-server.sh, ctest -L postgres).
  libpq-dev postgresql
  libutf8proc-dev libxlsxwriter-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  valgrind python3
  clang libclang-rt-14-dev  # sanitizer and libFuzzer stages (scripts/sanitize.sh)
  # Packaging (CPack .deb: dpkg-shlibdeps, objcopy) and the Java kit's test (tests/kits).
  dpkg-dev binutils file openjdk-17-jdk-headless libjna-java
)
# The admin console's real-browser test (tests/console/console_browser_test.py, ctest -L console)
# drives headless Chromium through chromedriver with Selenium.
if [ "${DANVAN_WITH_BROWSER:-1}" = 1 ]; then PKGS+=(chromium chromium-driver python3-selenium); fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
