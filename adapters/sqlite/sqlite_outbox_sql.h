// The SQL of the outbox statements intake runs for every dossier event (sqlite_store.cc), in
// one place so their query plans can be checked (tests/storage/sqlite_plan_test.cc).
//
// Each of them concerns one record, and must find its rows through the unique index
// (destination, record_pk, seq): every other index of the table leads to a walk over every
// pending item of the destination, and the queue holds thousands when the portal is slow or
// export is stopped. SQLite has no statistics here (no ANALYZE), so with two indexes matching
// two equality terms each it may pick outbox_ready (destination, state, next_attempt_ms); a
// unary `+` on a `state` term keeps that term out of index selection (SQLite's documented way,
// "Disqualifying WHERE clause terms using unary +"). Before it, SupersedeDossierOps walked all
// pending items per event: 127 events/s and 18 CPU-s for 4,800 events with 7,200 items queued
// (bench/RESULTS.md, "PostgreSQL against SQLite").
#pragma once

namespace danvan::sqlite_sql {

// Next per-record sequence number of the outbox (a covering search of the unique index).
inline constexpr const char* kOutboxNextSeq =
    "SELECT coalesce(max(seq), 0) + 1 FROM outbox WHERE destination=? AND record_pk=?";

inline constexpr const char* kHasWaitingDossierOp =
    "SELECT 1 FROM outbox WHERE destination=? AND record_pk=? AND op='dossier' "
    "AND +state IN ('pending','held') AND lease_until_ms < ? AND payload='' LIMIT 1";

inline constexpr const char* kFreezeDossierOps =
    "UPDATE outbox SET payload=? WHERE destination=? AND record_pk=? AND op='dossier' AND "
    "+state IN ('pending','held','dead') AND payload=''";

inline constexpr const char* kSupersedeDossierOps =
    "UPDATE outbox SET state='done', done_ms=?, last_error='superseded by a later version' "
    "WHERE destination=? AND record_pk=? AND op='dossier' AND +state='pending' AND "
    "lease_until_ms<? AND (? = 1 OR EXISTS (SELECT 1 FROM outbox p WHERE "
    "p.destination=outbox.destination AND p.record_pk=outbox.record_pk AND p.op='dossier' "
    "AND p.seq<outbox.seq AND +p.state IN ('pending','held','dead')))";

// The derived progress steps of a record, in the columns ReadOutboxColumns (sqlite_store.cc)
// reads.
inline constexpr const char* kDerivedSteps =
    "SELECT id, destination, record_pk, record_id, unit, op, seq, payload, idempotency_key, state, "
    "attempts, next_attempt_ms, created_ms, last_error, ambiguous, derived, lease_until_ms "
    "FROM outbox WHERE destination=? AND record_pk=? AND op='progress' AND derived=1 ORDER BY seq";

// Every per-record statement above with its number of parameters, for the plan test.
struct PerRecordStatement {
  const char* name;
  const char* sql;
  int parameters;
};
inline constexpr PerRecordStatement kPerRecordOutboxStatements[] = {
    {"OutboxNextSeq", kOutboxNextSeq, 2},
    {"HasWaitingDossierOp", kHasWaitingDossierOp, 3},
    {"FreezeDossierOps", kFreezeDossierOps, 3},
    {"SupersedeDossierOps", kSupersedeDossierOps, 5},
    {"DerivedSteps", kDerivedSteps, 2},
};

}  // namespace danvan::sqlite_sql
