#!/usr/bin/env python3
"""Sample record events for danvan: Hai Phong's Department of Education and Training, 2023.

Writes JSON Lines (one record event per line, see docs/architecture.md "The record event") and
a manifest (JSON) with what a correct engine must report for the file: events accepted per kind
and per unit, duplicates, stale versions and rejected events by category.

Deterministic: the same --seed and --count-scale give byte-identical output. Standard library
only. Memory stays bounded at ~1M events (events are bucketed by month in temporary files, then
each month is sorted by delivery time).

Records (all fake but plausible; units from config/units/haiphong-sgddt.json):
  dossier    portal dossier items (DongBoHoSoMC), one version per status change, and portal
             progress items (CapNhatTienDoHoSoMC), same key (id = MaHoSo), one per transition
  petition   complaints (rounds 1 and 2), denunciations, petitions, feedback, feedback on
             regulations; group, anonymous, re-raised, complex, late ones
  reception  the Director's monthly sessions (two months missed), deputies, staff, ad-hoc
  dvk_model  "Dân vận khéo" models and exemplars, registered then recognised (ordered by
             updated_at instead of version)
  plan_task  the ten tasks of the seed plan, with quarterly progress
and ~3% bad events: missing required fields, wrong types, bad formats, unknown fields,
invalid UTF-8, oversize fields and events, unknown kinds, malformed JSON, duplicates (the
latest version re-sent) and stale versions (a held-back older version delivered after a newer).
"""

import argparse
import datetime as dt
import json
import os
import random
import shutil
import sys
import tempfile
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DEFAULT_UNITS = os.path.join(ROOT, "config", "units", "haiphong-sgddt.json")

VN = dt.timezone(dt.timedelta(hours=7))
YEAR = 2023
YEAR_START = dt.datetime(YEAR, 1, 1, tzinfo=VN)
# Events after this instant are not produced: records still open at the end of 2023 stay open.
CUTOFF = dt.datetime(YEAR, 12, 31, 23, 59, 59, tzinfo=VN)

SRC_ONESTOP = "motcua-sgddt"  # the department's one-stop system
SRC_PAKN = "pakn-dvcqg"        # petitions arriving through the national portal (PAKN)
SRC_DVK = "thidua-sgddt"       # the department's emulation-movement register (updated_at ordering)
PLAN_ID = "KH-DV-2023-SGDDT"

# Non-working days of 2023 (Labour Code 2019 art. 112 and the government's 2023 notice:
# Tết 20-26/01, Hùng Kings + 30/4 + 1/5 moved to 29/4-03/5, National Day 01-04/09).
HOLIDAYS_2023 = {
    dt.date(2023, 1, 2),
    *[dt.date(2023, 1, d) for d in range(20, 27)],
    *[dt.date(2023, 4, 29), dt.date(2023, 4, 30), dt.date(2023, 5, 1), dt.date(2023, 5, 2),
      dt.date(2023, 5, 3)],
    *[dt.date(2023, 9, d) for d in range(1, 5)],
    dt.date(2024, 1, 1),
}

# ---------------------------------------------------------------------------------------------
# Calendar helpers


def is_working(day):
    return day.weekday() < 5 and day not in HOLIDAYS_2023


def next_working(day):
    while not is_working(day):
        day += dt.timedelta(days=1)
    return day


def add_working_days(t, n):
    """t (aware datetime) + n working days, keeping the time of day."""
    day = t.date()
    while n > 0:
        day += dt.timedelta(days=1)
        if is_working(day):
            n -= 1
    return dt.datetime.combine(day, t.timetz())


def office_time(rng, day, start_h=7.5, end_h=17.0):
    """A random time within office hours (7:30-11:30, 13:30-17:00) on day."""
    while True:
        h = rng.uniform(start_h, end_h)
        if not (11.5 <= h < 13.5):
            break
    minutes = int(h * 60)
    return dt.datetime(day.year, day.month, day.day, minutes // 60, minutes % 60,
                       rng.randrange(60), tzinfo=VN)


def after_working(rng, t, min_wd, max_wd):
    """An office-hours instant min_wd..max_wd working days after t (strictly after t)."""
    n = rng.randint(min_wd, max_wd)
    day = add_working_days(t, n).date() if n > 0 else t.date()
    if n == 0:
        cand = office_time(rng, day, start_h=min(t.hour + t.minute / 60 + 0.25, 16.9))
        if cand > t:
            return cand
        day = add_working_days(t, 1).date()
    return office_time(rng, day)


def portal_time(t):
    return t.strftime("%Y%m%d%H%M%S") if t else ""


def iso(t):
    return t.isoformat(timespec="seconds")


def iso_date(t):
    return t.date().isoformat() if isinstance(t, dt.datetime) else t.isoformat()


def random_working_day(rng, start, end):
    span = (end - start).days
    while True:
        d = start + dt.timedelta(days=rng.randrange(span + 1))
        if is_working(d):
            return d


def fold_ascii(text):
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text)
                   if unicodedata.category(c) != "Mn")


# ---------------------------------------------------------------------------------------------
# People

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
          "Dương", "Lý", "Đào", "Đinh", "Mai", "Trịnh", "Phan", "Lương", "Tô", "Nguyễn", "Trần",
          "Phạm", "Vũ"]
MIDDLE_M = ["Văn", "Đức", "Minh", "Quang", "Hữu", "Thanh", "Xuân", "Công", "Hải", "Tiến"]
MIDDLE_F = ["Thị", "Thu", "Ngọc", "Hồng", "Thanh", "Phương", "Minh", "Thùy", "Bích", "Kim"]
GIVEN_M = ["An", "Bình", "Cường", "Dũng", "Hùng", "Hiếu", "Khánh", "Long", "Nam", "Phong",
           "Quân", "Sơn", "Thắng", "Tuấn", "Trung", "Việt", "Đạt", "Hưng", "Toàn", "Kiên"]
GIVEN_F = ["Anh", "Giang", "Hà", "Hạnh", "Hoa", "Huyền", "Lan", "Linh", "Mai", "Nga", "Ngân",
           "Phương", "Quỳnh", "Tâm", "Thảo", "Trang", "Vân", "Yến", "Hằng", "Thủy"]
STREETS = ["Lạch Tray", "Trần Nguyên Hãn", "Tô Hiệu", "Lê Lợi", "Điện Biên Phủ", "Cầu Đất",
           "Văn Cao", "Nguyễn Văn Linh", "Lê Thánh Tông", "Hai Bà Trưng", "Trần Phú", "Đà Nẵng",
           "Thiên Lôi", "Chợ Hàng", "Hùng Vương", "Lê Hồng Phong", "Nguyễn Đức Cảnh",
           "Tôn Đức Thắng", "Miếu Hai Xã", "Ngô Quyền"]
WARDS = [("Lạch Tray", "Ngô Quyền"), ("Cầu Đất", "Ngô Quyền"), ("Đằng Giang", "Ngô Quyền"),
         ("Trại Cau", "Lê Chân"), ("An Biên", "Lê Chân"), ("Dư Hàng Kênh", "Lê Chân"),
         ("Hoàng Văn Thụ", "Hồng Bàng"), ("Sở Dầu", "Hồng Bàng"), ("Đằng Lâm", "Hải An"),
         ("Cát Bi", "Hải An"), ("Bắc Sơn", "Kiến An"), ("Văn Đẩu", "Kiến An"),
         ("Vạn Sơn", "Đồ Sơn"), ("Hùng Vương", "Hồng Bàng")]
COMMUNES = [("An Đồng", "An Dương"), ("Lê Thiện", "An Dương"), ("Trường Sơn", "An Lão"),
            ("Thủy Sơn", "Thủy Nguyên"), ("Kỳ Sơn", "Thủy Nguyên"), ("Tân Trào", "Kiến Thụy"),
            ("Quyết Tiến", "Tiên Lãng"), ("Trung Lập", "Vĩnh Bảo"), ("Cát Bà", "Cát Hải")]


class Person:
    __slots__ = ("name", "female", "cccd", "phone", "email", "address", "birth_year")


def make_person(rng, min_age=18, max_age=65):
    p = Person()
    p.female = rng.random() < 0.55
    mid = rng.choice(MIDDLE_F if p.female else MIDDLE_M)
    given = rng.choice(GIVEN_F if p.female else GIVEN_M)
    p.name = f"{rng.choice(FAMILY)} {mid} {given}"
    p.birth_year = YEAR - rng.randint(min_age, max_age)
    century_digit = (0 if p.birth_year < 2000 else 2) + (1 if p.female else 0)
    # CCCD: 3-digit province of birth (031 Hai Phong, sometimes a neighbour), gender/century
    # digit, 2-digit birth year, 6 digits.
    prov = rng.choice(["031"] * 8 + ["030", "034", "022", "001"])
    p.cccd = f"{prov}{century_digit}{p.birth_year % 100:02d}{rng.randrange(10**6):06d}"
    p.phone = rng.choice(["09", "03", "08", "07"]) + f"{rng.randrange(10**8):08d}"
    local = fold_ascii(p.name).lower().replace(" ", rng.choice(["", ".", "_"]))
    p.email = f"{local}{rng.randrange(100) if rng.random() < 0.6 else ''}@" + rng.choice(
        ["gmail.com"] * 6 + ["yahoo.com", "outlook.com", "haiphong.edu.vn"])
    if rng.random() < 0.65:
        w, dq = rng.choice(WARDS)
        p.address = f"Số {rng.randint(1, 350)} {rng.choice(STREETS)}, phường {w}, quận {dq}, Hải Phòng"
    else:
        c, h = rng.choice(COMMUNES)
        p.address = f"Thôn {rng.randint(1, 12)}, xã {c}, huyện {h}, Hải Phòng"
    return p


def staff_name(rng):
    p = make_person(rng, 25, 58)
    return p.name


# ---------------------------------------------------------------------------------------------
# Procedures (education field; national-style MaTTHC codes)

PROCEDURES = [
    # code, name, field code, field name, processing working days, fee (VND), unit key, weight,
    # applicant kind ("1" citizen, "2" business, "4" organisation), paper result
    dict(code="1.005090", name="Cấp bản sao văn bằng, chứng chỉ từ sổ gốc", field="G09-VB",
         field_name="Văn bằng, chứng chỉ", days=2, fee=0, unit="QLCL", weight=30, who="1"),
    dict(code="1.005092", name="Chỉnh sửa nội dung văn bằng, chứng chỉ", field="G09-VB",
         field_name="Văn bằng, chứng chỉ", days=5, fee=0, unit="QLCL", weight=10, who="1"),
    dict(code="1.005087",
         name="Công nhận văn bằng tốt nghiệp các cấp học phổ thông do cơ sở giáo dục nước ngoài cấp",
         field="G09-VB", field_name="Văn bằng, chứng chỉ", days=20, fee=0, unit="QLCL", weight=3,
         who="1"),
    dict(code="1.005093", name="Phúc khảo bài thi tốt nghiệp trung học phổ thông", field="G09-KT",
         field_name="Thi, tuyển sinh", days=15, fee=30000, unit="QLCL", weight=8, who="1",
         months=(7, 8)),
    dict(code="1.005094", name="Chuyển trường đối với học sinh trung học phổ thông",
         field="G09-GDTrH", field_name="Giáo dục trung học", days=3, fee=0, unit="SCHOOL",
         weight=18, who="1", months=(6, 7, 8, 9, 1)),
    dict(code="1.005095", name="Xin học lại tại trường khác đối với học sinh trung học",
         field="G09-GDTrH", field_name="Giáo dục trung học", days=3, fee=0, unit="SCHOOL",
         weight=4, who="1", months=(7, 8, 9)),
    dict(code="1.005088", name="Cấp giấy phép tổ chức hoạt động dạy thêm, học thêm ngoài nhà trường",
         field="G09-GDTrH", field_name="Giáo dục trung học", days=10, fee=0, unit="GDTRH",
         weight=9, who="1"),
    dict(code="1.005085", name="Cho phép trung tâm ngoại ngữ, tin học hoạt động giáo dục",
         field="G09-GDTX", field_name="Giáo dục thường xuyên", days=20, fee=0, unit="GDNNTX",
         weight=4, who="2"),
    dict(code="1.005086", name="Thành lập trung tâm ngoại ngữ, tin học", field="G09-GDTX",
         field_name="Giáo dục thường xuyên", days=20, fee=0, unit="GDNNTX", weight=3, who="2"),
    dict(code="1.005097", name="Cấp giấy chứng nhận đăng ký hoạt động dịch vụ tư vấn du học",
         field="G09-GDTX", field_name="Giáo dục thường xuyên", days=15, fee=1000000,
         unit="GDNNTX", weight=2, who="2"),
    dict(code="1.005098",
         name="Cho phép hoạt động giáo dục kỹ năng sống và hoạt động giáo dục ngoài giờ chính khóa",
         field="G09-GDTX", field_name="Giáo dục thường xuyên", days=15, fee=0, unit="GDNNTX",
         weight=3, who="2"),
    dict(code="1.005099", name="Công nhận trường trung học đạt chuẩn quốc gia", field="G09-KD",
         field_name="Kiểm định chất lượng giáo dục", days=20, fee=0, unit="QLCL", weight=1,
         who="4"),
    dict(code="1.005101", name="Đăng ký dự thi cấp chứng chỉ ứng dụng công nghệ thông tin",
         field="G09-KT", field_name="Thi, tuyển sinh", days=5, fee=400000, unit="GDNNTX",
         weight=6, who="1"),
    dict(code="1.005103", name="Miễn, giảm học phí, hỗ trợ chi phí học tập đối với học sinh",
         field="G09-GDTrH", field_name="Giáo dục trung học", days=10, fee=0, unit="SCHOOL",
         weight=6, who="1", months=(9, 10)),
]

COMPONENTS = {
    "1.005090": ["Đơn đề nghị cấp bản sao văn bằng, chứng chỉ", "Bản sao Căn cước công dân"],
    "1.005092": ["Đơn đề nghị chỉnh sửa nội dung văn bằng", "Bản chính văn bằng đề nghị chỉnh sửa",
                 "Trích lục khai sinh / quyết định thay đổi hộ tịch"],
    "1.005087": ["Đơn đề nghị công nhận văn bằng", "Bản sao văn bằng nước ngoài",
                 "Bản dịch công chứng văn bằng", "Bảng điểm"],
    "1.005093": ["Đơn phúc khảo bài thi"],
    "1.005094": ["Đơn xin chuyển trường của cha mẹ học sinh", "Học bạ bản chính",
                 "Giấy giới thiệu chuyển trường", "Bản sao giấy khai sinh"],
    "1.005095": ["Đơn xin học lại", "Học bạ", "Bản sao bằng tốt nghiệp THCS"],
    "1.005088": ["Đơn đề nghị cấp giấy phép dạy thêm", "Danh sách người dạy thêm",
                 "Kế hoạch tổ chức dạy thêm, học thêm", "Giấy tờ chứng minh cơ sở vật chất"],
    "1.005085": ["Tờ trình đề nghị cho phép hoạt động giáo dục", "Quyết định thành lập trung tâm",
                 "Danh sách giáo viên kèm hồ sơ", "Chương trình giảng dạy"],
    "1.005086": ["Tờ trình thành lập trung tâm", "Đề án thành lập trung tâm",
                 "Giấy chứng nhận quyền sử dụng đất / hợp đồng thuê trụ sở"],
    "1.005097": ["Văn bản đề nghị cấp giấy chứng nhận", "Giấy chứng nhận đăng ký doanh nghiệp",
                 "Danh sách nhân viên tư vấn du học kèm chứng chỉ"],
    "1.005098": ["Tờ trình đề nghị cho phép", "Chương trình giáo dục kỹ năng sống",
                 "Danh sách báo cáo viên"],
    "1.005099": ["Tờ trình đề nghị công nhận", "Báo cáo tự đánh giá", "Biên bản kiểm tra"],
    "1.005101": ["Phiếu đăng ký dự thi", "Ảnh 4x6", "Bản sao Căn cước công dân"],
    "1.005103": ["Đơn đề nghị miễn, giảm học phí", "Giấy xác nhận hộ nghèo / cận nghèo"],
}

RESULT_DOC = {
    "1.005090": "Bản sao văn bằng, chứng chỉ",
    "1.005092": "Quyết định chỉnh sửa văn bằng",
    "1.005087": "Giấy công nhận văn bằng",
    "1.005093": "Thông báo kết quả phúc khảo",
    "1.005094": "Quyết định tiếp nhận học sinh chuyển trường",
    "1.005095": "Giấy chấp thuận học lại",
    "1.005088": "Giấy phép tổ chức hoạt động dạy thêm, học thêm",
    "1.005085": "Quyết định cho phép hoạt động giáo dục",
    "1.005086": "Quyết định thành lập trung tâm",
    "1.005097": "Giấy chứng nhận đăng ký hoạt động tư vấn du học",
    "1.005098": "Quyết định cho phép hoạt động giáo dục kỹ năng sống",
    "1.005099": "Quyết định công nhận trường đạt chuẩn quốc gia",
    "1.005101": "Giấy báo dự thi",
    "1.005103": "Quyết định miễn, giảm học phí",
}

ORG_NAMES = ["Công ty TNHH Giáo dục Ánh Dương", "Công ty Cổ phần Anh ngữ Sao Biển",
             "Trung tâm Ngoại ngữ – Tin học Hải Âu", "Công ty TNHH Tư vấn du học Bến Cảng",
             "Công ty TNHH Kỹ năng sống Mầm Xanh", "Trung tâm Ngoại ngữ Đông Á",
             "Công ty Cổ phần Giáo dục Hải Thành", "Trung tâm Tin học Bạch Đằng"]

STATUS_TEXT = {
    "1": "Hồ sơ mới nộp trực tuyến",
    "2": "Tiếp nhận hồ sơ, chuyển phòng chuyên môn",
    "3": "Từ chối tiếp nhận: hồ sơ không thuộc thẩm quyền hoặc không hợp lệ",
    "4": "Thụ lý, thẩm định hồ sơ",
    "5": "Yêu cầu bổ sung, hoàn thiện hồ sơ",
    "6": "Yêu cầu thực hiện nghĩa vụ tài chính",
    "7": "Công dân rút hồ sơ",
    "8": "Dừng xử lý hồ sơ",
    "9": "Đã xử lý xong, chờ trả kết quả",
    "10": "Đã trả kết quả cho công dân",
}

SUPPLEMENT_REASONS = [
    "Bổ sung bản sao Căn cước công dân còn hiệu lực",
    "Đơn đề nghị chưa có chữ ký của người đề nghị",
    "Bổ sung trích lục khai sinh để đối chiếu thông tin",
    "Thông tin họ tên trong đơn không khớp với sổ gốc, đề nghị bổ sung giấy tờ chứng minh",
    "Bổ sung danh sách giáo viên kèm văn bằng chuyên môn",
    "Giấy tờ chứng minh trụ sở chưa công chứng",
]

# ---------------------------------------------------------------------------------------------
# Output: events bucketed by delivery month in temporary files, then sorted per month.


class Writer:
    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.files = {}
        self.seq = 0
        self.good = 0
        self.bad = 0

    def emit(self, deliver_at, line):
        """line: bytes (one JSON object, no newline). deliver_at: aware datetime (delivery order)."""
        assert b"\n" not in line
        key = deliver_at.strftime("%Y%m")
        f = self.files.get(key)
        if f is None:
            f = open(os.path.join(self.tmpdir, key), "wb")
            self.files[key] = f
        self.seq += 1
        f.write(b"%d\t%d\t" % (int(deliver_at.timestamp()), self.seq) + line + b"\n")

    def finish(self, out):
        for f in self.files.values():
            f.close()
        n = 0
        for key in sorted(self.files):
            rows = []
            with open(os.path.join(self.tmpdir, key), "rb") as f:
                for raw in f:
                    ts, seq, line = raw.rstrip(b"\n").split(b"\t", 2)
                    rows.append((int(ts), int(seq), line))
            rows.sort()
            for _, _, line in rows:
                out.write(line + b"\n")
                n += 1
        return n


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Generator:
    def __init__(self, seed, scale, units_doc):
        self.rng = random.Random(seed)
        self.scale = scale
        self.units = {u["code"]: u for u in units_doc["units"]}
        self.root = next(u["code"] for u in units_doc["units"] if u["parent"] is None)
        self.expect_kind = {}
        self.expect_unit = {}
        self.expect_dup = 0
        self.expect_stale = 0
        self.expect_rejected = {}
        self.counts = {"records": {}}
        self.writer = None
        # Bookkeeping for duplicates/stale: records whose last version may be re-sent.
        self.dossier_seq = {}
        self.petition_seq = 0
        self.reception_seq = 0
        self.dvk_seq = 0
        self.recent_petitions = []  # (id, received, kind, title, content) for re-raised petitions

    # -- unit helpers
    def unit_valid(self, code, day):
        u = self.units[code]
        d = day.isoformat()
        return u["valid_from"] <= d and (u["valid_to"] is None or d <= u["valid_to"])

    def units_of_type(self, typ, day=None):
        out = [c for c, u in self.units.items() if u.get("type") == typ]
        if day is not None:
            out = [c for c in out if self.unit_valid(c, day)]
        return out

    def unit_code(self, suffix):
        return f"{self.root}.{suffix}"

    def pick_school(self, day):
        return self.rng.choice(self.units_of_type("school", day))

    def pick_school_or_centre(self, day):
        """A school or centre valid on day and for the ~5 months its record keeps changing."""
        until = min(day + dt.timedelta(days=150), dt.date(YEAR, 12, 31))
        pool = [c for c in self.units_of_type("school") * 2 + self.units_of_type("centre")
                if self.unit_valid(c, day) and self.unit_valid(c, until)]
        return self.rng.choice(pool)

    # -- emission with expectations
    def emit_good(self, event, deliver_at=None):
        line = dumps(event)
        self.writer.emit(deliver_at or self._event_dt(event), line)
        self.writer.good += 1
        k = event["kind"]
        self.expect_kind[k] = self.expect_kind.get(k, 0) + 1
        u = event["unit"]
        self.expect_unit[u] = self.expect_unit.get(u, 0) + 1
        return line

    def emit_raw_bad(self, deliver_at, line, category):
        self.writer.emit(deliver_at, line)
        self.writer.bad += 1
        self.expect_rejected[category] = self.expect_rejected.get(category, 0) + 1

    def emit_duplicate(self, deliver_at, line):
        self.writer.emit(deliver_at, line)
        self.expect_dup += 1

    def emit_stale(self, deliver_at, line):
        self.writer.emit(deliver_at, line)
        self.expect_stale += 1

    @staticmethod
    def _event_dt(event):
        return dt.datetime.fromisoformat(event["event_time"])

    def count_record(self, kind):
        self.counts["records"][kind] = self.counts["records"].get(kind, 0) + 1

    # =========================================================================================
    # Dossiers

    def make_dossier_id(self, received):
        key = received.strftime("%y%m%d")
        n = self.dossier_seq.get(key, 0) + 1
        self.dossier_seq[key] = n
        # Agency code of the department on the portal (illustrative) + date + daily sequence.
        return f"000.20.31.H31-{key}-{n:04d}"

    def pick_procedure(self, rng):
        weights = [p["weight"] for p in PROCEDURES]
        return rng.choices(PROCEDURES, weights=weights)[0]

    def dossier_day(self, rng, proc):
        months = proc.get("months")
        while True:
            if months and rng.random() < 0.8:
                m = rng.choice(months)
                start = dt.date(YEAR, m, 1)
                end = (dt.date(YEAR, m + 1, 1) if m < 12 else dt.date(YEAR + 1, 1, 1)) - dt.timedelta(days=1)
                d = random_working_day(rng, start, end)
            else:
                d = random_working_day(rng, dt.date(YEAR, 1, 3), dt.date(YEAR, 12, 29))
            return d

    def gen_dossier(self, plans):
        rng = self.rng
        proc = self.pick_procedure(rng)
        day = self.dossier_day(rng, proc)
        if proc["unit"] == "SCHOOL":
            unit = self.pick_school(day)
        else:
            unit = self.unit_code(proc["unit"])
        unit_name = self.units[unit]["name"]
        channel = rng.choices(["2", "1", "3"], weights=[72, 24, 4])[0]
        submitted = office_time(rng, day) if channel != "2" else dt.datetime(
            day.year, day.month, day.day, rng.randrange(6, 23), rng.randrange(60), rng.randrange(60),
            tzinfo=VN)
        who = proc["who"]
        person = make_person(rng, 16 if proc["unit"] == "SCHOOL" else 18, 60)
        if who == "1":
            applicant = person.name
        else:
            applicant = rng.choice(ORG_NAMES)
        fee = proc["fee"]
        ma = self.make_dossier_id(day)
        files = []
        for i, comp in enumerate(COMPONENTS[proc["code"]]):
            if i > 0 and rng.random() < 0.15:
                continue
            digitised = rng.random() < (0.8 if channel == "2" else 0.45)
            fid = f"{rng.getrandbits(64):016x}"
            files.append({
                "TepDinhKemId": fid,
                "TenTepDinhKem": f"{fold_ascii(comp).replace(' ', '_').replace('/', '-')[:60]}.pdf",
                "MaThanhPhanHoSo": f"{proc['code']}.TP{i + 1}",
                "DuongDanTaiTepTin": f"https://dichvucong.haiphong.gov.vn/files/{ma}/{fid}.pdf",
                "IsDeleted": "0",
                "DuocSoHoa": "1" if digitised else "0",
                "DuocTaiSuDung": "1" if digitised and rng.random() < 0.35 else "0",
                "DuocLayTuKhoDMQG": "1" if digitised and rng.random() < 0.2 else "0",
            })
        item = {
            "MaHoSo": ma,
            "MaTTHC": proc["code"],
            "TenTTHC": proc["name"],
            "MaLinhVuc": proc["field"],
            "TenLinhVuc": proc["field_name"],
            "KenhThucHien": channel,
            "ChuHoSo": applicant,
            "SoGiayToChuHoSo": person.cccd,
            "LoaiDoiTuong": who,
            "MaDoiTuong": f"{rng.randrange(10**9):09d}" if channel == "2" else "",
            "Email": person.email,
            "Fax": "",
            "SoDienThoai": person.phone,
            "ThongTinKhac": person.address,
            "TrichYeuHoSo": f"{proc['name']} – {applicant}",
            "NgayTiepNhan": "",
            "NgayHenTra": "",
            "TrangThaiHoSo": "1",
            "NgayKetThucXuLy": "",
            "NgayTra": "",
            "ThongTinTra": "",
            "HinhThuc": "",
            "DonViXuLy": unit_name,
            "GhiChu": "",
            "TaiLieuNop": files,
            "DanhSachLePhi": [],
            "DanhSachHoSoBoSung": [],
            "DanhSachGiayToKetQua": [],
            "HoSoCoThanhPhanSoHoa": "1" if any(f["DuocSoHoa"] == "1" for f in files) else "0",
            "TaiKhoanDuocXacThucVoiVNeID": "1" if channel == "2" and rng.random() < 0.62 else "0",
            "DuocThanhToanTrucTuyen": "0",
            "DinhDanhCHS": [{"LoaiDinhDanh": "1", "SoDinhDanh": person.cccd}],
            "DaDongBoCongQuocGia": "0",
        }
        if who != "1":
            item["LoaiDoiTuong"] = who
        if fee:
            item["DanhSachLePhi"] = [{
                "TenPhiLePhi": f"Lệ phí {proc['name'][0].lower()}{proc['name'][1:]}",
                "MaPhiLePhi": f"LP-{proc['code']}",
                "HinhThucThu": "2" if channel == "2" else "1",
                "Gia": str(fee),
                "LoaiPhiLePhi": "1",
            }]
        officer = staff_name(rng)
        officer_title = rng.choice(["Chuyên viên", "Chuyên viên chính", "Phó Trưởng phòng"])
        leader = staff_name(rng)

        steps = []  # (time, status, progress extra)

        def step(t, status, text=None, start=None, due=None, who_name=None, who_title=None):
            # The item as it stands at this step (fields set later are not in it yet).
            snap = json.loads(json.dumps(item))
            steps.append(dict(t=t, status=status, snapshot=snap, text=text or STATUS_TEXT[status],
                              start=start, due=due, who=who_name or officer,
                              title=who_title or officer_title))

        t = submitted
        if channel == "2":
            item["TrangThaiHoSo"] = "1"
            item["NgayTiepNhan"] = portal_time(t)  # required; replaced by the reception time
            step(t, "1", who_name=applicant if who == "1" else "Công dân", who_title="Người nộp hồ sơ")
            if rng.random() < 0.02:  # refused at reception
                t = after_working(rng, t, 0, 2)
                item["TrangThaiHoSo"] = "3"
                item["NgayKetThucXuLy"] = portal_time(t)
                item["GhiChu"] = "Hồ sơ không thuộc thẩm quyền giải quyết của Sở"
                step(t, "3")
                return self._emit_dossier(ma, unit, item, steps, proc, plans)
            received = after_working(rng, t, 0, 1)
        else:
            received = t
        item["NgayTiepNhan"] = portal_time(received)
        due = add_working_days(received, proc["days"])
        due = due.replace(hour=17, minute=0, second=0) if proc["days"] > 1 else due
        item["NgayHenTra"] = portal_time(due)
        item["TrangThaiHoSo"] = "2"
        step(received, "2", start=received, due=due)
        t = received + dt.timedelta(minutes=rng.randint(20, 240))
        item["TrangThaiHoSo"] = "4"
        step(t, "4", start=t, due=due)

        outcome = rng.random()
        if outcome < 0.012:  # withdrawn by the applicant
            t = after_working(rng, t, 1, max(1, proc["days"] // 2))
            item["TrangThaiHoSo"] = "7"
            item["NgayKetThucXuLy"] = portal_time(t)
            item["GhiChu"] = "Công dân có đơn xin rút hồ sơ"
            step(t, "7", who_name=applicant, who_title="Người nộp hồ sơ")
            return self._emit_dossier(ma, unit, item, steps, proc, plans)

        # Supplement rounds: ~13% one, ~3% two (two rounds count as late by the 766 rule).
        r = rng.random()
        rounds = 2 if r < 0.03 else 1 if r < 0.16 else 0
        for _ in range(rounds):
            req = after_working(rng, t, 0, max(1, proc["days"] // 2))
            item["TrangThaiHoSo"] = "5"
            entry = {"NgayYeuCauBoSung": portal_time(req), "NgayTiepNhanBoSung": "",
                     "NgayHenTraTruoc": item["NgayHenTra"], "NgayHenTraMoi": "",
                     "NoiDungBoSung": rng.choice(SUPPLEMENT_REASONS)}
            item["DanhSachHoSoBoSung"].append(entry)
            step(req, "5", text=f"Yêu cầu bổ sung: {entry['NoiDungBoSung']}", start=req,
                 due=add_working_days(req, 5))
            if rng.random() < 0.05:  # never answered: processing stopped
                t = after_working(rng, req, 15, 25)
                item["TrangThaiHoSo"] = "8"
                item["NgayKetThucXuLy"] = portal_time(t)
                item["GhiChu"] = "Quá thời hạn bổ sung hồ sơ, dừng xử lý"
                step(t, "8", who_name=leader, who_title="Trưởng phòng")
                return self._emit_dossier(ma, unit, item, steps, proc, plans)
            back = after_working(rng, req, 1, 7)
            waited = max(1, sum(1 for i in range((back.date() - req.date()).days)
                                if is_working(req.date() + dt.timedelta(days=i + 1))))
            due = add_working_days(due, waited)
            entry["NgayTiepNhanBoSung"] = portal_time(back)
            entry["NgayHenTraMoi"] = portal_time(due)
            item["NgayHenTra"] = portal_time(due)
            item["TrangThaiHoSo"] = "4"
            step(back, "4", text="Tiếp nhận hồ sơ bổ sung, tiếp tục thụ lý", start=back, due=due)
            t = back

        if fee and channel != "2" and rng.random() < 0.5:
            t = after_working(rng, t, 0, 1)
            item["TrangThaiHoSo"] = "6"
            step(t, "6", text=f"Đề nghị nộp lệ phí {fee:,} đồng".replace(",", "."))
            t = after_working(rng, t, 0, 2)
            item["TrangThaiHoSo"] = "4"
            step(t, "4", text="Đã hoàn thành nghĩa vụ tài chính, tiếp tục xử lý")
        if fee:
            paid_online = channel == "2" and rng.random() < 0.75
            item["DuocThanhToanTrucTuyen"] = rng.choice(["1", "2"]) if paid_online else "0"

        if rng.random() < 0.006:  # stopped
            t = after_working(rng, t, 1, 5)
            item["TrangThaiHoSo"] = "8"
            item["NgayKetThucXuLy"] = portal_time(t)
            item["GhiChu"] = "Dừng xử lý theo đề nghị của cơ quan có thẩm quyền"
            step(t, "8", who_name=leader, who_title="Trưởng phòng")
            return self._emit_dossier(ma, unit, item, steps, proc, plans)

        # Finish: most early or on time, ~9% late (a few very late).
        wd_left = max(0, sum(1 for i in range((due.date() - t.date()).days)
                             if is_working(t.date() + dt.timedelta(days=i + 1))))
        if rng.random() < 0.09:
            finish = after_working(rng, due, 1, 4 if rng.random() < 0.8 else 15)
        else:
            finish = after_working(rng, t, 0, max(0, wd_left - (1 if wd_left > 2 else 0)))
            if finish > due:
                finish = due - dt.timedelta(minutes=rng.randint(30, 300))
                if finish <= t:
                    finish = t + dt.timedelta(minutes=10)
        finish = max(finish, t + dt.timedelta(minutes=10))
        item["TrangThaiHoSo"] = "9"
        item["NgayKetThucXuLy"] = portal_time(finish)
        if rng.random() < 0.82:
            gid = f"KQ-{ma}"
            item["DanhSachGiayToKetQua"] = [{
                "TenGiayTo": RESULT_DOC[proc["code"]],
                "GiayToId": gid,
                "DuongDanTepTinKetQua": f"https://dichvucong.haiphong.gov.vn/ketqua/{ma}.pdf",
            }]
        step(finish, "9", who_name=leader, who_title=rng.choice(["Trưởng phòng", "Phó Giám đốc Sở"]))
        if rng.random() < 0.93:
            ret = after_working(rng, finish, 0, 3)
            item["TrangThaiHoSo"] = "10"
            item["NgayTra"] = portal_time(ret)
            item["HinhThuc"] = "1" if channel == "3" or rng.random() < 0.1 else "0"
            item["ThongTinTra"] = ("Trả kết quả qua dịch vụ bưu chính công ích" if item["HinhThuc"] == "1"
                                   else "Trả kết quả tại Bộ phận Một cửa Sở GD&ĐT")
            step(ret, "10")
        return self._emit_dossier(ma, unit, item, steps, proc, plans)

    def _emit_dossier(self, ma, unit, item, steps, proc, plans):
        """Turns the step list into dossier versions (the item as of each step) and progress items."""
        rng = self.rng
        self.count_record("dossier")
        steps = [s for s in steps if s["t"] <= CUTOFF]
        if not steps:
            return
        versions = [st["snapshot"] for st in steps]

        events = []
        for i, (s, snap) in enumerate(zip(steps, versions)):
            ev = {"kind": "dossier", "source": SRC_ONESTOP, "id": ma, "unit": unit,
                  "version": i + 1, "event_time": iso(s["t"]), "data": snap}
            prog = {
                "MaHoSo": ma,
                "NguoiXuLy": s["who"],
                "ChucDanh": s["title"],
                "ThoiDiemXuLy": portal_time(s["t"]),
                "PhongBanXuLy": self.units[unit]["name"],
                "NoiDungXuLy": s["text"],
                "TrangThai": s["status"],
                "NgayBatDau": portal_time(s["start"]) if s["start"] else "",
                "NgayKetThucTheoQuyDinh": portal_time(s["due"]) if s["due"] else "",
            }
            # Same key as the dossier: the engine appends the step to the dossier's history
            # (deduplicated by status and ThoiDiemXuLy); version = the dossier version of that step.
            pev = {"kind": "dossier", "source": SRC_ONESTOP, "id": ma,
                   "unit": unit, "version": i + 1, "event_time": iso(s["t"]), "data": prog}
            events.append((s["t"], ev, pev))

        # Stale injection: hold back an intermediate version, deliver it after the last one.
        hold = None
        if len(events) >= 3 and rng.random() < plans["stale_p"]:
            hold = rng.randrange(1, len(events) - 1)
        last_line = None
        last_t = None
        for i, (t, ev, pev) in enumerate(events):
            if i == hold:
                continue
            last_line = self.emit_good(ev)
            last_t = t
            self.emit_good(pev)
        if hold is not None:
            t, ev, _ = events[hold]
            self.emit_stale(last_t + dt.timedelta(minutes=rng.randint(5, 3000)), dumps(ev))
        elif rng.random() < plans["dup_p"]:
            self.emit_duplicate(last_t + dt.timedelta(minutes=rng.randint(1, 600)), last_line)

    # =========================================================================================
    # Petitions

    PET_TOPICS = {
        "complaint": [
            ("Khiếu nại kết quả phúc khảo bài thi tốt nghiệp THPT",
             "Tôi là {name}, phụ huynh của em {student}, học sinh lớp 12{cls} {school}. Con tôi dự thi "
             "tốt nghiệp THPT năm {year} và đã làm đơn phúc khảo môn {subject}, nhưng kết quả phúc khảo "
             "không thay đổi. Gia đình không đồng ý với kết quả này vì bài làm của cháu đã được giáo viên "
             "bộ môn đánh giá đạt trên {score} điểm. Đề nghị Sở GD&ĐT xem xét lại quyết định giải quyết và "
             "cho gia đình được xem bài thi."),
            ("Khiếu nại quyết định kỷ luật buộc thôi học có thời hạn",
             "Tôi là {name}, cha của học sinh {student} lớp {grade}{cls} {school}. Ngày {date} nhà trường ra "
             "quyết định kỷ luật cháu buộc thôi học một tuần vì đánh nhau. Gia đình cho rằng nhà trường "
             "chưa xác minh đầy đủ, cháu là người bị đánh trước. Tôi khiếu nại quyết định kỷ luật này và "
             "đề nghị hủy bỏ quyết định."),
            ("Khiếu nại việc không được xét tuyển vào lớp 10",
             "Con tôi là {student} đã đăng ký nguyện vọng 1 vào {school} với tổng điểm {score}, cao hơn "
             "điểm chuẩn công bố. Tuy nhiên danh sách trúng tuyển không có tên cháu. Tôi khiếu nại kết quả "
             "tuyển sinh lớp 10 năm học {year}-{year1} và đề nghị Sở kiểm tra lại dữ liệu."),
            ("Khiếu nại quyết định không gia hạn hợp đồng lao động",
             "Tôi là {name}, giáo viên hợp đồng môn {subject} tại {school} từ năm {since}. Nhà trường ra "
             "thông báo không gia hạn hợp đồng từ ngày {date} mà không nêu lý do. Tôi khiếu nại quyết định "
             "này vì trong các năm công tác tôi đều hoàn thành tốt nhiệm vụ."),
        ],
        "denunciation": [
            ("Tố cáo hiệu trưởng lạm thu các khoản đầu năm học",
             "Chúng tôi tố cáo Hiệu trưởng {school} đã chỉ đạo thu các khoản ngoài quy định đầu năm học "
             "{year}-{year1}: quỹ xã hội hóa {amount} đồng/học sinh, tiền máy chiếu, điều hòa các lớp. Các "
             "khoản thu không được bàn bạc với cha mẹ học sinh và không có biên lai. Đề nghị Thanh tra Sở "
             "vào cuộc làm rõ."),
            ("Tố cáo giáo viên ép học sinh học thêm",
             "Thầy {teacher}, giáo viên môn {subject} {school}, tổ chức dạy thêm tại nhà cho chính học sinh "
             "lớp mình chủ nhiệm, thu {amount} đồng/tháng. Học sinh không đi học thêm bị gọi lên bảng kiểm "
             "tra liên tục và bị trừ điểm. Việc này vi phạm quy định về dạy thêm, học thêm."),
            ("Tố cáo sai phạm trong tuyển dụng viên chức",
             "Tôi tố cáo việc xét tuyển viên chức giáo viên năm {year} tại {school} có dấu hiệu thiếu minh "
             "bạch: một số thí sinh là người nhà của lãnh đạo nhà trường được ưu tiên, điểm phỏng vấn bất "
             "thường. Đề nghị cơ quan có thẩm quyền xác minh."),
            ("Tố cáo giáo viên có hành vi xúc phạm, đánh học sinh",
             "Ngày {date}, cô {teacher} {school} đã dùng thước đánh vào tay và có lời lẽ xúc phạm em "
             "{student} lớp {grade}{cls} trước lớp. Cháu bị hoảng sợ, không dám đến trường. Gia đình tố cáo "
             "hành vi vi phạm đạo đức nhà giáo và đề nghị xử lý nghiêm."),
        ],
        "petition": [
            ("Kiến nghị về việc bố trí điểm trường và xe đưa đón học sinh",
             "Cử tri thôn {village} kiến nghị Sở GD&ĐT xem xét bố trí tuyến xe đưa đón học sinh đến "
             "{school} vì đường đi xa trên {km} km, nhiều đoạn xuống cấp, không an toàn cho các cháu."),
            ("Kiến nghị về chế độ phụ cấp cho giáo viên hợp đồng",
             "Tôi là {name}, giáo viên hợp đồng tại {school}. Từ tháng {month} đến nay tôi chưa được chi trả "
             "phụ cấp ưu đãi nghề theo quy định. Kính đề nghị Sở chỉ đạo nhà trường giải quyết."),
            ("Kiến nghị cải tạo nhà vệ sinh và cơ sở vật chất",
             "Ban đại diện cha mẹ học sinh {school} kiến nghị cải tạo khu nhà vệ sinh đã xuống cấp, thiếu "
             "nước sạch, ảnh hưởng đến sức khỏe của gần {count} học sinh."),
        ],
        "feedback": [
            ("Phản ánh việc thu tiền học thêm trong trường",
             "Tôi là phụ huynh học sinh lớp {grade}{cls} {school}. Nhà trường tổ chức dạy thêm buổi chiều và "
             "thu {amount} đồng/tháng nhưng không có thông báo công khai mức thu, học sinh không đăng ký vẫn "
             "bị xếp vào lớp. Đề nghị Sở kiểm tra."),
            ("Phản ánh bạo lực học đường",
             "Con tôi là {student}, lớp {grade}{cls} {school}, nhiều lần bị một nhóm bạn chặn đánh ở cổng "
             "trường, có video lan truyền trên mạng xã hội. Nhà trường chưa có biện pháp xử lý. Đề nghị Sở "
             "chỉ đạo nhà trường bảo đảm an toàn cho học sinh."),
            ("Phản ánh về bếp ăn bán trú không bảo đảm vệ sinh",
             "Phụ huynh phản ánh bữa ăn bán trú tại {school} ngày {date} có thức ăn ôi thiu, nhiều học sinh "
             "bị đau bụng. Đề nghị kiểm tra đơn vị cung cấp suất ăn."),
            ("Phản ánh việc bắt buộc mua đồng phục, sách tham khảo",
             "Nhà trường {school} yêu cầu học sinh mua đồng phục và bộ sách tham khảo tại một cửa hàng chỉ "
             "định với giá {amount} đồng, cao hơn giá thị trường. Đề nghị làm rõ."),
            ("Phản ánh thái độ của cán bộ Bộ phận một cửa",
             "Ngày {date} tôi đến nộp hồ sơ {proc} tại Bộ phận một cửa Sở GD&ĐT, cán bộ tiếp nhận có thái "
             "độ thiếu niềm nở, hướng dẫn không rõ ràng khiến tôi phải đi lại nhiều lần."),
            ("Phản ánh chậm trả kết quả hồ sơ",
             "Tôi nộp hồ sơ {proc} từ ngày {date}, đã quá hạn hẹn trả nhưng chưa nhận được kết quả, gọi điện "
             "không ai nghe máy. Đề nghị Sở kiểm tra, trả lời."),
        ],
        "feedback_regulation": [
            ("Góp ý dự thảo quy định về dạy thêm, học thêm trên địa bàn thành phố",
             "Tôi là {name}, giáo viên {school}. Dự thảo quy định mức thu dạy thêm tối đa {amount} đồng/buổi "
             "chưa phù hợp với thực tế; đề nghị quy định rõ trách nhiệm của hiệu trưởng và cơ chế giám sát "
             "của cha mẹ học sinh."),
            ("Phản ánh thủ tục cấp bản sao văn bằng còn yêu cầu nhiều giấy tờ",
             "Thủ tục cấp bản sao văn bằng từ sổ gốc vẫn yêu cầu nộp bản sao Căn cước công dân dù đã xác thực "
             "tài khoản định danh điện tử. Đề nghị cắt giảm thành phần hồ sơ này, khai thác dữ liệu dân cư."),
            ("Kiến nghị sửa đổi quy định về thu chi quỹ ban đại diện cha mẹ học sinh",
             "Quy định hiện hành về quỹ ban đại diện cha mẹ học sinh chưa rõ các khoản được vận động. Đề nghị "
             "Sở ban hành hướng dẫn cụ thể để tránh lạm thu."),
        ],
    }
    SUBJECTS = ["Toán", "Ngữ văn", "Tiếng Anh", "Vật lí", "Hóa học", "Sinh học", "Lịch sử", "Địa lí",
                "GDCD", "Tin học"]

    def petition_text(self, kind, school_name, people, day):
        rng = self.rng
        title, tpl = rng.choice(self.PET_TOPICS[kind])
        p0 = people[0] if people else make_person(rng)
        fill = dict(
            name=p0.name, student=make_person(rng, 15, 18).name, cls=rng.choice("ABCDEGH") + str(rng.randint(1, 9)),
            grade=rng.choice([10, 11, 12]), school=school_name,
            # the school year a letter of that date is about (2022-2023 until summer)
            year=day.year if day.month >= 8 else day.year - 1,
            year1=day.year + 1 if day.month >= 8 else day.year,
            subject=rng.choice(self.SUBJECTS), score=f"{rng.randint(5, 9)},{rng.choice([0, 25, 5, 75])}",
            date=(day - dt.timedelta(days=rng.randint(3, 40))).strftime("%d/%m/%Y"),
            since=YEAR - rng.randint(2, 8), amount=f"{rng.choice([150, 200, 250, 300, 500, 1200, 2500]) * 1000:,}".replace(",", "."),
            teacher=staff_name(rng), village=rng.randint(1, 12), km=rng.randint(5, 14),
            month=rng.randint(1, 6), count=rng.choice([600, 900, 1200, 1500]),
            proc=rng.choice(PROCEDURES)["name"].lower())
        return title, tpl.format(**fill)

    def gen_petition(self, plans):
        rng = self.rng
        self.petition_seq += 1
        kind = rng.choices(["feedback", "petition", "complaint", "denunciation", "feedback_regulation"],
                           weights=[35, 22, 25, 13, 5])[0]
        day = random_working_day(rng, dt.date(YEAR, 1, 3), dt.date(YEAR, 12, 27))
        channel = rng.choices(["direct", "post", "portal", "email", "hotline", "forwarded"],
                              weights=[22, 20, 25, 10, 10, 13])[0]
        source = SRC_PAKN if channel == "portal" else SRC_ONESTOP
        pid = f"DT-{YEAR}-{self.petition_seq:06d}"
        received = office_time(rng, day)
        school = self.pick_school_or_centre(day)
        school_name = self.units[school]["name"]
        group = rng.random() < 0.07
        anonymous = not group and rng.random() < (0.25 if kind == "denunciation" else 0.06)
        people = [] if anonymous else [make_person(rng, 25, 65)
                                       for _ in range(rng.randint(3, 6) if group else 1)]
        count = rng.randint(5, 40) if group else (0 if anonymous else 1)
        title, content = self.petition_text(kind, school_name, people, day)
        if group:
            content = f"Chúng tôi gồm {count} cha mẹ học sinh cùng ký đơn. " + content
        data = {"received_at": iso(received), "status": "received", "channel": channel,
                "title": title, "content": content,
                "petitioners": [{"name": p.name, "id_number": p.cccd if rng.random() < 0.8 else "",
                                 "phone": p.phone, "email": p.email if rng.random() < 0.5 else "",
                                 "address": p.address} for p in people],
                "petitioner_count": count, "anonymous": anonymous}
        if rng.random() > 0.05:  # a few left for the tagger to classify
            data["petition_kind"] = kind
        round_ = 1
        if kind == "complaint":
            round_ = 2 if rng.random() < 0.18 else 1
            data["round"] = round_
        if source == SRC_PAKN:
            data["portal_id"] = f"PAKN-{rng.randrange(10**8):08d}"
        complex_ = kind in ("complaint", "denunciation") and (group or rng.random() < 0.2)
        if complex_:
            data["complex"] = True
            data["verification_places"] = rng.randint(2, 4)
            data["contents_count"] = rng.randint(1, 3)
            data["agencies_involved"] = rng.randint(1, 3)
        if rng.random() < 0.03:
            data["foreign_element"] = False
        if kind == "complaint" and round_ == 2:
            data["content"] = (f"Tôi không đồng ý với Quyết định giải quyết khiếu nại lần đầu số "
                               f"{rng.randint(10, 400)}/QĐ-{rng.choice(['THPT', 'SGDĐT'])} nên khiếu nại lần hai. "
                               + data["content"])
        # Re-raised cases (gửi lại, kéo dài) repeat an earlier petition of the same kind.
        earlier = [p for p in self.recent_petitions if p[2] == kind and p[1] < received]
        if earlier and rng.random() < 0.08:
            first = rng.choice(earlier)
            data["reraised_of"] = first[0]
            data["reraise_count"] = rng.randint(1, 2)
            data["title"] = f"{first[3]} (đơn gửi lại lần {data['reraise_count'] + 1})"
            data["content"] = (f"Ngày {first[1].strftime('%d/%m/%Y')} tôi đã gửi đơn về nội dung này nhưng đến nay "
                               f"chưa được giải quyết thỏa đáng, nay tiếp tục đề nghị. " + first[4])
        own = kind in ("feedback", "petition") and rng.random() < 0.35
        handling = school if own else self.unit_code("TTRA")
        if kind == "feedback_regulation":
            handling = self.unit_code(rng.choice(["VP", "GDTRH", "QLCL", "KHTC", "GDMNTH"]))
        elif kind == "feedback" and "một cửa" in title + content:
            handling = self.unit_code("VP")
        elif kind == "petition" and "phụ cấp" in title:
            handling = self.unit_code(rng.choice(["TCCB", "KHTC"]))
        data["handling_unit"] = handling
        unit = handling
        self.recent_petitions.append((pid, received, kind, data["title"], data["content"][:1500]))
        if len(self.recent_petitions) > 400:
            self.recent_petitions.pop(0)
        self.count_record("petition")

        # Legal time limits (domain.md §3); the engine recomputes them, these are the host's.
        if kind == "complaint":
            base = (45 if complex_ else 30) if round_ == 1 else (60 if complex_ else 45)
        elif kind == "denunciation":
            base = 60 if complex_ else 30
        else:
            base = None

        versions = [(received, dict(data))]
        t = received
        fate = rng.random()
        assignee = staff_name(rng)
        if channel == "forwarded" and fate < 0.1 or kind == "petition" and fate < 0.04:
            t = after_working(rng, t, 2, 8)
            data.update(status="forwarded", resolved_at=iso(t),
                        decision_no=f"{rng.randint(10, 999)}/PC-TTr")
            versions.append((t, dict(data)))
        elif anonymous and kind == "denunciation" and fate < 0.5:
            t = after_working(rng, t, 2, 9)
            data.update(status="rejected", resolved_at=iso(t))
            versions.append((t, dict(data)))
        elif fate < 0.03:
            t = after_working(rng, t, 3, 15)
            data.update(status="withdrawn", resolved_at=iso(t))
            versions.append((t, dict(data)))
        else:
            t = after_working(rng, t, 1, 9 if rng.random() < 0.95 else 14)
            data.update(status="accepted", accepted_at=iso(t), assignee=assignee)
            if base:
                due = t + dt.timedelta(days=base)
            else:
                due = add_working_days(t, 15)
            data["due_at"] = iso_date(due)
            versions.append((t, dict(data)))
            t = after_working(rng, t, 1, 5)
            data["status"] = "in_progress"
            versions.append((t, dict(data)))
            if kind == "denunciation" and complex_ and rng.random() < 0.5:
                ext_at = t + dt.timedelta(days=rng.randint(10, 25))
                data["extensions"] = [{"days": 30, "reason": "Vụ việc phức tạp, cần xác minh tại nhiều địa điểm",
                                       "at": iso_date(ext_at)}]
                due = due + dt.timedelta(days=30)
                data["due_at"] = iso_date(due)
                versions.append((ext_at, dict(data)))
                t = ext_at
            late = rng.random() < 0.12
            span = (due - t).days
            if late:
                end = due + dt.timedelta(days=rng.randint(2, 30))
            else:
                end = t + dt.timedelta(days=rng.randint(1, max(1, span - 1)))
            end = dt.datetime.combine(next_working(end.date()), dt.time(15, rng.randrange(60), tzinfo=VN))
            data.update(status="resolved", resolved_at=iso(end),
                        decision_no=f"{rng.randint(100, 2999)}/QĐ-SGDĐT" if kind in ("complaint", "denunciation")
                        else f"{rng.randint(100, 2999)}/SGDĐT-TTr",
                        decision_at=iso_date(end))
            if rng.random() < 0.8:
                data["satisfaction"] = "dissatisfied" if rng.random() < 0.14 else "satisfied"
            versions.append((end, dict(data)))
            if rng.random() < 0.4:
                close = after_working(rng, end, 2, 10)
                data["status"] = "closed"
                versions.append((close, dict(data)))
        versions = [(vt, d) for vt, d in versions if vt <= CUTOFF]
        last_line = last_t = None
        for i, (vt, d) in enumerate(versions):
            ev = {"kind": "petition", "source": source, "id": pid, "unit": unit, "version": i + 1,
                  "event_time": iso(vt), "data": d}
            last_line = self.emit_good(ev)
            last_t = vt
        if rng.random() < plans["dup_p"] * 2:
            self.emit_duplicate(last_t + dt.timedelta(hours=rng.randint(1, 48)), last_line)
        return pid, received, channel

    # =========================================================================================
    # Reception sessions

    def emit_reception(self, unit, day_t, role, name, session_type, people, group, cls, content, pids):
        self.reception_seq += 1
        rid = f"TCD-{YEAR}-{self.reception_seq:05d}"
        data = {"date": iso(day_t), "receiver_role": role, "receiver_name": name,
                "session_type": session_type, "people_count": people, "group": group,
                "content_class": cls, "content": content, "petition_ids": pids}
        ev = {"kind": "reception", "source": SRC_ONESTOP, "id": rid, "unit": unit, "version": 1,
              "event_time": iso(day_t + dt.timedelta(hours=3)), "data": data}
        self.emit_good(ev)
        self.count_record("reception")

    RECEPTION_CONTENT = {
        "complaint": "Công dân khiếu nại kết quả tuyển sinh, kỷ luật học sinh; đã hướng dẫn gửi đơn theo quy định.",
        "denunciation": "Công dân tố cáo việc thu chi sai quy định tại trường THPT; đã tiếp nhận đơn, chuyển Thanh tra Sở.",
        "petition": "Cử tri kiến nghị về cơ sở vật chất trường học, chế độ giáo viên hợp đồng; đã giải thích, ghi nhận.",
        "feedback": "Phụ huynh phản ánh việc dạy thêm, học thêm và các khoản thu đầu năm; đã giải đáp tại buổi tiếp.",
        "none": "Không có công dân đến kiến nghị, phản ánh.",
    }

    def gen_receptions(self, direct_petitions):
        rng = self.rng
        director = "Nguyễn Văn Thành"  # fictitious Director of the department
        deputies = ["Phạm Thị Hương", "Trần Quang Minh"]
        missed = {2, 8}  # no periodic session in February (Tết) and August: the indicator must see it
        for month in range(1, 13):
            if month in missed:
                continue
            day = next_working(dt.date(YEAR, month, 15))
            t = dt.datetime(day.year, day.month, day.day, 8, 0, tzinfo=VN)
            delegated = month in (5, 10)
            role = "deputy" if delegated else "head"
            name = deputies[month % 2] if delegated else director
            linked = [p for p, d, _ in direct_petitions if d.date() == day][:5]
            people = rng.randint(0, 6) + len(linked)
            cls = rng.choice(["complaint", "denunciation", "petition", "feedback"]) if people else "none"
            self.emit_reception(self.root, t, role, name, "periodic", people, False, cls,
                                self.RECEPTION_CONTENT[cls], linked)
        # Ad-hoc sessions, some for group petitions (đoàn đông người).
        for _ in range(max(1, round(8 * self.scale))):
            day = random_working_day(rng, dt.date(YEAR, 1, 3), dt.date(YEAR, 12, 29))
            t = office_time(rng, day)
            group = rng.random() < 0.5
            cls = rng.choice(["complaint", "denunciation", "feedback"])
            self.emit_reception(self.root, t, rng.choice(["head", "deputy"]),
                                rng.choice([director] + deputies), "adhoc",
                                rng.randint(6, 30) if group else rng.randint(1, 4), group, cls,
                                ("Đoàn đông người " if group else "") + self.RECEPTION_CONTENT[cls], [])
        # Continuing-education centres receive citizens at the start of each quarter (while the
        # centre exists: the dated hierarchy closes one on 30/06/2023).
        for centre in self.units_of_type("centre"):
            for month in (1, 4, 7, 10):
                day = next_working(dt.date(YEAR, month, 5))
                if not self.unit_valid(centre, day):
                    continue
                people = rng.choice([0, 1, 2, 3])
                cls = rng.choice(["petition", "feedback"]) if people else "none"
                self.emit_reception(centre, office_time(rng, day), "staff", staff_name(rng), "regular",
                                    people, False, cls, self.RECEPTION_CONTENT[cls], [])
        # Regular sessions by staff of the Inspectorate (and a few schools) on working days.
        ttra = self.unit_code("TTRA")
        receivers = [staff_name(rng) for _ in range(3)]
        direct = sorted(direct_petitions, key=lambda x: x[1])
        by_day = {}
        for pid, d, _ in direct:
            by_day.setdefault(d.date(), []).append(pid)
        for _ in range(round(110 * self.scale)):
            day = random_working_day(rng, dt.date(YEAR, 1, 3), dt.date(YEAR, 12, 29))
            unit = ttra if rng.random() < 0.8 else rng.choice(
                self.units_of_type("school", day) + self.units_of_type("centre", day))
            t = office_time(rng, day)
            pids = by_day.get(day, [])[:3] if unit == ttra else []
            people = max(len(pids), rng.choice([0, 1, 1, 2, 3]))
            cls = rng.choice(["complaint", "petition", "feedback"]) if people else "none"
            self.emit_reception(unit, t, "staff", rng.choice(receivers), "regular", people, False,
                                cls, self.RECEPTION_CONTENT[cls], pids)

    # =========================================================================================
    # "Dân vận khéo"

    DVK_MODELS = [
        ("Tổ tư vấn tâm lý học đường \"Lắng nghe để thấu hiểu\"", "culture_society"),
        ("Cổng trường an toàn giao thông", "defence_security"),
        ("Thư viện xanh thân thiện", "culture_society"),
        ("Đồng hành cùng học sinh có hoàn cảnh khó khăn", "culture_society"),
        ("Phụ huynh đồng hành – nói không với bạo lực học đường", "defence_security"),
        ("Trả kết quả thủ tục hành chính qua bưu chính công ích, không để người dân đi lại nhiều lần", "political_system"),
        ("Số hóa hồ sơ, văn bằng – người dân không phải nộp lại giấy tờ", "political_system"),
        ("Tiếp nhận ý kiến cha mẹ học sinh qua mã QR", "political_system"),
        ("Vườn rau sạch của nhà trường góp phần bữa ăn bán trú", "economy"),
        ("Nhà trường cùng chung tay xây dựng nông thôn mới kiểu mẫu", "economy"),
        ("Học sinh tuyên truyền phòng, chống ma túy trong trường học", "defence_security"),
        ("Công khai các khoản thu trên bảng tin điện tử", "political_system"),
        ("Câu lạc bộ kỹ năng sống cho học sinh vùng ven biển", "culture_society"),
        ("Mỗi thầy cô giáo là một tuyên truyền viên chuyển đổi số", "political_system"),
    ]

    def gen_dvk(self):
        rng = self.rng
        n = max(len(self.DVK_MODELS), round(36 * self.scale))
        for i in range(n):
            self.dvk_seq += 1
            reg_day = random_working_day(rng, dt.date(YEAR, 2, 1), dt.date(YEAR, 6, 30))
            unit = self.pick_school_or_centre(reg_day) if rng.random() < 0.75 else self.unit_code(
                rng.choice(["VP", "TTRA", "GDTRH", "GDMNTH", "QLCL", "TCCB", "KHTC", "GDNNTX"]))
            exemplar = rng.random() < 0.3
            person = staff_name(rng)
            if exemplar:
                name = f"{rng.choice(['Cô giáo', 'Thầy giáo', 'Nhân viên'])} {person} – tận tâm vì học sinh"
                field = "culture_society"
            else:
                name, field = self.DVK_MODELS[i % len(self.DVK_MODELS)]
            reg_t = office_time(rng, reg_day)
            data = {"name": name, "model_type": "exemplar" if exemplar else "model", "field": field,
                    "registering_unit": unit, "person_in_charge": person,
                    "registered_at": iso_date(reg_t), "period_from": f"{YEAR}-{reg_day.month:02d}-01",
                    "period_to": f"{YEAR}-12-31",
                    "content": f"Triển khai \"{name}\" tại {self.units[unit]['name']} gắn với chủ đề năm {YEAR} của thành phố.",
                    "method": "Xây dựng kế hoạch, phân công cán bộ phụ trách, phối hợp với Ban đại diện cha mẹ học sinh, sơ kết 6 tháng.",
                    "target_group": rng.choice(["Học sinh", "Cha mẹ học sinh", "Người dân đến giao dịch", "Giáo viên, nhân viên"]),
                    "results": "", "replicability": "", "year": YEAR}
            mid = f"DVK-{YEAR}-{self.dvk_seq:04d}"
            versions = [(reg_t, dict(data))]
            t6 = office_time(rng, random_working_day(rng, dt.date(YEAR, 6, 5), dt.date(YEAR, 6, 14)))
            if reg_t < t6:
                data["results"] = f"Sau 6 tháng: {rng.randint(60, 1500)} lượt người tham gia, {rng.randint(2, 20)} hoạt động."
                versions.append((t6, dict(data)))
            if rng.random() < 0.6:
                rec = office_time(rng, random_working_day(rng, dt.date(YEAR, 11, 15), dt.date(YEAR, 12, 20)))
                level = rng.choices(["unit", "department", "city"], weights=[30, 55, 15])[0]
                data.update(recognition_level=level, recognised_at=iso_date(rec),
                            recognition_decision=f"{rng.randint(1000, 2999)}/QĐ-{'SGDĐT' if level != 'city' else 'UBND'}",
                            replicability="Có thể nhân rộng tại các trường THPT trong thành phố.")
                versions.append((rec, dict(data)))
            for j, (vt, d) in enumerate(versions):
                # The emulation-movement register orders its records by modification time, not
                # by a version number: exercises the envelope's updated_at ordering.
                self.emit_good({"kind": "dvk_model", "source": SRC_DVK, "id": mid, "unit": unit,
                                "updated_at": iso(vt), "event_time": iso(vt), "data": d})
            self.count_record("dvk_model")

    # =========================================================================================
    # The seed plan's ten tasks

    def gen_plan_tasks(self):
        rng = self.rng
        vp = self.unit_code("VP")
        tt = self.unit_code("TTRA")
        divisions = self.units_of_type("division") + [vp, tt]
        subordinate = self.units_of_type("school") + self.units_of_type("centre")
        all_units = sorted(divisions) + sorted(subordinate)
        D = dt.date
        tasks = [
            (1, "Tham mưu ban hành văn bản của Sở chỉ đạo, hướng dẫn các đơn vị trực thuộc Sở xây dựng, triển khai Kế hoạch thực hiện công tác dân vận năm 2023.",
             vp, all_units, D(2023, 1, 16), D(2023, 3, 31), D(2023, 2, 22)),
            (2, "Quán triệt, triển khai các văn bản của Trung ương, thành phố về công tác dân vận gắn với việc thực hiện quy chế dân chủ ở cơ sở (\"dân biết, dân bàn, dân làm, dân kiểm tra, dân giám sát, dân thụ hưởng\").",
             self.root, [], D(2023, 1, 3), D(2023, 12, 31), D(2023, 12, 28)),
            (3, "Triển khai thực hiện Quyết định của Ủy ban nhân dân thành phố về việc ban hành tiêu chí chấm điểm, xếp loại công tác dân vận các cơ quan nhà nước trên địa bàn thành phố.",
             vp, all_units, D(2023, 2, 1), D(2023, 3, 31), D(2023, 4, 12)),
            (4, "Tiếp tục tuyên truyền, vận động và tổ chức triển khai thực hiện Nghị quyết số 14/2021/NQ-HĐND về xây dựng xã nông thôn mới kiểu mẫu giai đoạn 2021-2025.",
             self.root, [], D(2023, 1, 3), D(2023, 12, 31), None),
            (5, "Tiếp tục thực hiện Nghị quyết số 03-NQ/TU về chuyển đổi số; tăng cường cải cách hành chính; vận hành, khai thác hiệu quả Hệ thống Một cửa điện tử và Dịch vụ công trực tuyến, kết nối với Cổng dịch vụ công quốc gia.",
             vp, all_units, D(2023, 1, 3), D(2023, 12, 31), D(2023, 12, 29)),
            (6, "Thực hiện xây dựng cơ quan văn hóa, công sở văn minh; thực hiện phong trào thi đua, đăng ký mô hình \"Dân vận khéo\" năm 2023.",
             self.root, [], D(2023, 1, 3), D(2023, 9, 30), D(2023, 9, 26)),
            (7, "Tham mưu làm việc với Đoàn Kiểm tra của thành phố về kết quả việc thực hiện công tác dân vận chính quyền của ngành giáo dục và đào tạo năm 2023.",
             vp, all_units, D(2023, 1, 3), D(2023, 12, 31), D(2023, 11, 17)),
            (8, "Tập trung thực hiện tiếp công dân; kịp thời giải quyết đơn khiếu nại, tố cáo, kiến nghị, phản ánh của công dân, giải quyết các vụ việc phức tạp, kéo dài (nếu có).",
             tt, all_units, D(2023, 1, 3), D(2023, 12, 31), None),
            (9, "Tham mưu thực hiện việc chấm điểm, xếp loại công tác dân vận của Sở GD&ĐT năm 2023.",
             vp, all_units, D(2023, 10, 2), D(2023, 12, 31), D(2023, 12, 8)),
            (10, "Tham mưu tổ chức đánh giá kết quả thực hiện công tác dân vận của Sở GD&ĐT năm 2023 và xây dựng kế hoạch phối hợp thực hiện công tác dân vận năm 2024.",
             vp, all_units, D(2023, 10, 2), D(2023, 12, 31), None),
        ]
        checkpoints = [D(2023, 1, 20), D(2023, 3, 31), D(2023, 6, 14), D(2023, 9, 29), D(2023, 12, 8),
                       D(2023, 12, 29)]
        for no, title, lead, coop, start, due, done in tasks:
            tid = f"{PLAN_ID}-NV{no:02d}"
            data = {"plan_id": PLAN_ID, "task_no": no, "title": title, "lead_unit": lead,
                    "cooperating_units": coop, "start": start.isoformat(), "due": due.isoformat(),
                    "progress_percent": 0, "status": "not_started", "report": ""}
            versions = []
            for cp in checkpoints:
                if cp < start:
                    continue
                if done and cp >= done:
                    data.update(progress_percent=100, status="done", completed_at=done.isoformat(),
                                report=f"Đã hoàn thành ngày {done.strftime('%d/%m/%Y')}"
                                + (" (chậm so với thời hạn)." if done > due else "."))
                    at = dt.datetime.combine(done, dt.time(16, 30, tzinfo=VN))
                    versions.append((at, dict(data)))
                    break
                span = (min(due, D(2023, 12, 31)) - start).days or 1
                pct = min(95, round(100 * (cp - start).days / span))
                if done is None and cp == checkpoints[-1]:
                    pct = 90 if no == 10 else 95
                data.update(progress_percent=pct, status="in_progress" if pct > 0 else "not_started",
                            report=f"Tiến độ đến {cp.strftime('%d/%m/%Y')}: {pct}%. " +
                            ("Đang triển khai theo kế hoạch." if cp <= due else "Chưa hoàn thành, đề nghị đôn đốc."))
                versions.append((dt.datetime.combine(cp, dt.time(16, 0, tzinfo=VN)), dict(data)))
            for j, (vt, d) in enumerate(versions):
                self.emit_good({"kind": "plan_task", "source": SRC_ONESTOP, "id": tid, "unit": lead,
                                "version": j + 1, "event_time": iso(vt), "data": d})
            self.count_record("plan_task")

    # =========================================================================================
    # Deliberately bad events (never share a key with a good record)

    def gen_bad(self, n):
        rng = self.rng
        cats = [("missing_required", 22), ("wrong_type", 20), ("bad_format", 12), ("unknown_field", 8),
                ("invalid_utf8", 12), ("oversize_field", 8), ("oversize_event", 1), ("unknown_kind", 8),
                ("malformed_json", 6), ("missing_version", 3)]
        names = [c for c, _ in cats]
        weights = [w for _, w in cats]
        for i in range(n):
            cat = names[i] if i < len(names) else rng.choices(names, weights=weights)[0]
            if cat == "oversize_event" and self.expect_rejected.get(cat, 0) >= 5:
                cat = "oversize_field"  # ~300 KB each: a handful is enough, even at 1M events
            day = random_working_day(rng, dt.date(YEAR, 1, 3), dt.date(YEAR, 12, 29))
            t = office_time(rng, day)
            line = self.bad_event(cat, t)
            self.emit_raw_bad(t, line, cat)

    def base_petition(self, t):
        self.petition_seq += 1
        p = make_person(self.rng)
        return {"kind": "petition", "source": SRC_ONESTOP, "id": f"DT-{YEAR}-{self.petition_seq:06d}",
                "unit": self.unit_code("TTRA"), "version": 1, "event_time": iso(t),
                "data": {"petition_kind": "feedback", "received_at": iso(t), "status": "received",
                         "channel": "direct", "title": "Phản ánh việc thu tiền học thêm",
                         "content": "Phụ huynh phản ánh nhà trường thu tiền học thêm không công khai.",
                         "petitioners": [{"name": p.name, "id_number": p.cccd, "phone": p.phone}],
                         "petitioner_count": 1, "anonymous": False}}

    def base_dossier(self, t):
        ma = self.make_dossier_id(t.date())
        p = make_person(self.rng)
        return {"kind": "dossier", "source": SRC_ONESTOP, "id": ma, "unit": self.unit_code("QLCL"),
                "version": 1, "event_time": iso(t),
                "data": {"MaHoSo": ma, "MaTTHC": "1.005090", "TenTTHC": PROCEDURES[0]["name"],
                         "KenhThucHien": "2", "TrangThaiHoSo": "2", "NgayTiepNhan": portal_time(t),
                         "NgayHenTra": portal_time(add_working_days(t, 2)), "ChuHoSo": p.name,
                         "SoGiayToChuHoSo": p.cccd}}

    def base_reception(self, t):
        self.reception_seq += 1
        return {"kind": "reception", "source": SRC_ONESTOP, "id": f"TCD-{YEAR}-{self.reception_seq:05d}",
                "unit": self.unit_code("TTRA"), "version": 1, "event_time": iso(t),
                "data": {"date": iso_date(t), "receiver_role": "staff", "session_type": "regular",
                         "people_count": 2}}

    def bad_event(self, cat, t):
        rng = self.rng
        which = rng.randrange(3)
        if cat == "missing_required":
            if which == 0:
                ev = self.base_dossier(t)
                del ev["data"]["NgayTiepNhan"]
            elif which == 1:
                ev = self.base_petition(t)
                del ev["data"]["status"]
            else:
                ev = self.base_reception(t)
                del ev["unit"]
            return dumps(ev)
        if cat == "wrong_type":
            if which == 0:
                ev = self.base_dossier(t)
                ev["data"]["KenhThucHien"] = 2
            elif which == 1:
                ev = self.base_petition(t)
                ev["data"]["petitioner_count"] = "3"
            else:
                ev = self.base_reception(t)
                ev["data"]["people_count"] = "12 người"
            return dumps(ev)
        if cat == "bad_format":
            if which == 0:
                ev = self.base_dossier(t)
                ev["data"]["NgayTiepNhan"] = t.strftime("%d/%m/%Y %H:%M")
            elif which == 1:
                ev = self.base_petition(t)
                ev["data"]["received_at"] = t.strftime("%d/%m/%Y")
            else:
                ev = self.base_dossier(t)
                ev["data"]["TrangThaiHoSo"] = "11"
            return dumps(ev)
        if cat == "unknown_field":
            ev = self.base_petition(t)
            ev["data"]["ghi_chu_noi_bo"] = "Trường không có trong lược đồ"
            return dumps(ev)
        if cat == "missing_version":
            ev = self.base_petition(t)
            del ev["version"]
            return dumps(ev)
        if cat == "invalid_utf8":
            ev = self.base_petition(t)
            marker = "@@RAW@@"
            ev["data"]["content"] = "Phụ huynh phản ánh " + marker
            raw = dumps(ev)
            # TCVN3 bytes of "Dân vận khéo" (not UTF-8), or a truncated multi-byte sequence.
            bad = b"\x44\xa9\x6e\x20\x76\xcb\x6e\x20\x6b\x68\xd0\x6f" if which < 2 else b"h\xe1\xbb"
            return raw.replace(marker.encode(), bad)
        if cat == "oversize_field":
            ev = self.base_petition(t)
            ev["data"]["content"] = ("Nội dung phản ánh dài lặp lại. " * 800)[:21000]
            return dumps(ev)
        if cat == "oversize_event":
            ev = self.base_dossier(t)
            # Over the configured max_event_bytes (262144 in config/danvan.example.json).
            ev["data"]["GhiChu"] = "x" * 300000
            return dumps(ev)
        if cat == "unknown_kind":
            ev = self.base_petition(t)
            ev["kind"] = rng.choice(["complaint", "van_ban_den", "hoso"])
            return dumps(ev)
        if cat == "malformed_json":
            raw = dumps(self.base_petition(t))
            return raw[: len(raw) // 2]
        raise ValueError(cat)

    # =========================================================================================

    def run(self, out_path, manifest_path, bad_share):
        tmpdir = tempfile.mkdtemp(prefix="danvan-sample-", dir=os.path.dirname(os.path.abspath(out_path)) or ".")
        try:
            self.writer = Writer(tmpdir)
            plans = {"stale_p": 0.012, "dup_p": 0.012}
            self.gen_plan_tasks()
            direct = []
            for _ in range(round(300 * self.scale)):
                pid, received, channel = self.gen_petition(plans)
                if channel == "direct":
                    direct.append((pid, received, channel))
            self.gen_receptions(direct)
            self.gen_dvk()
            for _ in range(round(1200 * self.scale)):
                self.gen_dossier(plans)
            good = self.writer.good + self.expect_dup + self.expect_stale
            n_bad = max(10, round(good * bad_share / (1 - bad_share)))
            self.gen_bad(n_bad)
            with open(out_path, "wb") as out:
                total = self.writer.finish(out)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        manifest = {
            "generator": "tools/sample-gen/gen_sample.py",
            "events": total,
            "expected": {
                "accepted": sum(self.expect_kind.values()),
                "accepted_by_kind": dict(sorted(self.expect_kind.items())),
                "accepted_by_unit": dict(sorted(self.expect_unit.items())),
                "duplicate": self.expect_dup,
                "stale": self.expect_stale,
                "rejected": sum(self.expect_rejected.values()),
                "rejected_by_category": dict(sorted(self.expect_rejected.items())),
            },
            "records": dict(sorted(self.counts["records"].items())),
        }
        with open(manifest_path, "w", encoding="utf-8") as f:
            json.dump(manifest, f, ensure_ascii=False, indent=1)
            f.write("\n")
        return manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=2023, help="random seed (default 2023)")
    ap.add_argument("--out", required=True, help="output JSONL file")
    ap.add_argument("--manifest", help="expected-results file (default: OUT with .manifest.json)")
    ap.add_argument("--count-scale", type=float, default=1.0,
                    help="multiply record counts (1.0 ≈ 14k events; 73 ≈ 1M)")
    ap.add_argument("--bad-share", type=float, default=0.03, help="share of bad events (default 0.03)")
    ap.add_argument("--units", default=DEFAULT_UNITS, help="unit hierarchy JSON")
    args = ap.parse_args(argv)
    if args.count_scale <= 0:
        ap.error("--count-scale must be positive")
    if not 0 <= args.bad_share < 0.5:
        ap.error("--bad-share must be in [0, 0.5)")
    manifest_path = args.manifest
    if not manifest_path:
        base = args.out[:-6] if args.out.endswith(".jsonl") else args.out
        manifest_path = base + ".manifest.json"
    with open(args.units, encoding="utf-8") as f:
        units_doc = json.load(f)
    d = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(d, exist_ok=True)
    gen = Generator(args.seed, args.count_scale, units_doc)
    m = gen.run(args.out, manifest_path, args.bad_share)
    e = m["expected"]
    print(f"{m['events']} events -> {args.out} (accepted {e['accepted']}, duplicate {e['duplicate']}, "
          f"stale {e['stale']}, rejected {e['rejected']}); manifest {manifest_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
