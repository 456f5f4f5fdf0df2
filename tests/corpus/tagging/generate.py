#!/usr/bin/env python3
"""Labelled corpus for the tagging tests (issue 3).

Writes corpus.jsonl next to this script: one record per line,
  {"id", "kind", "variant", "data", "texts", "expected"}
`data` holds the non-text fields; `texts` maps JSON pointers inside `data` to Vietnamese text
in NFC. The C++ test (tests/tagging/corpus_test.cc) turns each text into its `variant` — nfc,
nfd, nfd_tone_first (tone mark typed before the circumflex/breve), nodiac, upper, tcvn3, vni,
viscii, cp1258, mixed (title NFC, other texts in a legacy encoding) — builds the raw JSON event,
repairs it (RepairJsonText), parses it and evaluates config/rules/default.json at NOW.
`expected` lists the labels ("tag" or "tag=value") the record must get and no others.

The texts are written for these tests (realistic letters to the Hai Phong Department of
Education and Training, dossier summaries, Dân vận khéo registrations, the 2023 plan's tasks);
names and places are invented. Fixed seed: the output is reproducible.
Run: python3 tests/corpus/tagging/generate.py
"""
import json
import os
import random

rng = random.Random(20230301)
NOW = "2023-09-30T17:00:00+07:00"

NAMES = ["Nguyễn Văn Hùng", "Trần Thị Lan", "Lê Minh Tuấn", "Phạm Thị Hồng", "Hoàng Văn Nam",
         "Vũ Thị Mai", "Đặng Quốc Bảo", "Bùi Thị Thu Hà", "Đỗ Văn Long", "Ngô Thị Hương",
         "Lương Đức Thắng", "Phan Thị Ngọc Ánh", "Trịnh Văn Quyết", "Mạc Thị Yến", "Cao Xuân Trường"]
SCHOOLS = ["Trường THPT Ngô Quyền", "Trường THPT Trần Nguyên Hãn", "Trường THPT Lê Quý Đôn",
           "Trường THCS Chu Văn An", "Trường Tiểu học Đằng Lâm", "Trường THPT Thái Phiên",
           "Trung tâm GDNN-GDTX quận Hồng Bàng", "Trường Mầm non Hoa Phượng",
           "Trường THPT Kiến An", "Trường THPT Hồng Bàng", "Trường THPT Thủy Sơn"]
PLACES = ["phường Lạch Tray, quận Ngô Quyền", "xã An Đồng, huyện An Dương",
          "phường Cát Dài, quận Lê Chân", "thị trấn Núi Đèo, huyện Thủy Nguyên",
          "phường Đằng Giang, quận Ngô Quyền", "xã Tân Tiến, huyện An Dương",
          "phường Bắc Sơn, quận Kiến An", "xã Đại Bản, huyện An Dương"]
DECISIONS = ["quyết định kỷ luật khiển trách", "quyết định không công nhận kết quả thi tuyển viên chức",
             "quyết định thu hồi chứng chỉ", "quyết định điều động công tác",
             "quyết định xếp lương khi chuyển ngạch", "quyết định không cho học sinh chuyển trường"]
FEE_ISSUES = ["thu các khoản ngoài quy định", "thu tiền học thêm trái phép",
              "thu quỹ phụ huynh sai mục đích", "ép học sinh mua tài liệu tham khảo",
              "thu tiền sửa chữa phòng học không công khai"]

records = []


def add(kind, data, texts, expected):
    records.append({"kind": kind, "data": data, "texts": texts, "expected": sorted(set(expected))})


def day(m, d, y=2023):
    return f"{y:04d}-{m:02d}-{d:02d}"


def received():
    m = rng.randint(1, 8)
    return day(m, rng.randint(1, 28))


def petitioners(n=1):
    return [{"name": rng.choice(NAMES), "phone": "09%08d" % rng.randint(0, 99999999)}
            for _ in range(n)]


def base_petition(status="in_progress", due_days=None):
    r = received()
    d = {"received_at": r, "status": status, "channel": rng.choice(["direct", "post", "portal"])}
    # A due date after NOW unless an overdue case is wanted.
    d["due_at"] = day(12, rng.randint(1, 28)) if due_days is None else due_days
    return d


def petition_texts(d, title, content, with_name=True):
    t = {"/title": title, "/content": content}
    if with_name and d.get("petitioners"):
        t["/petitioners/0/name"] = d["petitioners"][0]["name"]
    return t


# ---- petitions -------------------------------------------------------------------------

def complaint(round2=False, host=False, host_round=False):
    d = base_petition()
    d["petitioners"] = petitioners()
    d["petitioner_count"] = 1
    school = rng.choice(SCHOOLS)
    dec = rng.choice(DECISIONS)
    num = rng.randint(10, 480)
    if round2:
        title = "Đơn khiếu nại lần hai"
        content = (f"Tôi là giáo viên {school}. Tôi không đồng ý với quyết định giải quyết khiếu nại "
                   f"lần đầu số {num}/QĐ-SGDĐT của Giám đốc Sở về {dec} đối với tôi. "
                   f"Tôi đề nghị Sở xem xét lại toàn bộ hồ sơ và trả lời bằng văn bản.")
    else:
        title = rng.choice(["Đơn khiếu nại", "Khiếu nại quyết định hành chính", "Đơn khiếu nại về quyết định"])
        content = (f"Tôi là {rng.choice(['giáo viên', 'nhân viên', 'phụ huynh học sinh'])} tại {school}. "
                   f"Ngày {rng.randint(1, 28)}/{rng.randint(1, 8)}/2023, Hiệu trưởng ban hành {dec} số {num}/QĐ. "
                   f"Tôi khiếu nại quyết định này vì chưa đúng quy định, đề nghị Sở xem xét lại quyết định và bảo đảm quyền lợi hợp pháp của tôi.")
    exp = ["text_kind=complaint", "plan_task=8", "complaint_round=" + ("2" if round2 else "1")]
    if host:
        d["petition_kind"] = "complaint"
    else:
        exp.append("petition_kind=complaint")
    if host_round:
        d["round"] = 2 if round2 else 1
    add("petition", d, petition_texts(d, title, content), exp)


def denunciation(anonymous=None, host=False, mismatch_host=None):
    d = base_petition()
    school = rng.choice(SCHOOLS)
    issue = rng.choice(FEE_ISSUES)
    person = rng.choice(["Hiệu trưởng", "Phó Hiệu trưởng", "kế toán", "giáo viên chủ nhiệm lớp 10A3"])
    title = rng.choice(["Đơn tố cáo", "Tố cáo hành vi sai phạm", "Đơn tố cáo sai phạm tại trường"])
    content = (f"Tôi làm đơn này tố cáo {person} {school} có hành vi {issue} trong năm học 2022-2023. "
               f"Số tiền thu của mỗi học sinh khoảng {rng.randint(2, 9)}00.000 đồng, không có biên lai. "
               f"Đề nghị Thanh tra Sở kiểm tra, xác minh và xử lý nghiêm.")
    exp = ["text_kind=denunciation", "plan_task=8"]
    if anonymous == "field":
        d["anonymous"] = True
        exp.append("anonymous_denunciation")
    elif anonymous == "text":
        content += " Vì lý do an toàn, tôi xin được giấu tên."
        exp.append("anonymous_denunciation")
    else:
        d["petitioners"] = petitioners()
        d["petitioner_count"] = 1
    if mismatch_host:
        d["petition_kind"] = mismatch_host
        exp.append("petition_kind_mismatch=denunciation")
        if mismatch_host == "complaint":
            exp.append("complaint_round=1")  # the host's class governs the round
        # anonymous_denunciation follows the host's class when there is one.
        exp = [e for e in exp if e != "anonymous_denunciation"]
    elif host:
        d["petition_kind"] = "denunciation"
    else:
        exp.append("petition_kind=denunciation")
    add("petition", d, petition_texts(d, title, content), exp)


def kien_nghi(host=False):
    d = base_petition()
    d["petitioners"] = petitioners()
    d["petitioner_count"] = 1
    school = rng.choice(SCHOOLS)
    topic = rng.choice([
        f"bố trí thêm xe đưa đón học sinh tại {rng.choice(PLACES)}",
        f"sửa chữa dãy phòng học xuống cấp của {school}",
        f"mở thêm lớp bán trú tại {school}",
        "điều chỉnh lịch thi học kỳ trùng với ngày lễ của địa phương",
        f"lắp đặt đèn chiếu sáng đoạn đường trước cổng {school}"])
    title = rng.choice(["Đơn kiến nghị", "Kiến nghị của công dân", "Kiến nghị về cơ sở vật chất"])
    content = (f"Tôi là {rng.choice(['phụ huynh', 'cư dân', 'giáo viên'])} ở {rng.choice(PLACES)}. "
               f"Tôi kiến nghị Sở Giáo dục và Đào tạo xem xét việc {topic}. Rất mong nhận được sự quan tâm của Sở.")
    exp = ["text_kind=petition", "plan_task=8"]
    if host:
        d["petition_kind"] = "petition"
    else:
        exp.append("petition_kind=petition")
    add("petition", d, petition_texts(d, title, content), exp)


def phan_anh(host=False, conduct=False, mismatch_host=None):
    d = base_petition()
    d["petitioners"] = petitioners()
    d["petitioner_count"] = 1
    school = rng.choice(SCHOOLS)
    if conduct:
        what = rng.choice([
            f"cán bộ bộ phận một cửa của Sở có thái độ hách dịch, gây khó khăn khi tôi nộp hồ sơ xin cấp bản sao bằng tốt nghiệp",
            f"nhân viên văn phòng {school} quát mắng phụ huynh khi đến liên hệ công việc",
            f"cán bộ tiếp nhận hồ sơ có biểu hiện nhũng nhiễu, hẹn lại nhiều buổi mà không nêu lý do",
            f"bảo vệ {school} có thái độ thiếu tôn trọng với người dân đến làm việc"])
        title = "Phản ánh về thái độ phục vụ"
    else:
        what = rng.choice([
            f"căng tin {school} bán đồ ăn không rõ nguồn gốc",
            f"nhà vệ sinh của {school} bị hỏng từ đầu năm học chưa được sửa",
            f"xe chở vật liệu xây dựng đỗ trước cổng {school} giờ tan học, gây mất an toàn",
            f"website của {school} không cập nhật thông tin tuyển sinh"])
        title = rng.choice(["Phản ánh của phụ huynh", "Thư phản ánh", "Phản ánh về hoạt động của nhà trường"])
    content = f"Tôi xin phản ánh việc {what}. Đề nghị cơ quan có thẩm quyền xem xét, chấn chỉnh."
    exp = ["text_kind=feedback", "plan_task=8"]
    if conduct:
        exp.append("staff_conduct")
    if mismatch_host:
        d["petition_kind"] = mismatch_host
        exp.append("petition_kind_mismatch=feedback")
    elif host:
        d["petition_kind"] = "feedback"
    else:
        exp.append("petition_kind=feedback")
    add("petition", d, petition_texts(d, title, content), exp)


def phan_anh_quy_dinh(host=False):
    d = base_petition()
    d["petitioners"] = petitioners()
    d["petitioner_count"] = 1
    proc = rng.choice(["cấp bản sao văn bằng, chứng chỉ từ sổ gốc", "chuyển trường cho học sinh trung học phổ thông",
                       "công nhận văn bằng do cơ sở nước ngoài cấp", "cấp phép dạy thêm, học thêm"])
    content = (f"Tôi phản ánh về thủ tục hành chính {proc}: thành phần hồ sơ yêu cầu nhiều giấy tờ đã có trong "
               f"cơ sở dữ liệu dân cư, quy định rườm rà, mất nhiều thời gian đi lại. Đề nghị sửa đổi quy định hành chính này.")
    title = "Phản ánh về quy định hành chính"
    exp = ["text_kind=feedback_regulation", "plan_task=8"]
    if host:
        d["petition_kind"] = "feedback_regulation"
    else:
        exp.append("petition_kind=feedback_regulation")
    add("petition", d, petition_texts(d, title, content), exp)


def group_petition(count_field=True):
    d = base_petition()
    n = rng.randint(6, 40)
    d["petitioners"] = petitioners(min(n, 5))
    if count_field:
        d["petitioner_count"] = n
    place = rng.choice(PLACES)
    school = rng.choice(SCHOOLS)
    content = (f"Chúng tôi gồm {n} hộ dân ở {place} có con đang học tại {school}. "
               f"Chúng tôi kiến nghị nhà trường giữ lại điểm trường cũ vì học sinh phải đi xa hơn 5 km, "
               f"đường sá nguy hiểm. Đề nghị Sở xem xét.")
    title = "Đơn kiến nghị của các hộ dân"
    exp = ["text_kind=petition", "petition_kind=petition", "plan_task=8", "group_petition", "hot_spot"]
    if count_field or n >= 5:
        exp.append("complexity=complex")  # many petitioners on one content
    add("petition", d, petition_texts(d, title, content), exp)


def protracted(mode):
    d = base_petition()
    d["petitioners"] = petitioners()
    d["petitioner_count"] = 1
    school = rng.choice(SCHOOLS)
    dec = rng.choice(DECISIONS)
    d["petition_kind"] = "complaint"
    d["round"] = 1
    content = (f"Tôi là giáo viên {school}. Tôi khiếu nại {dec} của Hiệu trưởng vì không đúng trình tự, "
               f"đề nghị Sở xem xét lại quyết định.")
    exp = ["text_kind=complaint", "complaint_round=1", "plan_task=8", "hot_spot"]
    if mode == "field":
        d["reraise_count"] = rng.randint(1, 4)
        d["reraised_of"] = "DT-2022-%06d" % rng.randint(1, 999)
        exp.append("protracted=reraised")
    elif mode == "text":
        content += " Tôi đã gửi đơn từ năm 2021 đến nay nhưng vụ việc vẫn chưa được giải quyết dứt điểm."
        exp.append("protracted=reraised")
    else:  # overdue: due date passed, still open
        d["received_at"] = day(rng.randint(2, 5), rng.randint(1, 28))
        d["due_at"] = day(rng.randint(6, 8), rng.randint(1, 28))
        d["status"] = rng.choice(["accepted", "in_progress"])
        exp.append("protracted=overdue")
    add("petition", d, petition_texts(d, "Đơn khiếu nại", content), exp)


def resolved_late():
    # Resolved after the due date: not protracted (closed), a plain complaint.
    d = base_petition(status="resolved")
    d["petitioners"] = petitioners()
    d["petitioner_count"] = 1
    d["petition_kind"] = "complaint"
    d["received_at"] = day(3, 1)
    d["due_at"] = day(4, 10)
    d["resolved_at"] = day(4, 20)
    content = (f"Tôi khiếu nại {rng.choice(DECISIONS)} của {rng.choice(SCHOOLS)}, đề nghị Sở xem xét lại quyết định.")
    add("petition", d, petition_texts(d, "Đơn khiếu nại", content),
        ["text_kind=complaint", "complaint_round=1", "plan_task=8"])


def complex_case(mode):
    d = base_petition()
    d["petitioners"] = petitioners()
    d["petitioner_count"] = 1
    d["petition_kind"] = "petition"
    school = rng.choice(SCHOOLS)
    content = f"Tôi kiến nghị làm rõ việc sử dụng đất của {school}."
    if mode == "fields":
        key = rng.choice(["verification_places", "contents_count", "agencies_involved"])
        d[key] = rng.randint(2, 4)
    elif mode == "foreign":
        d["foreign_element"] = True
        content += " Người liên quan là giáo viên có quốc tịch nước ngoài."
    else:
        content += " Vụ việc liên quan đến nhiều cơ quan gồm Sở Tài nguyên và Môi trường, UBND quận và nhà trường, các cơ quan chưa thống nhất ý kiến."
    add("petition", d, petition_texts(d, "Kiến nghị", content),
        ["text_kind=petition", "plan_task=8", "complexity=complex"])


for i in range(16): complaint()
for i in range(10): complaint(host=True, host_round=True)
for i in range(10): complaint(round2=True)
for i in range(6): complaint(round2=True, host=True, host_round=True)
for i in range(14): denunciation()
for i in range(8): denunciation(host=True)
for i in range(7): denunciation(anonymous="field")
for i in range(7): denunciation(anonymous="text", host=True)
for i in range(6): denunciation(mismatch_host=rng.choice(["complaint", "feedback"]))
for i in range(14): kien_nghi()
for i in range(6): kien_nghi(host=True)
for i in range(12): phan_anh()
for i in range(6): phan_anh(host=True)
for i in range(12): phan_anh(conduct=True)
for i in range(5): phan_anh(mismatch_host="petition")
for i in range(10): phan_anh_quy_dinh()
for i in range(4): phan_anh_quy_dinh(host=True)
for i in range(12): group_petition(count_field=(i % 2 == 0))
for mode in ["field", "text", "overdue"]:
    for i in range(7): protracted(mode)
for i in range(4): resolved_late()
for mode in ["fields", "foreign", "text"]:
    for i in range(5): complex_case(mode)

# ---- dossiers (national portal items) ------------------------------------------------
PROCEDURES = [
    ("1.005092", "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc", "cấp bản sao bằng tốt nghiệp trung học phổ thông năm {y} cho {n}"),
    ("1.001639", "Chuyển trường đối với học sinh trung học phổ thông", "chuyển trường cho học sinh {n} từ {s} về trường tại {p}"),
    ("1.005090", "Phúc khảo bài thi tốt nghiệp trung học phổ thông", "phúc khảo bài thi môn Ngữ văn của thí sinh {n}"),
    ("2.001987", "Cấp giấy phép tổ chức hoạt động dạy thêm, học thêm", "cấp phép dạy thêm ngoài nhà trường cho {n} tại {p}"),
    ("1.004831", "Công nhận trường trung học đạt chuẩn quốc gia", "công nhận {s} đạt chuẩn quốc gia mức độ 1"),
    ("1.005097", "Chỉnh sửa nội dung văn bằng, chứng chỉ", "chỉnh sửa ngày sinh trên bằng tốt nghiệp cho {n}"),
]


def dossier(channel, paid, result_link, digitised, fee):
    code, name, summary = rng.choice(PROCEDURES)
    n = rng.choice(NAMES)
    s = rng.choice(SCHOOLS)
    p = rng.choice(PLACES)
    recv = f"2023{rng.randint(1, 8):02d}{rng.randint(1, 28):02d}0{rng.randint(7, 9)}3000"
    d = {"MaHoSo": "G22.36-%06d-%04d" % (rng.randint(1, 999999), rng.randint(1, 9999)),
         "MaTTHC": code, "KenhThucHien": channel, "NgayTiepNhan": recv,
         "NgayHenTra": "20231215170000", "TrangThaiHoSo": rng.choice(["2", "4", "9", "10"]),
         "LoaiDoiTuong": "1", "HoSoCoThanhPhanSoHoa": "1" if digitised == "flag" else "0",
         "TaiLieuNop": [{"TepDinhKemId": str(rng.randint(1000, 9999)), "TenTepDinhKem": "don.pdf",
                         "DuocSoHoa": "1" if digitised == "file" else "0"}],
         "DanhSachLePhi": [], "DanhSachGiayToKetQua": []}
    if fee:
        d["DanhSachLePhi"] = [{"TenPhiLePhi": "Lệ phí", "MaPhiLePhi": "LP01", "Gia": "20000"}]
    d["DuocThanhToanTrucTuyen"] = paid
    if result_link:
        d["DanhSachGiayToKetQua"] = [{"TenGiayTo": "Kết quả", "GiayToId": "KQ1",
                                      "DuongDanTepTinKetQua": "https://dichvucong.haiphong.gov.vn/kq/" + d["MaHoSo"]}]
    texts = {"/TrichYeuHoSo": summary.format(y=rng.randint(2005, 2022), n=n, s=s, p=p),
             "/TenTTHC": name, "/ChuHoSo": n}
    exp = []
    if channel == "2":
        exp.append("online_service")
        if (paid in ("1", "2") or not fee) and result_link:
            exp.append("fully_online")
    if digitised:
        exp.append("digitised")
    if channel == "2" or digitised:
        exp.append("plan_task=5")
    add("dossier", d, texts, exp)


for i in range(60):
    channel = rng.choice(["1", "2", "2", "3"])
    fee = rng.random() < 0.5
    paid = rng.choice(["0", "1", "2"]) if fee else "0"
    dossier(channel, paid, rng.random() < 0.5, rng.choice([None, None, "flag", "file"]), fee)

# ---- citizen reception ---------------------------------------------------------------


def reception(kind):
    d = {"date": day(rng.randint(1, 9), 15), "receiver_role": rng.choice(["head", "deputy", "staff"]),
         "session_type": rng.choice(["periodic", "adhoc", "regular"]),
         "people_count": 1, "group": False}
    texts = {"/receiver_name": rng.choice(NAMES)}
    school = rng.choice(SCHOOLS)
    exp = ["plan_task=8"]
    if kind == "complaint":
        texts["/content"] = f"Công dân trình bày khiếu nại về {rng.choice(DECISIONS)} của {school}, đề nghị xem xét lại."
        exp.append("text_kind=complaint")
    elif kind == "group":
        n = rng.randint(5, 30)
        d["people_count"] = n
        d["group"] = True
        texts["/content"] = f"Đoàn {n} phụ huynh {school} đến kiến nghị về việc sáp nhập điểm trường."
        exp += ["text_kind=petition", "group_petition", "hot_spot"]
    elif kind == "conduct":
        texts["/content"] = f"Công dân phản ánh giáo viên {school} có lời lẽ xúc phạm học sinh, thái độ không đúng mực."
        exp += ["text_kind=feedback", "staff_conduct"]
    else:
        texts["/content"] = f"Công dân hỏi về thủ tục tuyển sinh lớp 10 năm học 2023-2024 tại {school}; đã được hướng dẫn."
    add("reception", d, texts, exp)


for k in ["complaint", "group", "conduct", "info"]:
    for i in range(9):
        reception(k)

# ---- Dân vận khéo models ---------------------------------------------------------------
DVK = {
    "economy": [("Mô hình hỗ trợ phụ huynh khó khăn phát triển sản xuất", "Nhà trường phối hợp Hội Nông dân hướng dẫn phụ huynh nuôi trồng, tiêu thụ nông sản, tăng thu nhập cho gia đình."),
                ("Mô hình giảm nghèo bền vững gắn với nhà trường", "Cán bộ, giáo viên giúp các hộ phụ huynh nghèo vay vốn, tìm việc làm ổn định."),
                ("Mô hình khởi nghiệp của học viên giáo dục thường xuyên", "Hướng dẫn học viên lập kế hoạch khởi nghiệp, liên kết với hợp tác xã địa phương.")],
    "culture_society": [("Mô hình thư viện xanh", "Xây dựng thư viện ngoài trời, khuyến khích học sinh đọc sách và giữ gìn môi trường."),
                        ("Mô hình khuyến học trong dòng họ", "Vận động các dòng họ lập quỹ khuyến học, trao học bổng cho học sinh vượt khó."),
                        ("Mô hình trường học hạnh phúc", "Xây dựng môi trường giáo dục thân thiện, chăm lo sức khỏe tinh thần cho học sinh.")],
    "defence_security": [("Mô hình cổng trường an toàn giao thông", "Phối hợp công an phường bảo đảm trật tự, an toàn giao thông trước cổng trường giờ tan học."),
                         ("Mô hình phòng chống ma túy học đường", "Tuyên truyền phòng chống tội phạm và ma túy, thành lập tổ tư vấn cho học sinh."),
                         ("Mô hình nói không với bạo lực học đường", "Phát hiện sớm, ngăn chặn bạo lực học đường, giữ gìn an ninh trong nhà trường.")],
    "political_system": [("Mô hình một cửa thân thiện", "Cải cách hành chính, chuyển đổi số tại bộ phận một cửa, công khai dịch vụ công trực tuyến."),
                         ("Mô hình thực hiện quy chế dân chủ ở cơ sở", "Công khai tài chính, lấy ý kiến viên chức theo phương châm dân biết, dân bàn, dân kiểm tra."),
                         ("Mô hình công sở văn minh", "Xây dựng chính quyền thân thiện, công sở văn minh, cán bộ gần dân.")],
}
for i in range(48):
    field = list(DVK)[i % 4]
    name, content = rng.choice(DVK[field])
    declared = i % 3 == 0
    d = {"model_type": rng.choice(["model", "exemplar"]), "registered_at": day(rng.randint(1, 6), rng.randint(1, 28)),
         "year": 2023, "recognition_level": rng.choice(["unit", "department"])}
    texts = {"/name": name, "/content": content, "/registering_unit": rng.choice(SCHOOLS),
             "/person_in_charge": rng.choice(NAMES)}
    if declared:
        d["field"] = field
    exp = ["dvk_field=" + field, "plan_task=6"]
    if "dân chủ ở cơ sở" in content or "quy chế dân chủ" in name or "dân kiểm tra" in content:
        exp.append("plan_task=2")
    add("dvk_model", d, texts, exp)
# Two models tied to the new rural programme (task 4).
for i in range(4):
    d = {"model_type": "model", "registered_at": day(3, 10), "year": 2023, "field": "economy"}
    texts = {"/name": "Mô hình nhà trường đồng hành xây dựng nông thôn mới kiểu mẫu",
             "/content": "Giáo viên, học sinh tham gia làm đường hoa, phân loại rác, hỗ trợ xã đạt chuẩn nông thôn mới kiểu mẫu."}
    add("dvk_model", d, texts, ["dvk_field=economy", "plan_task=6", "plan_task=4"])

# ---- the plan's ten tasks (seed II.2) ---------------------------------------------------
TASKS = {
    1: "Tham mưu ban hành văn bản chỉ đạo, hướng dẫn các đơn vị xây dựng Kế hoạch thực hiện công tác dân vận năm 2023",
    2: "Quán triệt, triển khai các văn bản của Trung ương, thành phố về công tác dân vận gắn với thực hiện quy chế dân chủ ở cơ sở",
    3: "Triển khai Quyết định của UBND thành phố ban hành tiêu chí chấm điểm, xếp loại công tác dân vận",
    4: "Tuyên truyền, vận động thực hiện Nghị quyết số 14/2021/NQ-HĐND về xây dựng xã nông thôn mới kiểu mẫu",
    5: "Đẩy mạnh chuyển đổi số, cải cách hành chính, vận hành hệ thống một cửa điện tử và dịch vụ công trực tuyến",
    6: "Xây dựng cơ quan văn hóa, công sở văn minh; đăng ký mô hình Dân vận khéo năm 2023",
    7: "Tham mưu làm việc với Đoàn Kiểm tra của thành phố về kết quả công tác dân vận chính quyền",
    8: "Tập trung thực hiện tiếp công dân, giải quyết kịp thời đơn khiếu nại, tố cáo, kiến nghị, phản ánh",
    9: "Tham mưu chấm điểm, xếp loại công tác dân vận của Sở GD&ĐT năm 2023",
    10: "Tham mưu đánh giá kết quả công tác dân vận năm 2023 và xây dựng kế hoạch năm 2024",
}
for rep in range(2):
    for no, title in TASKS.items():
        d = {"plan_id": "KH-DV-2023", "task_no": no, "start": "2023-01-01", "due": "2023-12-31",
             "progress_percent": rng.choice([0, 25, 50, 75, 100]),
             "status": rng.choice(["not_started", "in_progress", "done"])}
        texts = {"/title": title, "/lead_unit": "Văn phòng Sở" if no != 8 else "Thanh tra Sở"}
        add("plan_task", d, texts, ["plan_task=%d" % no])

VARIANTS = ["nfc", "nfd", "nfd_tone_first", "nodiac", "upper", "tcvn3", "vni", "viscii", "cp1258", "mixed"]
rng.shuffle(records)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus.jsonl")
with open(out, "w", encoding="utf-8") as f:
    f.write(json.dumps({"now": NOW, "count": len(records)}, ensure_ascii=False) + "\n")
    for i, r in enumerate(records):
        r = {"id": "C%04d" % (i + 1), "variant": VARIANTS[i % len(VARIANTS)], **r}
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(out, len(records))
