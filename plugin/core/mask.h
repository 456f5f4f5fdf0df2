// Masking of personal data before any text leaves the plugin in a log line or in the export log
// (Personal Data Protection Decree 13/2023/ND-CP: data minimisation).
//
// What is personal, and masked (by pattern, never by "a long run of digits"):
//   * e-mail addresses: local@domain.tld (the domain has a dot and ends in a label of letters);
//     the local part is masked except its first character: "a***********@gmail.com".
//   * Vietnamese phone numbers, with or without separators:
//       mobile   0[3|5|7|8|9] + 8 digits         0912345678, 091-234-5678, 0912.345.678
//       landline 02 + 9 digits                   02253842123, (0225) 3842 123
//       the same with the country code           +84 91 234 5678, (+84) 912345678, 84912345678,
//                                                +84 0912 345 678
//     Separators are one space, '.' or '-' between digit groups; when separators are used, the
//     first group (with its 0) has at least 3 digits and every group at least 2, so dates such
//     as 05-03-2023 08:30 are not phone numbers.
//   * citizen ID numbers as whole tokens without separators: 12 digits (CCCD, the personal
//     identification number) and 9 digits (the old CMND).
//   Digits are masked except the first two and the last three, separators are kept:
//   "079203004567" -> "07*******567", "091-234-5678" -> "09*-***-*678".
//
// What is not personal, and never masked: dossier codes (000.00.20.H26-231201-0001), procedure
// codes (1.005090), record ids (DT-2023-000123), unit codes, dates and times (yyyyMMddHHmmss,
// ISO 8601, dd-MM-yyyy), millisecond timestamps, amounts (150.000.000), hashes, hotlines
// (1800/1900 numbers), and file paths.
//
// A match is a whole token: it may not touch an ASCII letter, digit or '_' on either side, nor
// '/' or '\' (a path segment: /var/lib/danvan/079203004567/x.csv, C:\bao-cao\0912345678.pdf;
// but a '/' between two numbers separates them: 0912345678/0987654321 is two phone numbers),
// nor '@', nor a '.', '-' or ',' that joins it to more letters or digits (codes such as
// H26-079203004567, file names such as 0912345678.pdf, decimals such as 0,123456789). Bytes of
// multi-byte UTF-8 characters (Vietnamese letters, no-break spaces, typographic quotes) count as
// separators, so "SĐT:0912345678" and "“0912345678”" are masked.
//
// Known limits: personal names and addresses cannot be recognised by pattern; they must not be
// put into logs or the export log at all (see SECURITY.md). An ID number written with
// separators (079 203 004 567) is not recognised.
#pragma once

#include <string>
#include <string_view>

namespace danvan {

// Returns `text` with every e-mail address, phone number and ID number masked (see above).
// Thread-safe; linear in the length of `text`.
std::string MaskPersonalData(std::string_view text);

}  // namespace danvan
