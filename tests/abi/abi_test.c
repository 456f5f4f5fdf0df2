/*
 * abi_test.c: the C ABI of libdanvan exercised from C99, exactly as a third-party host would:
 * dlopen the built library (argv[1]), danvan_get_api, open/start/submit/submit_batch/query/
 * stop/close, every output released with api->free. Run directly and under valgrind
 * (--error-exitcode=1 --leak-check=full) by ctest.
 *
 *   abi_test PATH/libdanvan.so [SCHEMAS_DIR]
 *
 * With DANVAN_TEST_ENGINE=postgres (and DANVAN_TEST_PG_STATE) the same program runs every store
 * on the PostgreSQL test server (ctest -L postgres, abi.c_host_pg).
 *
 * Exit status 0 when every check passed; each failed check is printed with its line.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "danvan/danvan.h"

#ifndef DANVAN_SOURCE_ROOT
#define DANVAN_SOURCE_ROOT "."
#endif

static int g_checks = 0;
static int g_failures = 0;

#define CHECK(cond, ...)                                         \
  do {                                                           \
    ++g_checks;                                                  \
    if (!(cond)) {                                               \
      ++g_failures;                                              \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                              \
      fputc('\n', stderr);                                       \
    }                                                            \
  } while (0)

static const danvan_api *api;

/* ---- host services ------------------------------------------------------------------------ */

struct host_state {
  pthread_mutex_t mu;
  int logs[5];
  int alerts;
  int bad_log_json;     /* log lines that are not JSON objects */
  int leaked_personal;  /* log lines containing the test's citizen ID or phone number */
  int unstamped;        /* log lines without "ts" or without "instance":"abi-test" */
  int secret_calls;
};

static const char *const kCitizenId = "031190123456";
static const char *const kPhone = "0912345678";

static int contains_n(const char *hay, size_t len, const char *needle) {
  size_t n = strlen(needle), i;
  if (n == 0 || len < n) return 0;
  for (i = 0; i + n <= len; ++i)
    if (memcmp(hay + i, needle, n) == 0) return 1;
  return 0;
}

static void host_log(void *user, int32_t level, const char *msg, size_t len) {
  struct host_state *st = (struct host_state *)user;
  pthread_mutex_lock(&st->mu);
  if (level >= 0 && level <= 4) st->logs[level]++;
  if (len < 2 || msg[0] != '{' || msg[len - 1] != '}') st->bad_log_json++;
  if (contains_n(msg, len, kCitizenId) || contains_n(msg, len, kPhone)) st->leaked_personal++;
  if (!contains_n(msg, len, "\"ts\":\"20") || !contains_n(msg, len, "\"instance\":\"abi-test\"")) st->unstamped++;
  pthread_mutex_unlock(&st->mu);
}

/* The host's secret store: knows only the portal password (UTF-8, longer than the plugin's
   first buffer so the second call is exercised). */
static int64_t host_secret(void *user, const char *name, char *buffer, size_t buffer_len) {
  struct host_state *st = (struct host_state *)user;
  static char value[600];
  size_t n;
  pthread_mutex_lock(&st->mu);
  st->secret_calls++;
  pthread_mutex_unlock(&st->mu);
  if (strcmp(name, "portal.password") != 0) return -1;
  memset(value, 'x', sizeof value - 1);
  memcpy(value, "mật-khẩu", strlen("mật-khẩu"));
  value[sizeof value - 1] = 0;
  n = strlen(value);
  memcpy(buffer, value, n < buffer_len ? n : buffer_len);
  return (int64_t)n;
}

static void host_alert(void *user, const char *alert, size_t len) {
  struct host_state *st = (struct host_state *)user;
  (void)alert;
  (void)len;
  pthread_mutex_lock(&st->mu);
  st->alerts++;
  pthread_mutex_unlock(&st->mu);
}

/* ---- helpers ------------------------------------------------------------------------------ */

static char g_dir[256];
static char g_schemas[1024];

/* DANVAN_TEST_ENGINE=postgres (ctest -L postgres, abi.c_host_pg): every store is a database of
   its own on the test server of scripts/pg-test-server.sh (its directory named by the file
   DANVAN_TEST_PG_STATE), made here with the server's createdb; otherwise a SQLite file in g_dir. */
static int g_pg;
static char g_pg_dir[512];
static char g_pg_admin[512]; /* the server's conninfo, dbname=postgres */

static int read_first_line(const char *path, char *out, size_t n) {
  FILE *f = fopen(path, "r");
  size_t len;
  if (!f) return 0;
  if (!fgets(out, (int)n, f)) out[0] = 0;
  fclose(f);
  len = strlen(out);
  while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r')) out[--len] = 0;
  return len > 0;
}

static int pg_setup(void) {
  const char *engine = getenv("DANVAN_TEST_ENGINE");
  const char *state = getenv("DANVAN_TEST_PG_STATE");
  char path[600], password[256];
  g_pg = engine && strcmp(engine, "postgres") == 0;
  if (!g_pg) return 1;
  if (!state || !read_first_line(state, g_pg_dir, sizeof g_pg_dir)) return 0;
  snprintf(path, sizeof path, "%s/conninfo", g_pg_dir);
  if (!read_first_line(path, g_pg_admin, sizeof g_pg_admin) || !strstr(g_pg_admin, "dbname=postgres")) return 0;
  snprintf(path, sizeof path, "%s/password", g_pg_dir);
  if (!read_first_line(path, password, sizeof password)) return 0;
  return setenv("PGPASSWORD", password, 1) == 0; /* for createdb */
}

/* The "storage" member (and on PostgreSQL "reports") for the store `name`, written into buf. */
static void storage_json(const char *name, char *buf, size_t n) {
  char db[128], conninfo[700], cmd[1600];
  const char *at;
  size_t i, k = 0;
  if (!g_pg) {
    snprintf(buf, n, "\"storage\":{\"engine\":\"sqlite\",\"path\":\"%s/%s\",\"synchronous\":\"full\"}",
             g_dir, name);
    return;
  }
  k = (size_t)snprintf(db, sizeof db, "abi_%ld_", (long)getpid());
  for (i = 0; name[i] && k + 1 < sizeof db; ++i)
    db[k++] = ((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9')) ? name[i] : '_';
  db[k] = 0;
  at = strstr(g_pg_admin, "dbname=postgres");
  snprintf(conninfo, sizeof conninfo, "%.*sdbname=%s%s", (int)(at - g_pg_admin), g_pg_admin, db,
           at + strlen("dbname=postgres"));
  /* Made once: createdb fails harmlessly (quietly) when it exists. */
  snprintf(cmd, sizeof cmd, "/usr/lib/postgresql/15/bin/createdb --maintenance-db='%s' %s >/dev/null 2>&1",
           g_pg_admin, db);
  if (system(cmd) != 0) { /* exists already, or the server is gone: open() says which */
  }
  snprintf(buf, n,
           "\"storage\":{\"engine\":\"postgres\",\"postgres\":{\"conninfo\":\"%s\","
           "\"password_file\":\"%s/password\"}},\"reports\":{\"dir\":\"%s/reports\"}",
           conninfo, g_pg_dir, g_dir);
}

static char *make_config(const char *db_name, int max_batch_events) {
  char *buf = (char *)malloc(4096);
  char storage[2048];
  storage_json(db_name, storage, sizeof storage);
  snprintf(buf, 4096,
           "{\"instance\":\"abi-test\",\"schemas_dir\":\"%s\",\"config_dir\":\"%s/../config\","
           "%s,"
           "\"limits\":{\"max_event_bytes\":65536,\"max_batch_events\":%d,"
           "\"quarantine_raw_max_bytes\":4096},"
           "\"log\":{\"level\":\"info\"}}",
           g_schemas, g_schemas, storage, max_batch_events);
  return buf;
}

/* A petition event with the given id/version; extra is spliced into data (may be ""). */
static char *petition(const char *id, int version, const char *status, const char *extra) {
  char *buf = (char *)malloc(4096);
  snprintf(buf, 4096,
           "{\"kind\":\"petition\",\"source\":\"abi-test\",\"id\":\"%s\",\"unit\":\"SGDDT.TTRA\","
           "\"version\":%d,\"event_time\":\"2023-03-02T09:15:00+07:00\",\"data\":{"
           "\"petition_kind\":\"complaint\",\"round\":1,\"title\":\"Khiếu nại kết quả phúc khảo\","
           "\"content\":\"Phụ huynh khiếu nại kết quả phúc khảo bài thi môn Ngữ văn.\","
           "\"received_at\":\"2023-03-02T09:00:00+07:00\",\"channel\":\"direct\","
           "\"petitioners\":[{\"name\":\"Nguyễn Thị Lan\",\"id_number\":\"%s\",\"phone\":\"%s\"}],"
           "\"petitioner_count\":1,\"anonymous\":false,\"status\":\"%s\"%s}}",
           id, version, kCitizenId, kPhone, status, extra);
  return buf;
}

/* submit: returns the status; *result (to free) gets the result; the error is checked/freed. */
static danvan_status submit(danvan_handle *h, const char *ev, size_t len, char **result) {
  char *err = NULL;
  size_t rlen = 0;
  danvan_status st = api->submit(h, ev, len, result, &rlen, &err);
  if (*result) CHECK(rlen == strlen(*result), "result_len %zu != strlen %zu", rlen, strlen(*result));
  if (st == DANVAN_OK) CHECK(err == NULL, "error_out set on success: %s", err);
  if (st != DANVAN_OK) CHECK(err != NULL && err[0], "no error message with status %d", (int)st);
  api->free(err);
  return st;
}

static int outcome_is(const char *result, const char *outcome) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"outcome\":\"%s\"", outcome);
  return result && strstr(result, pat) != NULL;
}

static int count_of(const char *hay, const char *needle) {
  int n = 0;
  const char *p = hay;
  if (!hay) return 0;
  while ((p = strstr(p, needle)) != NULL) {
    ++n;
    p += strlen(needle);
  }
  return n;
}

/* query: returns the status; *resp (to free) gets the response. */
static danvan_status query(danvan_handle *h, const char *req, char **resp) {
  char *err = NULL;
  size_t len = 0;
  danvan_status st;
  *resp = NULL;
  st = api->query(h, req, strlen(req), resp, &len, &err);
  if (*resp) CHECK(len == strlen(*resp), "response_len %zu != strlen", len);
  if (st != DANVAN_OK) CHECK(err != NULL && err[0], "query %s: status %d without a message", req, (int)st);
  api->free(err);
  return st;
}

/* The integer after "key": in json, or -1. */
static long json_int(const char *json, const char *key) {
  char pat[128];
  const char *p;
  snprintf(pat, sizeof pat, "\"%s\":", key);
  p = json ? strstr(json, pat) : NULL;
  if (!p) return -1;
  return strtol(p + strlen(pat), NULL, 10);
}

static void remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[512];
  if (!d) return;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* ---- concurrency: many host threads submitting and querying on one handle ------------------ */

#define THREADS 4
#define PER_THREAD 20

struct worker {
  danvan_handle *h;
  int n;
  int accepted;
  int query_ok;
};

static void *worker_main(void *arg) {
  struct worker *w = (struct worker *)arg;
  int i;
  for (i = 0; i < PER_THREAD; ++i) {
    char id[64], *ev, *res = NULL, *resp = NULL, *err = NULL;
    size_t rlen = 0, qlen = 0;
    snprintf(id, sizeof id, "T%d-%03d", w->n, i);
    ev = petition(id, 1, "received", "");
    if (api->submit(w->h, ev, strlen(ev), &res, &rlen, &err) == DANVAN_OK && outcome_is(res, "accepted"))
      w->accepted++;
    api->free(res);
    api->free(err);
    free(ev);
    err = NULL;
    if (api->query(w->h, "{\"op\":\"stats\"}", 14, &resp, &qlen, &err) == DANVAN_OK) w->query_ok++;
    api->free(resp);
    api->free(err);
  }
  return NULL;
}

/* ---- the test ------------------------------------------------------------------------------ */

int main(int argc, char **argv) {
  void *lib;
  danvan_get_api_fn get_api;
  const char *reason = NULL;
  struct host_state hs;
  danvan_host_services services;
  danvan_handle *h = NULL;
  char *err = NULL, *res = NULL, *resp = NULL, *cfg, *ev;
  danvan_status st;
  const size_t needed = offsetof(danvan_api, status_name) + sizeof(api->status_name);

  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH/libdanvan.so [SCHEMAS_DIR]\n", argv[0]);
    return 2;
  }
  snprintf(g_schemas, sizeof g_schemas, "%s", argc > 2 ? argv[2] : DANVAN_SOURCE_ROOT "/schemas");
  snprintf(g_dir, sizeof g_dir, "/tmp/danvan-abi-XXXXXX");
  if (!mkdtemp(g_dir)) {
    perror("mkdtemp");
    return 2;
  }

  if (!pg_setup()) {
    fprintf(stderr, "FAIL DANVAN_TEST_ENGINE=postgres needs DANVAN_TEST_PG_STATE naming a running test server\n");
    remove_dir(g_dir);
    return 1;
  }
  lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "FAIL dlopen %s: %s\n", argv[1], dlerror());
    remove_dir(g_dir);
    return 1;
  }
  *(void **)(&get_api) = dlsym(lib, "danvan_get_api");
  if (!get_api) {
    fprintf(stderr, "FAIL dlsym danvan_get_api: %s\n", dlerror());
    dlclose(lib);
    remove_dir(g_dir);
    return 1;
  }

  /* 1. Handshake: another major is refused with a readable reason. */
  reason = NULL;
  CHECK(get_api(DANVAN_ABI_MAJOR + 1, &reason) == NULL, "ABI %d accepted", DANVAN_ABI_MAJOR + 1);
  CHECK(reason != NULL && strstr(reason, "2") != NULL && strstr(reason, "1") != NULL,
        "reason should name both majors: %s", reason ? reason : "(null)");
  reason = NULL;
  CHECK(get_api(0, &reason) == NULL, "ABI 0 accepted");
  CHECK(reason != NULL && reason[0], "no reason for ABI 0");
  CHECK(get_api(DANVAN_ABI_MAJOR + 7, NULL) == NULL, "refusal with a NULL reason pointer");

  reason = NULL;
  api = get_api(DANVAN_ABI_MAJOR, &reason);
  CHECK(api != NULL, "own major refused: %s", reason ? reason : "(null)");
  if (!api) {
    dlclose(lib);
    remove_dir(g_dir);
    return 1;
  }
  CHECK(api->abi_major == DANVAN_ABI_MAJOR, "abi_major %u", api->abi_major);
  CHECK(api->struct_size >= needed, "struct_size %u < %zu", api->struct_size, needed);
  CHECK(api->plugin_name && strcmp(api->plugin_name, "danvan") == 0, "plugin_name %s",
        api->plugin_name ? api->plugin_name : "(null)");
  CHECK(api->plugin_version && api->plugin_version[0], "no plugin_version");
  CHECK(api->build_id != NULL, "no build_id");
  CHECK(api->open && api->start && api->stop && api->close && api->submit && api->submit_batch &&
            api->query && api->free && api->status_name,
        "a function pointer is NULL");
  CHECK(strcmp(api->status_name(DANVAN_OK), "ok") == 0, "status_name(OK)=%s", api->status_name(DANVAN_OK));
  CHECK(strcmp(api->status_name(DANVAN_RETRY_LATER), "retry_later") == 0, "retry_later name");
  CHECK(api->status_name(12345) != NULL, "status_name of an unknown code is NULL");
  api->free(NULL);
  api->close(NULL);

  memset(&hs, 0, sizeof hs);
  pthread_mutex_init(&hs.mu, NULL);
  memset(&services, 0, sizeof services);
  services.struct_size = sizeof services;
  services.user_data = &hs;
  services.log = host_log;
  services.alert = host_alert;

  /* 2. A bad configuration fails with every error listed, each with its path. */
  {
    const char *bad = "{\"storage\":{\"engine\":\"mysql\"},\"bogus\":true,"
                      "\"limits\":{\"max_batch_events\":0}}";
    char full[2048];
    snprintf(full, sizeof full, "{\"schemas_dir\":\"%s\",%s", g_schemas, bad + 1);
    h = (danvan_handle *)&hs; /* must be reset to NULL on failure */
    st = api->open(full, strlen(full), &services, &h, &err);
    CHECK(st == DANVAN_INVALID_INPUT, "bad config: status %d", (int)st);
    CHECK(h == NULL, "handle not NULL after a failed open");
    CHECK(err && strstr(err, "/storage/engine"), "no /storage/engine error in: %s", err ? err : "(null)");
    CHECK(err && strstr(err, "/limits/max_batch_events"), "no /limits/max_batch_events error in: %s",
          err ? err : "(null)");
    /* One error document (ABI 1.1): code, path, Vietnamese and English message per error. */
    CHECK(err && strncmp(err, "{\"errors\":[", 11) == 0 && strstr(err, "\"status\":\"invalid_input\""),
          "not the error document: %s", err ? err : "(null)");
    CHECK(err && strstr(err, "\"code\":\"schema.unknown_field\",\"message\":\"trường không có trong lược đồ"),
          "unknown field without its code: %s", err ? err : "(null)");
    CHECK(err && strstr(err, "\"path\":\"/bogus\""), "unknown field not reported at path /bogus: %s", err ? err : "(null)");
    CHECK(err && strstr(err, "\"message_en\":\"field not allowed by the schema\""), "no English message: %s",
          err ? err : "(null)");
    api->free(err);
    err = NULL;

    st = api->open("{not json", 9, &services, &h, &err);
    CHECK(st == DANVAN_INVALID_INPUT, "non-JSON config: status %d", (int)st);
    CHECK(h == NULL && err != NULL, "non-JSON config: handle or message");
    api->free(err);
    err = NULL;
    h = NULL;
  }

  /* 2b. Secrets: the host's callback is asked first; without it the password is missing. */
  {
    char pcfg[4096], storage[2048];
    storage_json("secret.sqlite", storage, sizeof storage);
    snprintf(pcfg, sizeof pcfg,
             "{\"instance\":\"abi-test\",\"schemas_dir\":\"%s\",\"config_dir\":\"%s/../config\","
             "%s,"
             "\"portal\":{\"style\":\"envelope\",\"base_url\":\"https://127.0.0.1:9\","
             "\"envelope\":{\"username\":\"danvan\",\"dstcode\":\"VN:GOV:H26\"}}}",
             g_schemas, g_schemas, storage);
    st = api->open(pcfg, strlen(pcfg), &services, &h, &err);
    CHECK(st == DANVAN_INVALID_INPUT && err && strstr(err, "portal.password"),
          "no password and no secret callback: %d %s", (int)st, err ? err : "(null)");
    api->free(err);
    err = NULL;
    h = NULL;
    services.secret = host_secret;
    st = api->open(pcfg, strlen(pcfg), &services, &h, &err);
    CHECK(st == DANVAN_OK && h, "password from the secret callback: %d %s", (int)st, err ? err : "");
    CHECK(hs.secret_calls > 0, "secret callback never called");
    api->free(err);
    err = NULL;
    api->close(h);
    h = NULL;
    services.secret = NULL;
  }

  /* 3. Open, start (idempotent). */
  cfg = make_config("danvan.sqlite", 50);
  st = api->open(cfg, strlen(cfg), &services, &h, &err);
  CHECK(st == DANVAN_OK && h != NULL, "open: status %d: %s", (int)st, err ? err : "");
  api->free(err);
  err = NULL;
  if (!h) {
    free(cfg);
    dlclose(lib);
    remove_dir(g_dir);
    fprintf(stderr, "abi_test: %d of %d checks failed\n", g_failures, g_checks);
    return 1;
  }
  /* 3b. One store, one owner: a second open of the same store is refused, naming the holder. */
  {
    danvan_handle *h2 = NULL;
    st = api->open(cfg, strlen(cfg), &services, &h2, &err);
    CHECK(st == DANVAN_BAD_STATE && h2 == NULL, "second open of the same store: status %d", (int)st);
    CHECK(err && strstr(err, "\"code\":\"store.locked\"") && strstr(err, "pid ") &&
              strstr(err, "instance 'abi-test'"),
          "second open: holder not named: %s", err ? err : "(null)");
    api->free(err);
    err = NULL;
    if (h2) api->close(h2);
  }
  CHECK(api->start(h, &err) == DANVAN_OK, "start: %s", err ? err : "");
  api->free(err);
  err = NULL;
  CHECK(api->start(h, &err) == DANVAN_OK, "second start: %s", err ? err : "");
  api->free(err);
  err = NULL;

  /* 4. Submit: accepted, duplicate, newer, stale, conflict. */
  ev = petition("KN-2023-0001", 1, "received", "");
  st = submit(h, ev, strlen(ev), &res);
  CHECK(st == DANVAN_OK && outcome_is(res, "accepted"), "v1: %d %s", (int)st, res ? res : "");
  CHECK(res && strstr(res, "\"id\":\"KN-2023-0001\"") && strstr(res, "\"source\":\"abi-test\""),
        "result without its key: %s", res ? res : "");
  api->free(res);
  res = NULL;
  st = submit(h, ev, strlen(ev), &res);
  CHECK(st == DANVAN_OK && outcome_is(res, "duplicate"), "re-sent v1: %d %s", (int)st, res ? res : "");
  api->free(res);
  res = NULL;
  free(ev);

  ev = petition("KN-2023-0001", 3, "in_progress", ",\"accepted_at\":\"2023-03-06\"");
  st = submit(h, ev, strlen(ev), &res);
  CHECK(st == DANVAN_OK && outcome_is(res, "accepted"), "v3: %d %s", (int)st, res ? res : "");
  api->free(res);
  res = NULL;
  free(ev);

  ev = petition("KN-2023-0001", 2, "accepted", ",\"accepted_at\":\"2023-03-06\"");
  st = submit(h, ev, strlen(ev), &res);
  CHECK(st == DANVAN_OK && outcome_is(res, "stale"), "late v2: %d %s", (int)st, res ? res : "");
  api->free(res);
  res = NULL;
  free(ev);

  ev = petition("KN-2023-0001", 3, "resolved", "");
  st = submit(h, ev, strlen(ev), &res);
  CHECK(st == DANVAN_CONFLICT && outcome_is(res, "rejected") && strstr(res, "\"conflict\":true"),
        "v3 again with other content must answer CONFLICT: %d %s", (int)st, res ? res : "");
  api->free(res);
  res = NULL;
  free(ev);

  /* Borrowed pointer + length: bytes after len are not read. */
  {
    char *good = petition("KN-2023-0002", 1, "received", "");
    size_t n = strlen(good);
    char *buf = (char *)malloc(n + 32);
    memcpy(buf, good, n);
    memcpy(buf + n, "}}garbage, not NUL-terminated", 29);
    st = submit(h, buf, n, &res);
    CHECK(st == DANVAN_OK && outcome_is(res, "accepted"), "length not honoured: %d %s", (int)st,
          res ? res : "");
    api->free(res);
    res = NULL;
    free(buf);
    free(good);
  }

  /* 5. Bad events: rejected with the field path, status INVALID_INPUT, result still set. */
  ev = petition("KN-2023-0003", 1, "received", "");
  {
    /* drop "status": replace it with an unknown-free equivalent field name */
    char *p = strstr(ev, "\"status\":");
    memcpy(p, "\"xtatus\"", 8);
  }
  st = submit(h, ev, strlen(ev), &res);
  CHECK(st == DANVAN_INVALID_INPUT, "missing status: status %d", (int)st);
  CHECK(outcome_is(res, "rejected") && strstr(res, "/data/status"), "missing status: %s", res ? res : "");
  api->free(res);
  res = NULL;
  free(ev);

  ev = petition("KN-2023-0004", 1, "received", ",\"petitioner_count\":\"mot\"");
  st = submit(h, ev, strlen(ev), &res);
  CHECK(st == DANVAN_INVALID_INPUT && outcome_is(res, "rejected"), "wrong type: %d %s", (int)st,
        res ? res : "");
  free(ev);
  api->free(res);
  res = NULL;

  {
    /* UTF-8 text with a stray legacy byte in it: no encoding decodes it with confidence, so it
       is rejected with its byte offset (pure TCVN3/VNI/VISCII text is converted instead). */
    const char *bad = "{\"kind\":\"petition\",\"source\":\"abi-test\",\"id\":\"KN-2023-0005\","
                      "\"unit\":\"SGDDT.TTRA\",\"version\":1,\"event_time\":\"2023-03-02\","
                      "\"data\":{\"received_at\":\"2023-03-02\",\"status\":\"received\","
                      "\"content\":\"Tr\xc6\xb0\xe1\xbb\x9dng THPT \xa9 \xd0 l\xe1\xbb\x9bp\"}}";
    st = submit(h, bad, strlen(bad), &res);
    CHECK(st == DANVAN_INVALID_INPUT && outcome_is(res, "rejected"), "invalid UTF-8: %d %s", (int)st,
          res ? res : "");
    CHECK(res && strstr(res, "byte"), "invalid UTF-8 without a byte offset: %s", res ? res : "");
    api->free(res);
    res = NULL;
  }
  {
    const char *bad = "{\"kind\":\"complaint\",\"source\":\"abi-test\",\"id\":\"X1\",\"unit\":\"U\","
                      "\"version\":1,\"event_time\":\"2023-03-02\",\"data\":{}}";
    st = submit(h, bad, strlen(bad), &res);
    CHECK(st == DANVAN_INVALID_INPUT && outcome_is(res, "rejected") && strstr(res, "/kind"),
          "unknown kind: %d %s", (int)st, res ? res : "");
    api->free(res);
    res = NULL;
  }
  st = submit(h, "{\"kind\":", 8, &res);
  CHECK(st == DANVAN_INVALID_INPUT && outcome_is(res, "rejected"), "truncated JSON: %d", (int)st);
  api->free(res);
  res = NULL;
  st = submit(h, "", 0, &res);
  CHECK(st == DANVAN_INVALID_INPUT, "empty event: %d", (int)st);
  api->free(res);
  res = NULL;

  /* 6. A dossier (portal item) and a progress step with the same key. */
  {
    const char *dossier =
        "{\"kind\":\"dossier\",\"source\":\"abi-test\",\"id\":\"000.20.31.H31-230302-0001\","
        "\"unit\":\"SGDDT.QLCL\",\"version\":1,\"event_time\":\"2023-03-02T08:10:00+07:00\","
        "\"data\":{\"MaHoSo\":\"000.20.31.H31-230302-0001\",\"MaTTHC\":\"1.005090\","
        "\"TenTTHC\":\"Cấp bản sao văn bằng, chứng chỉ từ sổ gốc\",\"KenhThucHien\":\"2\","
        "\"TrangThaiHoSo\":\"2\",\"NgayTiepNhan\":\"20230302081000\",\"NgayHenTra\":\"20230306170000\","
        "\"NgayKetThucXuLy\":\"\",\"DanhSachLePhi\":[],\"TaiLieuNop\":[]}}";
    const char *step =
        "{\"kind\":\"dossier\",\"source\":\"abi-test\",\"id\":\"000.20.31.H31-230302-0001\","
        "\"unit\":\"SGDDT.QLCL\",\"version\":2,\"event_time\":\"2023-03-02T10:00:00+07:00\","
        "\"data\":{\"MaHoSo\":\"000.20.31.H31-230302-0001\",\"TrangThai\":\"4\","
        "\"ThoiDiemXuLy\":\"20230302100000\",\"NguoiXuLy\":\"Trần Văn Nam\",\"ChucDanh\":\"Chuyên viên\","
        "\"PhongBanXuLy\":\"Phòng Quản lý chất lượng\",\"NoiDungXuLy\":\"Thụ lý hồ sơ\","
        "\"NgayBatDau\":\"20230302100000\",\"NgayKetThucTheoQuyDinh\":\"20230306170000\"}}";
    st = submit(h, dossier, strlen(dossier), &res);
    CHECK(st == DANVAN_OK && outcome_is(res, "accepted"), "dossier: %d %s", (int)st, res ? res : "");
    api->free(res);
    res = NULL;
    st = submit(h, step, strlen(step), &res);
    CHECK(st == DANVAN_OK && outcome_is(res, "accepted"), "progress step: %d %s", (int)st, res ? res : "");
    api->free(res);
    res = NULL;
    st = query(h, "{\"op\":\"record.get\",\"source\":\"abi-test\",\"kind\":\"dossier\","
                  "\"id\":\"000.20.31.H31-230302-0001\"}", &resp);
    CHECK(st == DANVAN_OK && resp && strstr(resp, "\"history\"") && strstr(resp, "\"1.005090\""),
          "record.get dossier: %d %s", (int)st, resp ? resp : "");
    CHECK(resp && strstr(resp, "Thụ lý hồ sơ"), "the progress step is not in the history: %s",
          resp ? resp : "");
    api->free(resp);
    resp = NULL;
  }

  /* 7. submit_batch: one result per non-empty line, a summary; whole-batch limits. */
  {
    char *a = petition("KN-2023-0100", 1, "received", "");
    char *b = petition("KN-2023-0101", 1, "received", "");
    char *batch = (char *)malloc(strlen(a) + strlen(b) + 64);
    size_t rlen = 0;
    sprintf(batch, "%s\n\n{\"kind\":\"petition\"}\n%s\n", a, b);
    st = api->submit_batch(h, batch, strlen(batch), &res, &rlen, &err);
    CHECK(st == DANVAN_OK, "submit_batch: %d %s", (int)st, err ? err : "");
    CHECK(res && rlen == strlen(res), "batch result length");
    CHECK(res && strstr(res, "\"results\"") && strstr(res, "\"summary\""), "batch shape: %s", res ? res : "");
    CHECK(count_of(res, "\"outcome\":\"accepted\"") == 2 && count_of(res, "\"outcome\":\"rejected\"") == 1,
          "batch outcomes: %s", res ? res : "");
    CHECK(count_of(res, "\"outcome\"") == 3, "blank line got a result: %s", res ? res : "");
    api->free(res);
    api->free(err);
    res = NULL;
    err = NULL;
    free(a);
    free(b);
    free(batch);
  }
  {
    /* 51 lines against max_batch_events 50: the batch itself is refused, nothing stored. */
    size_t cap = 60 * 4096, used = 0;
    char *big = (char *)malloc(cap);
    int i;
    size_t rlen = 0;
    for (i = 0; i < 51; ++i) {
      char id[32], *e;
      snprintf(id, sizeof id, "BIG-%02d", i);
      e = petition(id, 1, "received", "");
      used += (size_t)sprintf(big + used, "%s\n", e);
      free(e);
    }
    st = api->submit_batch(h, big, used, &res, &rlen, &err);
    CHECK(st == DANVAN_INVALID_INPUT && err != NULL, "oversized batch: %d", (int)st);
    api->free(res);
    api->free(err);
    res = NULL;
    err = NULL;
    free(big);
    st = query(h, "{\"op\":\"record.get\",\"source\":\"abi-test\",\"kind\":\"petition\",\"id\":\"BIG-00\"}",
               &resp);
    CHECK(st == DANVAN_NOT_FOUND, "a refused batch stored something: %d", (int)st);
    api->free(resp);
    resp = NULL;
  }

  /* 8. Queries. */
  st = query(h, "{\"op\":\"record.get\",\"source\":\"abi-test\",\"kind\":\"petition\",\"id\":\"KN-2023-0001\"}",
             &resp);
  CHECK(st == DANVAN_OK, "record.get: %d", (int)st);
  CHECK(resp && json_int(resp, "version") == 3, "current version should be 3: %s", resp ? resp : "");
  CHECK(resp && strstr(resp, "\"in_progress\"") && strstr(resp, "\"history\"") && strstr(resp, "stale"),
        "record/history: %s", resp ? resp : "");
  api->free(resp);
  resp = NULL;
  st = query(h, "{\"op\":\"record.get\",\"source\":\"abi-test\",\"kind\":\"petition\",\"id\":\"none\"}", &resp);
  CHECK(st == DANVAN_NOT_FOUND, "missing record: %d", (int)st);
  api->free(resp);
  resp = NULL;
  st = query(h, "{\"op\":\"no.such.op\"}", &resp);
  CHECK(st == DANVAN_NOT_FOUND, "unknown op: %d", (int)st);
  api->free(resp);
  resp = NULL;
  st = query(h, "{\"op\":", &resp);
  CHECK(st == DANVAN_INVALID_INPUT, "malformed request: %d", (int)st);
  api->free(resp);
  resp = NULL;
  st = query(h, "{\"op\":\"quarantine.list\"}", &resp);
  CHECK(st == DANVAN_OK && resp && strstr(resp, "\"items\""), "quarantine.list: %d", (int)st);
  CHECK(resp && strstr(resp, "KN-2023-0003"), "rejected event not in quarantine: %s", resp ? resp : "");
  api->free(resp);
  resp = NULL;
  st = query(h, "{\"op\":\"stats\"}", &resp);
  CHECK(st == DANVAN_OK && resp, "stats: %d", (int)st);
  CHECK(resp && strstr(resp, g_pg ? "postgresql://127.0.0.1:" : g_dir), "stats does not say where the store is: %s",
        resp ? resp : "");
  /* petitions KN-0001, KN-0002, KN-0100, KN-0101 and the dossier */
  CHECK(json_int(resp, "records") == 5, "stats records: %s", resp ? resp : "");
  api->free(resp);
  resp = NULL;

  /* 9. Several host threads at once on one handle. */
  {
    pthread_t t[THREADS];
    struct worker w[THREADS];
    int i, accepted = 0, qok = 0;
    for (i = 0; i < THREADS; ++i) {
      memset(&w[i], 0, sizeof w[i]);
      w[i].h = h;
      w[i].n = i;
      pthread_create(&t[i], NULL, worker_main, &w[i]);
    }
    for (i = 0; i < THREADS; ++i) {
      pthread_join(t[i], NULL);
      accepted += w[i].accepted;
      qok += w[i].query_ok;
    }
    CHECK(accepted == THREADS * PER_THREAD, "concurrent submits accepted %d of %d", accepted,
          THREADS * PER_THREAD);
    CHECK(qok == THREADS * PER_THREAD, "concurrent queries ok %d", qok);
    st = query(h, "{\"op\":\"stats\"}", &resp);
    CHECK(json_int(resp, "records") == 5 + THREADS * PER_THREAD, "records after threads: %s",
          resp ? resp : "");
    api->free(resp);
    resp = NULL;
  }

  /* 10. Stop (bounded), queries still answer, close. */
  st = api->stop(h, 5000, &err);
  CHECK(st == DANVAN_OK || st == DANVAN_RETRY_LATER, "stop: %d %s", (int)st, err ? err : "");
  api->free(err);
  err = NULL;
  st = query(h, "{\"op\":\"stats\"}", &resp);
  CHECK(st == DANVAN_OK, "query after stop: %d", (int)st);
  api->free(resp);
  resp = NULL;
  api->close(h);
  h = NULL;

  pthread_mutex_lock(&hs.mu);
  CHECK(hs.logs[DANVAN_LOG_INFO] + hs.logs[DANVAN_LOG_WARN] + hs.logs[DANVAN_LOG_ERROR] > 0,
        "the log callback was never called");
  CHECK(hs.logs[DANVAN_LOG_TRACE] == 0 && hs.logs[DANVAN_LOG_DEBUG] == 0,
        "log level 'info' not honoured: %d trace, %d debug lines", hs.logs[0], hs.logs[1]);
  CHECK(hs.bad_log_json == 0, "%d log lines are not JSON objects", hs.bad_log_json);
  CHECK(hs.leaked_personal == 0, "%d log lines contain a citizen ID or phone number",
        hs.leaked_personal);
  CHECK(hs.unstamped == 0, "%d log lines without a timestamp or the instance name", hs.unstamped);
  pthread_mutex_unlock(&hs.mu);

  /* 11. Reopen the same file (no services at all): what was acknowledged is there. */
  st = api->open(cfg, strlen(cfg), NULL, &h, &err);
  CHECK(st == DANVAN_OK && h, "reopen without services: %d %s", (int)st, err ? err : "");
  api->free(err);
  err = NULL;
  if (h) {
    st = query(h, "{\"op\":\"record.get\",\"source\":\"abi-test\",\"kind\":\"petition\",\"id\":\"KN-2023-0001\"}",
               &resp);
    CHECK(st == DANVAN_OK && json_int(resp, "version") == 3, "after reopen: %d %s", (int)st, resp ? resp : "");
    api->free(resp);
    resp = NULL;
    st = query(h, "{\"op\":\"record.get\",\"source\":\"abi-test\",\"kind\":\"petition\",\"id\":\"T3-019\"}", &resp);
    CHECK(st == DANVAN_OK, "a concurrent submit lost after reopen: %d", (int)st);
    api->free(resp);
    resp = NULL;
    api->close(h);
    h = NULL;
  }
  free(cfg);

  pthread_mutex_destroy(&hs.mu);
  CHECK(dlclose(lib) == 0, "dlclose: %s", dlerror());
  remove_dir(g_dir);
  if (g_failures) {
    fprintf(stderr, "abi_test: %d of %d checks failed\n", g_failures, g_checks);
    return 1;
  }
  printf("abi_test: all %d checks passed\n", g_checks);
  return 0;
}
