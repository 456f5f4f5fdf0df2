/*
 * fake_plugin.c: a minimal plugin implementing danvan.h, used to test the reference host's
 * side of the contract on paths the real engine rarely takes: back-pressure
 * (DANVAN_RETRY_LATER), batches refused as a whole, a too-small function table, alerts.
 *
 * Behaviour, from the configuration JSON (found by plain string search):
 *   "retry_later": N        every submit_batch/submit answers RETRY_LATER N times, then works
 *   "max_batch_events": M   a batch of more than M lines is refused as a whole (INVALID_INPUT)
 * and from the environment: FAKE_DANVAN_SMALL_TABLE=1 makes struct_size too small.
 * An event line containing "\"bad\"" is rejected with the error /data/bad; others are accepted
 * with the kind and unit found in the line.
 */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "danvan/danvan.h"

struct danvan_handle {
  danvan_host_services services;
  int retry_later;
  int retry_left;
  long max_batch;
  long records;
};

struct buf {
  char *p;
  size_t len, cap;
};

static void put(struct buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->len + n + 1) cap *= 2;
    b->p = (char *)realloc(b->p, cap);
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static char *dup_str(const char *s, size_t *len) {
  size_t n = strlen(s);
  char *p = (char *)malloc(n + 1);
  memcpy(p, s, n + 1);
  if (len) *len = n;
  return p;
}

static long config_int(const char *cfg, size_t len, const char *key, long dflt) {
  char pat[64], *copy = (char *)malloc(len + 1), *p;
  long v = dflt;
  memcpy(copy, cfg, len);
  copy[len] = '\0';
  snprintf(pat, sizeof pat, "\"%s\":", key);
  p = strstr(copy, pat);
  if (p) v = strtol(p + strlen(pat), NULL, 10);
  free(copy);
  return v;
}

/* Copies the string value of "key":"..." in [s, s+n) into out (bounded), or "?". */
static void field(const char *s, size_t n, const char *key, char *out, size_t out_len) {
  char pat[64];
  size_t k, i;
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  k = strlen(pat);
  for (i = 0; i + k <= n; ++i) {
    if (memcmp(s + i, pat, k) == 0) {
      size_t j = i + k, o = 0;
      while (j < n && s[j] != '"' && o + 1 < out_len) out[o++] = s[j++];
      out[o] = '\0';
      return;
    }
  }
  snprintf(out, out_len, "?");
}

static int has(const char *s, size_t n, const char *needle) {
  size_t k = strlen(needle), i;
  for (i = 0; i + k <= n; ++i)
    if (memcmp(s + i, needle, k) == 0) return 1;
  return 0;
}

static void result_for(danvan_handle *h, const char *line, size_t n, long index, struct buf *out,
                       int *rejected) {
  char kind[64], unit[64], one[512];
  field(line, n, "kind", kind, sizeof kind);
  field(line, n, "unit", unit, sizeof unit);
  *rejected = has(line, n, "\"bad\"");
  if (*rejected) {
    snprintf(one, sizeof one,
             "{\"index\":%ld,\"outcome\":\"rejected\",\"key\":{\"source\":\"fake\",\"kind\":\"%s\","
             "\"id\":\"%ld\"},\"unit\":\"%s\",\"errors\":[{\"path\":\"/data/bad\",\"reason\":"
             "\"bad value at byte %ld\"}]}",
             index, kind, index, unit, 10 + index);
    if (h->services.log) {
      const char *msg = "{\"event\":\"event_rejected\"}";
      h->services.log(h->services.user_data, DANVAN_LOG_WARN, msg, strlen(msg));
    }
  } else {
    snprintf(one, sizeof one,
             "{\"index\":%ld,\"outcome\":\"accepted\",\"key\":{\"source\":\"fake\",\"kind\":\"%s\","
             "\"id\":\"%ld\"},\"unit\":\"%s\"}",
             index, kind, index, unit);
    h->records++;
  }
  puts_(out, one);
}

static danvan_status f_open(const char *cfg, size_t len, const danvan_host_services *svc,
                            danvan_handle **out, char **err) {
  danvan_handle *h;
  if (err) *err = NULL;
  if (!out) return DANVAN_INVALID_INPUT;
  *out = NULL;
  if (len == 0 || cfg[0] != '{') {
    if (err) *err = dup_str("/: cấu hình phải là đối tượng JSON", NULL);
    return DANVAN_INVALID_INPUT;
  }
  h = (danvan_handle *)calloc(1, sizeof *h);
  if (svc) memcpy(&h->services, svc, svc->struct_size < sizeof h->services ? svc->struct_size : sizeof h->services);
  h->retry_later = (int)config_int(cfg, len, "retry_later", 0);
  h->retry_left = h->retry_later;
  h->max_batch = config_int(cfg, len, "max_batch_events", 100000);
  if (h->services.log) {
    const char *msg = "{\"event\":\"opened\"}";
    h->services.log(h->services.user_data, DANVAN_LOG_INFO, msg, strlen(msg));
  }
  *out = h;
  return DANVAN_OK;
}

static danvan_status f_start(danvan_handle *h, char **err) {
  if (err) *err = NULL;
  if (!h) return DANVAN_BAD_STATE;
  if (h->services.alert) {
    const char *a = "{\"type\":\"due_soon\",\"record\":{\"id\":\"x\"}}";
    h->services.alert(h->services.user_data, a, strlen(a));
  }
  return DANVAN_OK;
}

static danvan_status f_stop(danvan_handle *h, uint32_t t, char **err) {
  (void)t;
  if (err) *err = NULL;
  return h ? DANVAN_OK : DANVAN_BAD_STATE;
}

static void f_close(danvan_handle *h) { free(h); }

static int back_pressure(danvan_handle *h) {
  if (h->retry_left > 0) {
    h->retry_left--;
    return 1;
  }
  h->retry_left = h->retry_later; /* the next call meets the same back-pressure */
  return 0;
}

static danvan_status f_submit(danvan_handle *h, const char *ev, size_t len, char **res,
                              size_t *res_len, char **err) {
  struct buf out = {0};
  int rejected;
  if (err) *err = NULL;
  if (res) *res = NULL;
  if (!h) return DANVAN_BAD_STATE;
  if (back_pressure(h)) return DANVAN_RETRY_LATER;
  result_for(h, ev, len, 0, &out, &rejected);
  if (res) {
    *res = out.p;
    if (res_len) *res_len = out.len;
  } else {
    free(out.p);
  }
  if (rejected && err) *err = dup_str("[{\"path\":\"/data/bad\"}]", NULL);
  return rejected ? DANVAN_INVALID_INPUT : DANVAN_OK;
}

static danvan_status f_submit_batch(danvan_handle *h, const char *jsonl, size_t len, char **res,
                                    size_t *res_len, char **err) {
  struct buf out = {0};
  size_t pos = 0;
  long line = 0, events = 0, accepted = 0, rejected_n = 0;
  char tail[128];
  if (err) *err = NULL;
  if (res) *res = NULL;
  if (!h) return DANVAN_BAD_STATE;
  if (back_pressure(h)) return DANVAN_RETRY_LATER;
  for (pos = 0; pos < len; ++pos)
    if (jsonl[pos] == '\n') ++events;
  if (len && jsonl[len - 1] != '\n') ++events;
  if (events > h->max_batch) {
    if (err) *err = dup_str("lô có quá nhiều sự kiện", NULL);
    return DANVAN_INVALID_INPUT;
  }
  puts_(&out, "{\"results\":[");
  pos = 0;
  while (pos < len) {
    const char *nl = (const char *)memchr(jsonl + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - jsonl) : len;
    if (end > pos) {
      int rej;
      if (accepted + rejected_n) puts_(&out, ",");
      result_for(h, jsonl + pos, end - pos, line, &out, &rej);
      if (rej) rejected_n++;
      else accepted++;
    }
    ++line;
    pos = end + 1;
  }
  snprintf(tail, sizeof tail, "],\"summary\":{\"accepted\":%ld,\"rejected\":%ld}}", accepted, rejected_n);
  puts_(&out, tail);
  if (res) {
    *res = out.p;
    if (res_len) *res_len = out.len;
  } else {
    free(out.p);
  }
  return DANVAN_OK;
}

static danvan_status f_query(danvan_handle *h, const char *req, size_t len, char **resp,
                             size_t *resp_len, char **err) {
  char out[256];
  if (err) *err = NULL;
  if (resp) *resp = NULL;
  if (!h) return DANVAN_BAD_STATE;
  if (has(req, len, "\"stats\"")) {
    snprintf(out, sizeof out, "{\"records\":%ld,\"storage\":{\"engine\":\"sqlite\",\"path\":\"/fake/danvan.sqlite\"}}",
             h->records);
    if (resp) *resp = dup_str(out, resp_len);
    return DANVAN_OK;
  }
  if (err) *err = dup_str("/op: thao tác không được hỗ trợ", NULL);
  return DANVAN_NOT_FOUND;
}

static void f_free(void *p) { free(p); }

static const char *f_status_name(danvan_status s) {
  switch (s) {
    case DANVAN_OK: return "ok";
    case DANVAN_RETRY_LATER: return "retry_later";
    case DANVAN_INVALID_INPUT: return "invalid_input";
    case DANVAN_NOT_FOUND: return "not_found";
    default: return "other";
  }
}

static danvan_api g_api = {sizeof(danvan_api), DANVAN_ABI_MAJOR, DANVAN_ABI_MINOR, "danvan-fake",
                           "0.0.1", "test", f_open, f_start, f_stop, f_close, f_submit,
                           f_submit_batch, f_query, f_free, f_status_name};

DANVAN_EXPORT const danvan_api *danvan_get_api(uint32_t major, const char **reason) {
  static char why[64];
  if (major != DANVAN_ABI_MAJOR) {
    snprintf(why, sizeof why, "host ABI %u, plugin ABI %d", (unsigned)major, DANVAN_ABI_MAJOR);
    if (reason) *reason = why;
    return NULL;
  }
  if (getenv("FAKE_DANVAN_SMALL_TABLE")) g_api.struct_size = 16;
  return &g_api;
}
