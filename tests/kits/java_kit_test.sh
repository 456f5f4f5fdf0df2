#!/usr/bin/env bash
# Compiles the INSTALLED Java kit sources (share/danvan/kits/java) with javac against Debian's
# JNA, packs danvan-kit.jar, then compiles and runs KitTest.java against the installed library.
# Usage: SHARE LIB WORKDIR KIT_TEST_JAVA SAMPLE_GEN BUILD_DIR SOURCE_DIR
set -euo pipefail
share=$1 lib=$2 work=$3 test_java=$4 gen=$5 build=$6 source=$7
jna=/usr/share/java/jna.jar
rm -rf "$work" && mkdir -p "$work/classes" "$work/test"
javac --release 17 -d "$work/classes" -cp "$jna" $(find "$share/kits/java/src" -name '*.java')
jar --create --file "$work/danvan-kit.jar" -C "$work/classes" .
javac --release 17 -d "$work/test" -cp "$jna:$work/danvan-kit.jar" "$test_java"
python3 "$gen" --out "$work/sample.jsonl" --count-scale 0.05 >/dev/null
exec java -Djna.nosys=false -cp "$jna:$work/danvan-kit.jar:$work/test" KitTest "$lib" "$work" "$build" "$source"
