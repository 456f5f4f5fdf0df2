#!/usr/bin/env python3
"""Reads the sheet XML of an .xlsx (standard library only) and prints, as JSON:
{"formulas": ["Sheet!A1", ...],            every cell holding an <f> formula element
 "strings": ["text", ...],                 the text of every string cell (shared or inline)
 "numbers": [1.0, ...]}                    every numeric cell value
Used by tests/report_ops/report_injection_test.cc: record text must be strings, never formulas."""
import json
import sys
import xml.etree.ElementTree as ET
import zipfile

M = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS = {"m": M}


def main(path):
    z = zipfile.ZipFile(path)
    shared = []
    if "xl/sharedStrings.xml" in z.namelist():
        for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", NS):
            shared.append("".join(t.text or "" for t in si.iter("{%s}t" % M)))
    out = {"formulas": [], "strings": [], "numbers": []}
    for name in sorted(n for n in z.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")):
        for c in ET.fromstring(z.read(name)).iter("{%s}c" % M):
            if c.find("m:f", NS) is not None:
                out["formulas"].append(name + "!" + c.get("r"))
            t = c.get("t")
            v = c.find("m:v", NS)
            if t == "s":
                out["strings"].append(shared[int(v.text)])
            elif t in ("inlineStr", "str"):
                out["strings"].append("".join(x.text or "" for x in c.iter("{%s}t" % M)))
            elif v is not None:
                out["numbers"].append(float(v.text))
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])
