#!/usr/bin/env python3
"""Installs the build into a temporary prefix (cmake --install) and runs the Python, C++ and
Java kits against that installed libdanvan.so, never the build tree's: the kits come from
<prefix>/share/danvan/kits, the data directories resolve from the installed library's location
(no schemas_dir/config_dir, no DANVAN_DATA_DIR), and each kit checks the library it loaded.
Also: `strings` on the installed library shows neither the source nor the build path, the
soname is the ABI major, and with --deb the .deb is built with CPack and its contents listed.

Usage: kits_test.py --build DIR --source DIR --workdir DIR [--deb] [--kits python,cpp,java]
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys

failures = []


def check(cond, message):
    if not cond:
        failures.append(message)
        print("FAIL: " + message, file=sys.stderr)


def run(cmd, **kw):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--deb", action="store_true")
    ap.add_argument("--kits", default="python,cpp,java")
    a = ap.parse_args()
    build, source = os.path.realpath(a.build), os.path.realpath(a.source)
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    prefix = os.path.join(a.workdir, "prefix")
    r = run(["cmake", "--install", build, "--prefix", prefix, "--component", "runtime"])
    if r.returncode != 0:
        print("install failed", file=sys.stderr)
        return 1
    libs = glob.glob(os.path.join(prefix, "lib*", "**", "libdanvan.so.*.*.*"), recursive=True)
    check(len(libs) == 1, f"installed library: {libs}")
    if not libs:
        return 1
    lib_real = libs[0]
    libdir = os.path.dirname(lib_real)
    lib = os.path.join(libdir, "libdanvan.so.1")
    check(os.path.islink(lib) and os.path.realpath(lib) == os.path.realpath(lib_real), "no soname link")
    dyn = run(["objdump", "-p", lib_real], capture_output=True, text=True).stdout
    check("SONAME               libdanvan.so.1" in dyn, "SONAME is not libdanvan.so.1")
    check(".debug_info" not in run(["objdump", "-h", lib_real], capture_output=True, text=True).stdout,
          "the installed library still has debug information")
    strings = run(["strings", "-a", lib_real], capture_output=True, text=True).stdout
    for root in {build, source, os.path.dirname(build)}:
        leaked = [s for s in strings.splitlines() if root in s]
        check(not leaked, f"build-machine path {root} in the installed library: {leaked[:3]}")
    share = os.path.join(prefix, "share", "danvan")
    for p in ("schemas/config.schema.json", "config/indicators.json", "kits/python/danvan.py",
              "kits/cpp/danvan.hpp", "kits/java/src"):
        check(os.path.exists(os.path.join(share, p)), f"not installed: share/danvan/{p}")
    check(os.path.exists(os.path.join(prefix, "include/danvan/danvan.h")), "header not installed")
    pcs = glob.glob(os.path.join(prefix, "lib*", "**", "pkgconfig", "danvan.pc"), recursive=True)
    check(len(pcs) == 1, "danvan.pc not installed")
    if pcs and shutil.which("pkg-config"):
        out = run(["pkg-config", "--cflags", "--libs", "danvan"], capture_output=True, text=True,
                  env=dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]))).stdout
        check(f"-I{os.path.realpath(prefix)}/include" in out.replace(os.path.dirname(pcs[0]) + "/../..",
                                                                     os.path.realpath(prefix)) or
              "/include" in out, f"pkg-config: {out}")

    # The kits run with a clean environment in a directory outside both trees.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANVAN_") and k != "LD_LIBRARY_PATH"}
    forbid = ["--forbid", build, "--forbid", source]
    gen = os.path.join(source, "tools/sample-gen/gen_sample.py")
    kits = a.kits.split(",")
    if "python" in kits:
        r = run([sys.executable, os.path.join(source, "tests/kits/python_kit_test.py"),
                 "--kit", os.path.join(share, "kits/python"), "--lib", lib,
                 "--workdir", os.path.join(a.workdir, "py"), "--sample-gen", gen] + forbid,
                env=env, cwd=a.workdir, timeout=600)
        check(r.returncode == 0, f"python kit test exit {r.returncode}")
    if "cpp" in kits:
        r = run(["bash", os.path.join(source, "tests/kits/cpp_kit_test.sh"), prefix, lib,
                 os.path.join(a.workdir, "cpp"), os.path.join(source, "tests/kits/cpp_kit_test.cc"),
                 build, source], env=env, cwd=a.workdir, timeout=900)
        check(r.returncode == 0, f"c++ kit test exit {r.returncode}")
    if "java" in kits:
        r = run(["bash", os.path.join(source, "tests/kits/java_kit_test.sh"), share, lib,
                 os.path.join(a.workdir, "java"), os.path.join(source, "tests/kits/KitTest.java"),
                 gen, build, source], env=env, cwd=a.workdir, timeout=900)
        check(r.returncode == 0, f"java kit test exit {r.returncode}")

    if a.deb:
        pkg = os.path.join(a.workdir, "pkg")
        r = run(["cpack", "-G", "DEB", "--config", os.path.join(build, "CPackConfig.cmake"), "-B", pkg],
                capture_output=True, text=True, timeout=900)
        print(r.stdout[-3000:], r.stderr[-3000:], file=sys.stderr)
        check(r.returncode == 0, "cpack failed")
        debs = sorted(glob.glob(os.path.join(pkg, "*.deb")))
        main_deb = [d for d in debs if os.path.basename(d).startswith("danvan_")]
        dbg_deb = [d for d in debs if os.path.basename(d).startswith("danvan-dbg_")]
        check(len(main_deb) == 1 and len(dbg_deb) == 1, f"packages: {debs}")
        if main_deb:
            listing = run(["dpkg-deb", "-c", main_deb[0]], capture_output=True, text=True).stdout
            print(listing)
            for p in ("./usr/include/danvan/danvan.h", "libdanvan.so.1.", "./usr/share/danvan/schemas/",
                      "pkgconfig/danvan.pc", "cmake/danvan/danvanConfig.cmake"):
                check(p in listing, f"{p} not in the .deb")
            depends = run(["dpkg-deb", "-f", main_deb[0], "Depends"], capture_output=True, text=True).stdout
            print("Depends:", depends)
            check("libc6" in depends and "libsqlite3" in depends and "libpoco" in depends,
                  f"Depends not computed from the binary: {depends}")
        if dbg_deb:
            listing = run(["dpkg-deb", "-c", dbg_deb[0]], capture_output=True, text=True).stdout
            check(".debug" in listing, "no debug file in the -dbg package")

    print(f"kits test: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
