#!/usr/bin/env bash
# Builds tests/kits/cpp_kit_test.cc against the INSTALLED prefix with find_package(danvan) and
# the installed kit header, then runs it. Usage: PREFIX LIB WORKDIR TEST_CC BUILD_DIR SOURCE_DIR
set -euo pipefail
prefix=$1 lib=$2 work=$3 test_cc=$4 build=$5 source=$6
rm -rf "$work" && mkdir -p "$work/proj"
cp "$test_cc" "$work/proj/kit_test.cc"
cat > "$work/proj/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.22)
project(kit_test CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(danvan 0.1 REQUIRED)
find_package(Threads REQUIRED)
add_executable(kit_test kit_test.cc)
target_include_directories(kit_test PRIVATE \${danvan_DATA_DIR}/kits/cpp)
target_link_libraries(kit_test PRIVATE danvan::danvan Threads::Threads \${CMAKE_DL_LIBS})
CM
cmake -S "$work/proj" -B "$work/b" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/b" -j2 >/dev/null
python3 "$source/tools/sample-gen/gen_sample.py" --out "$work/sample.jsonl" --count-scale 0.05 >/dev/null
exec "$work/b/kit_test" "$lib" "$work" "$build" "$source"
