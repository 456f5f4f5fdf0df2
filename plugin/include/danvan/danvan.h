/*
 * danvan.h — the one public header of libdanvan: the plugin's C ABI (C99).
 *
 * danvan tags dân vận records of an electronic one-stop system, keeps the scoring
 * indicators of each unit current and exports dossiers to the national public service
 * portal. A host (Java, .NET, C++, anything with a C FFI) loads libdanvan.so and talks
 * to it only through this header.
 *
 * Calls in order:
 *   1. api = danvan_get_api(DANVAN_ABI_MAJOR, &reason)   -- discovery, the only exported symbol
 *      the host needs; NULL with a readable reason when the ABI majors differ.
 *      Check api->struct_size >= the size of the fields you use.
 *   2. api->open(config, len, &services, &handle, &err)  -- validates the JSON configuration
 *      (every error listed with its JSON path), opens storage, applies migrations.
 *   3. api->start(handle, &err)                           -- starts the plugin's own threads
 *      (scheduler, exporters). submit/query work before start too.
 *   4. api->submit / submit_batch / query, from any number of host threads.
 *   5. api->stop(handle, timeout_ms, &err)                -- stops background threads, waiting
 *      at most timeout_ms.
 *   6. api->close(handle)                                 -- frees the handle.
 *
 * Strings: every string in or out is UTF-8 bytes, and every length is a count of BYTES, not
 * of characters or UTF-16 code units (a Java String's length() or a .NET string's Length is
 * not it: encode to UTF-8 first and pass the byte array's length). The plugin never uses the
 * process locale. Input that is not valid UTF-8 is rejected (code "encoding.utf8"), never
 * silently replaced.
 *
 * Memory: every input is borrowed (pointer + length) for the duration of the call.
 * Every output (result JSON, error message) is allocated by the plugin and must be released
 * with api->free(); never with the host's own allocator. Output strings are NUL-terminated
 * as a convenience; their length is also returned where a length pointer is given.
 *
 * Errors: every function returns a danvan_status. When a call fails and error_out is not
 * NULL, *error_out receives one JSON document (since ABI 1.1; to be freed with api->free()):
 *   {"status":"invalid_input",
 *    "errors":[{"code":"schema.required","path":"/data/MaHoSo",
 *               "message":"thiếu trường bắt buộc","message_en":"required field is missing"}]}
 * "code" is a stable machine code (docs/integration.md lists them; codes are only added),
 * "path" a JSON pointer into the input ("" when not about one field), "message" Vietnamese
 * for administrators, "message_en" English. The "errors" of submit results have the same
 * fields. No C++ exception ever crosses this boundary.
 *
 * One store, one owner: while a handle has a store open, another open() of the same store
 * (this process or another) fails with DANVAN_BAD_STATE, code "store.locked", naming the
 * holder (pid, host, instance). The lock is an OS file lock: a crashed holder releases it.
 * On PostgreSQL (several nodes on one database) the store is one per node: the same answer
 * for a second open with the same "instance", held by a session advisory lock that the
 * server drops with the holder's connection (also when it crashes).
 *
 * Network: no function of this table performs or waits on network I/O. Export to the
 * portal runs on threads owned by the plugin.
 */
#ifndef DANVAN_DANVAN_H_
#define DANVAN_DANVAN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define DANVAN_EXPORT __declspec(dllexport)
#else
#define DANVAN_EXPORT __attribute__((visibility("default")))
#endif

#define DANVAN_ABI_MAJOR 1
#define DANVAN_ABI_MINOR 1 /* 1.1: error_out is the JSON error document */

/* Status codes. Values are stable across minor versions; new codes are appended. */
typedef int32_t danvan_status;
#define DANVAN_OK 0
#define DANVAN_RETRY_LATER 1     /* back-pressure: nothing was stored, try again later */
#define DANVAN_INVALID_INPUT 2   /* the input (or part of a batch) was rejected; see result */
#define DANVAN_NOT_FOUND 3
#define DANVAN_CONFLICT 4
#define DANVAN_IO_ERROR 5        /* storage failed; nothing of this call was acknowledged */
#define DANVAN_INTERNAL 6
#define DANVAN_ABI_MISMATCH 7
#define DANVAN_BAD_STATE 8       /* e.g. a call on a closed or stopping handle */

/* Log levels passed to the host's log callback. */
#define DANVAN_LOG_TRACE 0
#define DANVAN_LOG_DEBUG 1
#define DANVAN_LOG_INFO 2
#define DANVAN_LOG_WARN 3
#define DANVAN_LOG_ERROR 4

typedef struct danvan_handle danvan_handle; /* opaque */

/*
 * Services the host lends to the plugin. Passed to open(); the struct is copied, the
 * pointed-to callbacks and user_data must stay valid until close() returns.
 * Every callback may be NULL. Callbacks are invoked from any thread (host threads during
 * submit/query, plugin threads otherwise) and must be thread-safe and quick; the plugin never
 * holds a lock of its own storage while calling them.
 */
typedef struct danvan_host_services {
  uint32_t struct_size; /* sizeof(danvan_host_services) as the host compiled it */
  void *user_data;
  /* A structured log line (JSON object, UTF-8, personal data already masked) with at least
   * "ts" (UTC, ISO 8601 with milliseconds), "level", "instance" (the configuration's
   * "instance") and "event". */
  void (*log)(void *user_data, int32_t level, const char *message, size_t message_len);
  /* An alert (JSON object: {"type":"due_soon"|"overdue"|..., "record":{...}, ...}). */
  void (*alert)(void *user_data, const char *alert_json, size_t alert_len);
  /* Optional clock override for tests: milliseconds since the Unix epoch (UTC).
   * NULL = the system clock. */
  int64_t (*now_ms)(void *user_data);
  /* Optional secret look-up, asked first (before the environment variable or file named in
   * the configuration). Names: "portal.username", "portal.password",
   * "portal.tls.client_key_password", "portal.oauth2.client_secret". Writes at most buffer_len
   * bytes (UTF-8, no NUL needed) into buffer and returns the secret's full length in bytes, or
   * -1 when unknown; when the length exceeds buffer_len the plugin calls again with a buffer of
   * that size (secrets up to 64 KiB). Called during open() on the opening thread.
   * NULL = secrets come from the environment variables and files named in the configuration. */
  int64_t (*secret)(void *user_data, const char *name, char *buffer, size_t buffer_len);
} danvan_host_services;

typedef struct danvan_api {
  uint32_t struct_size; /* sizeof(danvan_api) as the plugin was built */
  uint32_t abi_major;   /* DANVAN_ABI_MAJOR of the plugin */
  uint32_t abi_minor;   /* DANVAN_ABI_MINOR of the plugin; functions are only appended */
  const char *plugin_name;    /* "danvan" */
  const char *plugin_version; /* semantic version, e.g. "0.1.0" */
  const char *build_id;       /* git revision and build date */

  /*
   * open: parse and validate config_json (schemas/config.schema.json), open storage and
   * apply migrations. On failure returns DANVAN_INVALID_INPUT with every configuration error
   * (each with its JSON path) in *error_out, DANVAN_BAD_STATE when the store is already open
   * in another handle, or DANVAN_IO_ERROR.
   * Data directories: "schemas_dir"/"config_dir" of the configuration, else the environment
   * variable DANVAN_DATA_DIR (holding schemas/ and config/), else share/danvan of the
   * installation the loaded libdanvan.so belongs to; the error lists what was tried.
   * Threading: any thread; handles are independent of each other.
   * Blocking: disk I/O only (opening the database, migrations); no network.
   */
  danvan_status (*open)(const char *config_json, size_t config_len,
                        const danvan_host_services *services, danvan_handle **handle_out,
                        char **error_out);

  /*
   * start: start the plugin's background threads (deadline scheduler, exporters,
   * re-tagging). Idempotent. Threading: start and stop may be called from several threads at
   * once; not concurrently with close. Blocking: no (at most the time a stopped thread takes
   * to close its portal connection).
   */
  danvan_status (*start)(danvan_handle *handle, char **error_out);

  /*
   * stop: ask background threads to finish and wait for them at most timeout_ms
   * milliseconds. Work not finished stays queued durably and resumes at the next start.
   * Returns DANVAN_RETRY_LATER if a thread is still running when timeout_ms has passed (an
   * exporter inside a portal request finishes that request first, at most the portal's
   * connect/read timeouts; call stop again to wait more, or close). Never blocks longer than
   * timeout_ms. Threading: start and stop may be called from several threads at once; not
   * concurrently with close; submit/query may run.
   */
  danvan_status (*stop)(danvan_handle *handle, uint32_t timeout_ms, char **error_out);

  /*
   * close: stop (waiting at most the configured stop_timeout_ms), then cancel the portal
   * requests still in flight, join every thread of the plugin and free the handle: no thread
   * of the plugin outlives close. NULL is a no-op. Blocking: stop_timeout_ms plus the time a
   * cancelled thread takes to record its pass (no network wait).
   * Threading: no other call on this handle may be running or follow.
   */
  void (*close)(danvan_handle *handle);

  /*
   * submit: one record event (a JSON object, see README "Record events"). The event is
   * validated, tagged and durably committed before the call returns DANVAN_OK or
   * DANVAN_INVALID_INPUT; *result_out receives the JSON result
   * {"outcome":"accepted"|"duplicate"|"stale"|"rejected", "key":{...}, "errors":[...], ...}.
   * A rejected event is kept in quarantine (status DANVAN_INVALID_INPUT, result still set),
   * except that a version (or updated_at) already stored with different content answers
   * DANVAN_CONFLICT (result {"outcome":"rejected","conflict":true,...}, also quarantined).
   * DANVAN_RETRY_LATER: back-pressure (export queue full); nothing was stored.
   * Threading: any number of host threads at once on one handle.
   * Blocking: a local disk commit (fsync); never the network.
   */
  danvan_status (*submit)(danvan_handle *handle, const char *event_json, size_t event_len,
                          char **result_out, size_t *result_len, char **error_out);

  /*
   * submit_batch: JSON Lines, one event per line (empty lines ignored), committed in one
   * transaction. *result_out receives {"results":[...one per line...],"summary":{...}}.
   * Returns DANVAN_OK even if some lines were rejected (see each result); DANVAN_INVALID_INPUT
   * only when the batch itself is unacceptable (too many lines, too large).
   * Threading and blocking: as submit.
   */
  danvan_status (*submit_batch)(danvan_handle *handle, const char *jsonl, size_t jsonl_len,
                                char **result_out, size_t *result_len, char **error_out);

  /*
   * query: a JSON request {"op": "<name>", ...} answered with a JSON response. Ops include
   * "record.get", "stats", "quarantine.list"; later ABI minors add ops, not functions.
   * See README "Query operations". Unknown op: DANVAN_NOT_FOUND.
   * Threading: any number of host threads at once on one handle.
   * Blocking: local storage reads (or writes for administrative ops); never the network.
   */
  danvan_status (*query)(danvan_handle *handle, const char *request_json, size_t request_len,
                         char **response_out, size_t *response_len, char **error_out);

  /* free: release any pointer the plugin returned. NULL is a no-op. Any thread. */
  void (*free)(void *pointer);

  /* status_name: a static string naming a status ("ok", "retry_later", ...). Any thread. */
  const char *(*status_name)(danvan_status status);
} danvan_api;

/*
 * Discovery. The host passes the ABI major it was compiled against (DANVAN_ABI_MAJOR).
 * Returns the plugin's static table, or NULL when the majors differ; then *reason_out (if
 * not NULL) points to a static message (a string literal) such as "... host ABI 2, plugin
 * ABI 1 ..." (do not free).
 * Threading: any thread, any time; the table lives as long as the library stays loaded.
 */
DANVAN_EXPORT const danvan_api *danvan_get_api(uint32_t host_abi_major, const char **reason_out);

typedef const danvan_api *(*danvan_get_api_fn)(uint32_t host_abi_major, const char **reason_out);

#ifdef __cplusplus
}
#endif

#endif /* DANVAN_DANVAN_H_ */
