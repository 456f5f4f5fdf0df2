#!/usr/bin/env python3
"""Reads an .xlsx with the standard library only and prints its cells as JSON:
{"sheets": [{"name": "...", "cells": {"A1": "text" | number}}], "core": "<docProps/core.xml>"}.
Used by tests/reports/reports_test.cc to check what libxlsxwriter wrote."""
import json
import sys
import xml.etree.ElementTree as ET
import zipfile

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
      "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}


def main(path):
    z = zipfile.ZipFile(path)
    shared = []
    if "xl/sharedStrings.xml" in z.namelist():
        root = ET.fromstring(z.read("xl/sharedStrings.xml"))
        for si in root.findall("m:si", NS):
            shared.append("".join(t.text or "" for t in si.iter("{%s}t" % NS["m"])))
    wb = ET.fromstring(z.read("xl/workbook.xml"))
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target") for r in rels}
    out = {"sheets": [], "core": z.read("docProps/core.xml").decode("utf-8")}
    for s in wb.find("m:sheets", NS):
        rid = s.get("{%s}id" % NS["r"])
        sheet = ET.fromstring(z.read("xl/" + target[rid]))
        cells = {}
        for c in sheet.iter("{%s}c" % NS["m"]):
            t = c.get("t")
            v = c.find("m:v", NS)
            if t == "s":
                cells[c.get("r")] = shared[int(v.text)]
            elif t == "inlineStr":
                cells[c.get("r")] = "".join(x.text or "" for x in c.iter("{%s}t" % NS["m"]))
            elif v is not None:
                cells[c.get("r")] = float(v.text)
        out["sheets"].append({"name": s.get("name"), "cells": cells})
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main(sys.argv[1])
