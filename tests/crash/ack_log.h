// The acknowledgement log shared by crash_child (writer) and crash_test (reader).
//
// One JSON object per line, appended by the child with a single write() followed by fsync()
// AFTER the ABI call that it acknowledges has returned:
//   {"a":"v","source":..,"kind":..,"id":..,"version":N}   accepted / duplicate / stale event:
//                                                         the record must exist at >= N
//   {"a":"s","source":..,"kind":..,"id":..,"status":S,"ThoiDiemXuLy":T}  progress step
//                                                         (accepted or duplicate): the
//                                                         record's history has a step with
//                                                         TrangThai S at ThoiDiemXuLy T
//   {"a":"t","source":..,"kind":..,"id":..,"updated_at":U}  event of a record ordered by
//                                                         updated_at (ISO 8601): the record
//                                                         exists at updated_at >= U
//   {"a":"q"}                                             an event rejected into quarantine
//   {"a":"next","line":L}                                 the call ended; resume at line L
// A line without its final '\n' was torn by the kill and acknowledges nothing.
#pragma once

namespace danvan::crash {

inline constexpr const char* kAckVersion = "v";
inline constexpr const char* kAckStep = "s";
inline constexpr const char* kAckUpdatedAt = "t";
inline constexpr const char* kAckQuarantine = "q";
inline constexpr const char* kAckNext = "next";

// Exit codes of crash_child when it stops on its own (it is normally killed).
inline constexpr int kChildUsage = 2;
inline constexpr int kChildLoadFailed = 3;
inline constexpr int kChildOpenFailed = 4;
inline constexpr int kChildCallFailed = 5;
inline constexpr int kChildAckFailed = 6;

}  // namespace danvan::crash
