#!/usr/bin/env python3
"""Writes config/reports/bao-cao-nd30.docx: the Word template of the draft report, laid out as
an administrative document of Decree 30/2020/NĐ-CP (Appendix I: the national motto and slogan,
the issuing agency and its superior, the number and symbol, place and date, the kind and
excerpt, the body, "Nơi nhận" and the signer; Times New Roman 13–14 pt, A4, margins
20–25 mm top and bottom, 30–35 mm left, 15–20 mm right).

The template is an ordinary .docx: an administrator may open it in Word, change the layout, the
fonts and the fixed text, and keep the {{placeholders}} (each typed in one go, so Word keeps it
in one piece; the plugin also joins a placeholder Word split across runs). Placeholders:
  {{co_quan_chu_quan}} {{co_quan_ban_hanh}} {{so_ky_hieu}} {{dia_danh_ngay}} {{trich_yeu}}
  {{noi_dung}}  (a paragraph of its own: repeated for each paragraph of the report's summary)
  {{xep_hang}}  (a paragraph of its own: repeated for each unit of the ranking)
  {{noi_nhan}}  (a paragraph of its own: repeated for each addressee)
  {{chuc_vu_nguoi_ky}} {{nguoi_ky}}
Run: python3 tools/docx-template/make_template.py config/reports/bao-cao-nd30.docx
"""
import sys
import zipfile

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def run(text, bold=False, italic=False, size=28, caps=False):
    props = '<w:rFonts w:ascii="Times New Roman" w:hAnsi="Times New Roman" w:cs="Times New Roman"/>'
    if bold:
        props += "<w:b/>"
    if italic:
        props += "<w:i/>"
    if caps:
        props += "<w:caps/>"
    props += '<w:sz w:val="%d"/><w:szCs w:val="%d"/>' % (size, size)
    return '<w:r><w:rPr>%s</w:rPr><w:t xml:space="preserve">%s</w:t></w:r>' % (props, text)


def para(runs, align="left", indent=False, after=0):
    ppr = '<w:jc w:val="%s"/><w:spacing w:after="%d" w:line="276" w:lineRule="auto"/>' % (align, after)
    if indent:
        ppr += '<w:ind w:firstLine="720"/>'
    return "<w:p><w:pPr>%s</w:pPr>%s</w:p>" % (ppr, "".join(runs))


def cell(width, paras):
    return ('<w:tc><w:tcPr><w:tcW w:w="%d" w:type="dxa"/></w:tcPr>%s</w:tc>' % (width, "".join(paras)))


def table(cells):
    borders = "".join('<w:%s w:val="nil"/>' % b for b in ("top", "left", "bottom", "right", "insideH", "insideV"))
    return ('<w:tbl><w:tblPr><w:tblW w:w="9639" w:type="dxa"/><w:tblBorders>%s</w:tblBorders>'
            '<w:tblLayout w:type="fixed"/></w:tblPr><w:tblGrid><w:gridCol w:w="3969"/><w:gridCol w:w="5670"/>'
            '</w:tblGrid><w:tr>%s</w:tr></w:tbl>' % (borders, "".join(cells)))


def document():
    head = table([
        cell(3969, [para([run("{{co_quan_chu_quan}}", size=26, caps=True)], "center"),
                    para([run("{{co_quan_ban_hanh}}", bold=True, size=26, caps=True)], "center"),
                    para([run("________", size=26)], "center"),
                    para([run("Số: {{so_ky_hieu}}", size=26)], "center")]),
        cell(5670, [para([run("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, size=26)], "center"),
                    para([run("Độc lập - Tự do - Hạnh phúc", bold=True, size=28)], "center"),
                    para([run("________________________", size=26)], "center"),
                    para([run("{{dia_danh_ngay}}", italic=True, size=28)], "center")]),
    ])
    title = [para([run("BÁO CÁO", bold=True, size=28)], "center"),
             para([run("{{trich_yeu}}", bold=True, size=28)], "center", after=240)]
    body = [para([run("{{noi_dung}}")], "both", indent=True, after=120),
            para([run("Kết quả chấm điểm, xếp hạng các đơn vị:", bold=True)], "both", indent=True, after=120),
            para([run("{{xep_hang}}")], "both", indent=True, after=60)]
    sign = table([
        cell(3969, [para([run("Nơi nhận:", bold=True, italic=True, size=24)]),
                    para([run("{{noi_nhan}}", size=22)])]),
        cell(5670, [para([run("{{chuc_vu_nguoi_ky}}", bold=True, size=28, caps=True)], "center", after=1200),
                    para([run("{{nguoi_ky}}", bold=True, size=28)], "center")]),
    ])
    sect = ('<w:sectPr><w:pgSz w:w="11906" w:h="16838"/>'
            '<w:pgMar w:top="1134" w:right="1134" w:bottom="1134" w:left="1701" w:header="720" w:footer="720" w:gutter="0"/>'
            '</w:sectPr>')
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document %s><w:body>%s%s%s'
            '<w:p/>%s%s</w:body></w:document>' % (W, head, "".join(title), "".join(body), sign, sect))


CONTENT_TYPES = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                 '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                 '<Default Extension="xml" ContentType="application/xml"/>'
                 '<Override PartName="/word/document.xml" '
                 'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
                 '</Types>')
RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="word/document.xml"/></Relationships>')


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "config/reports/bao-cao-nd30.docx"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in (("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", RELS),
                           ("word/document.xml", document())):
            info = zipfile.ZipInfo(name, date_time=(2023, 1, 1, 0, 0, 0))  # reproducible bytes
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


if __name__ == "__main__":
    main()
