/*
 * The C conformance driver: roomlink's C ABI (bindings/c/roomlink.h) behind the driver protocol
 * of conformance/README.md (JSON lines: commands on stdin; replies, events and callback results
 * on stdout). The same shape as the Rust reference driver (conformance/drivers/rust/src/main.rs).
 * JSON via cJSON. Usage: driver NAME [pull]
 *
 * Two ways to get events, the two of the C ABI:
 * - callback mode (the `c` and `c-valgrind` launchers): engines get a roomlink_event_handler;
 *   each engine's event thread prints its events and runs armed hooks inside the callback.
 * - pull mode (`pull`, the `c-pull` launcher): engines are created without a handler. Each
 *   client has a pump thread of the driver's own, woken by the engine's event-ready callback
 *   (roomlink_set_event_ready_callback), which then takes events with roomlink_poll_event until
 *   NULL, prints each and runs armed hooks while handling it: the flow of a host that drains on
 *   its own thread (the Flutter plugin's, on its isolate). Log records come through the log
 *   queue (roomlink_set_log_queue) instead of the log callback.
 * The same functions print events and fire hooks in both modes (pull mode hands them the fields
 * of the polled roomlink_event), so the protocol output is the same.
 *
 * Threads: the main thread reads commands and replies. Every stdout line is written under one
 * mutex. Everything allocated is freed before exit, so valgrind's leak check sees no loss.
 */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roomlink.h"

/* A one-shot in_callback hook: run `then` inside the callback of the next event matching `when`. */
struct hook {
  cJSON *id; /* the arming command's id, echoed in the callback result */
  cJSON *when;
  cJSON *then;
  struct hook *next;
};

struct client {
  char *name;
  roomlink_engine engine;
  int destroyed;       /* destroy was called: exit must not destroy again */
  int released;        /* on_released ran (pull mode: the pump ended): no event will come */
  struct hook *hooks;  /* oldest armed first */
  /* Pull mode only. */
  pthread_t pump;
  int has_pump;        /* the pump thread runs (join it once released) */
  int ready;           /* the event-ready callback (or a destroy) asked the pump to drain */
  pthread_cond_t ready_cond;
  struct client *next;
};

/* Guards the client list, each client's hooks and flags. Never held across a roomlink call. */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t released_cond = PTHREAD_COND_INITIALIZER;
static struct client *clients;
/* Pull mode (argv[2] == "pull"): engines without a handler, events taken by polling. */
static int pull_mode;
/* One stdout line at a time. */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void emit(cJSON *line) {
  char *text = cJSON_PrintUnformatted(line);
  cJSON_Delete(line);
  if (text == NULL) {
    fprintf(stderr, "c driver: out of memory printing a line\n");
    return;
  }
  pthread_mutex_lock(&out_lock);
  fputs(text, stdout);
  fputc('\n', stdout);
  fflush(stdout);
  pthread_mutex_unlock(&out_lock);
  free(text);
}

static struct client *find_client(const char *name) { /* state_lock held */
  for (struct client *c = clients; c != NULL; c = c->next) {
    if (strcmp(c->name, name) == 0) return c;
  }
  return NULL;
}

static void free_hook(struct hook *h) {
  cJSON_Delete(h->id);
  cJSON_Delete(h->when);
  cJSON_Delete(h->then);
  free(h);
}

/* ---- reading commands ---- */

static const char *str_of(const cJSON *obj, const char *key, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsString(v)) {
    snprintf(err, errlen, "missing string \"%s\"", key);
    return NULL;
  }
  return v->valuestring;
}

static int bool_of(const cJSON *obj, const char *key, int *out, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsBool(v)) {
    snprintf(err, errlen, "missing bool \"%s\"", key);
    return -1;
  }
  *out = cJSON_IsTrue(v);
  return 0;
}

static int ms_of(const cJSON *config, const char *key, uint64_t *out, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(config, key);
  if (!cJSON_IsNumber(v) || v->valuedouble < 0) {
    snprintf(err, errlen, "missing integer config.%s", key);
    return -1;
  }
  *out = (uint64_t)v->valuedouble;
  return 0;
}

/* ---- events ---- */

static cJSON *users_json(const roomlink_user *users, uint32_t n) {
  cJSON *list = cJSON_CreateArray();
  for (uint32_t i = 0; i < n; i++) {
    cJSON *u = cJSON_CreateObject();
    cJSON_AddStringToObject(u, "user_id", users[i].user_id);
    cJSON_AddStringToObject(u, "user_name", users[i].user_name);
    cJSON_AddItemToArray(list, u);
  }
  return list;
}

static cJSON *streams_json(const roomlink_stream *streams, uint32_t n) {
  cJSON *list = cJSON_CreateArray();
  for (uint32_t i = 0; i < n; i++) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "user_id", streams[i].user.user_id);
    cJSON_AddStringToObject(s, "stream_id", streams[i].stream_id);
    cJSON_AddStringToObject(s, "extra_info", streams[i].extra_info);
    cJSON_AddItemToArray(list, s);
  }
  return list;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The spec's pattern match for `users`/`streams`: the event's IDs, sorted, equal `want`. */
static int ids_match(const cJSON *want, const cJSON *list, const char *id_key) {
  int n = cJSON_GetArraySize(list);
  if (!cJSON_IsArray(want) || cJSON_GetArraySize(want) != n) return 0;
  const char **ids = calloc(n > 0 ? (size_t)n : 1, sizeof *ids);
  if (ids == NULL) return 0;
  for (int i = 0; i < n; i++) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, i), id_key);
    ids[i] = cJSON_IsString(id) ? id->valuestring : "";
  }
  qsort(ids, (size_t)n, sizeof *ids, cmp_str);
  int same = 1;
  for (int i = 0; i < n && same; i++) {
    const cJSON *w = cJSON_GetArrayItem(want, i);
    same = cJSON_IsString(w) && strcmp(w->valuestring, ids[i]) == 0;
  }
  free(ids);
  return same;
}

/* Every key of `when` equals the event line's, except users/streams (sorted IDs). */
static int matches(const cJSON *when, const cJSON *line) {
  const cJSON *want;
  cJSON_ArrayForEach(want, when) {
    const cJSON *have = cJSON_GetObjectItemCaseSensitive(line, want->string);
    if (strcmp(want->string, "users") == 0) {
      if (!ids_match(want, have, "user_id")) return 0;
    } else if (strcmp(want->string, "streams") == 0) {
      if (!ids_match(want, have, "stream_id")) return 0;
    } else if (have == NULL || !cJSON_Compare(want, have, 1)) {
      return 0;
    }
  }
  return 1;
}

static cJSON *call(struct client *c, const cJSON *cmd, char *err, size_t errlen);

/* On the engine's event thread: print the event, then fire the first matching hook in place. */
static void on_event(struct client *c, const char *room, cJSON *line) {
  cJSON_AddStringToObject(line, "client", c->name);
  cJSON_AddStringToObject(line, "room", room);
  struct hook *fired = NULL;
  /* Choosing the hook and printing under one lock: a hook armed after this line was printed
   * never fires on it (hooks see only later events). */
  pthread_mutex_lock(&state_lock);
  for (struct hook **at = &c->hooks; *at != NULL; at = &(*at)->next) {
    if (matches((*at)->when, line)) {
      fired = *at;
      *at = fired->next;
      break;
    }
  }
  emit(line);
  pthread_mutex_unlock(&state_lock);
  if (fired == NULL) return;
  char err[256] = "";
  cJSON *result = call(c, fired->then, err, sizeof err);
  if (result == NULL) {
    result = cJSON_CreateObject();
    cJSON_AddNumberToObject(result, "code", -1);
    cJSON_AddStringToObject(result, "error", err);
  }
  cJSON_AddItemToObject(result, "hook", cJSON_Duplicate(fired->id, 1));
  cJSON_AddItemToObject(result, "cmd",
                        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(fired->then, "cmd"), 1));
  cJSON *out = cJSON_CreateObject();
  cJSON_AddStringToObject(out, "client", c->name);
  cJSON_AddItemToObject(out, "callback_result", result);
  emit(out);
  free_hook(fired);
}

static void on_room_state_changed(void *ud, const char *room, roomlink_room_state_reason reason,
                                  int32_t code, const roomlink_kv *kvs, uint32_t n) {
  cJSON *line = cJSON_CreateObject();
  cJSON_AddStringToObject(line, "event", "room_state_changed");
  cJSON_AddNumberToObject(line, "reason", reason);
  cJSON_AddNumberToObject(line, "code", code);
  cJSON *data = cJSON_AddObjectToObject(line, "extended_data");
  for (uint32_t i = 0; i < n; i++) cJSON_AddStringToObject(data, kvs[i].key, kvs[i].value);
  on_event(ud, room, line);
}

static void on_room_user_update(void *ud, const char *room, roomlink_update_type update,
                                const roomlink_user *users, uint32_t n) {
  cJSON *line = cJSON_CreateObject();
  cJSON_AddStringToObject(line, "event", "room_user_update");
  cJSON_AddNumberToObject(line, "update", update);
  cJSON_AddItemToObject(line, "users", users_json(users, n));
  on_event(ud, room, line);
}

static void on_room_online_user_count_update(void *ud, const char *room, uint32_t count) {
  cJSON *line = cJSON_CreateObject();
  cJSON_AddStringToObject(line, "event", "room_online_user_count_update");
  cJSON_AddNumberToObject(line, "count", count);
  on_event(ud, room, line);
}

static void on_room_stream_update(void *ud, const char *room, roomlink_update_type update,
                                  const roomlink_stream *streams, uint32_t n,
                                  roomlink_stream_delete_reason reason) {
  cJSON *line = cJSON_CreateObject();
  cJSON_AddStringToObject(line, "event", "room_stream_update");
  cJSON_AddNumberToObject(line, "update", update);
  cJSON_AddItemToObject(line, "streams", streams_json(streams, n));
  if (reason == ROOMLINK_STREAM_DELETE_REASON_NONE) {
    cJSON_AddNullToObject(line, "reason");
  } else {
    cJSON_AddNumberToObject(line, "reason", reason);
  }
  on_event(ud, room, line);
}

static void on_room_token_will_expire(void *ud, const char *room, uint32_t remaining_seconds) {
  cJSON *line = cJSON_CreateObject();
  cJSON_AddStringToObject(line, "event", "room_token_will_expire");
  cJSON_AddNumberToObject(line, "remaining_seconds", remaining_seconds);
  on_event(ud, room, line);
}

static void on_released(void *ud) {
  struct client *c = ud;
  pthread_mutex_lock(&state_lock);
  c->released = 1;
  pthread_cond_broadcast(&released_cond);
  pthread_mutex_unlock(&state_lock);
}

static void log_to_stderr(void *ud, roomlink_log_level level, const char *target,
                          const char *message) {
  (void)ud;
  static const char *const names[] = {"OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"};
  fprintf(stderr, "[%s %s] %s\n", level <= 5 ? names[level] : "?", target, message);
}

/* ---- pull mode ---- */

/* The log queue's ready call (pull mode): take the records right here (allowed inside it). */
static void drain_logs(void *ud) {
  roomlink_log_record *r = NULL;
  while (roomlink_poll_log_record(&r) == ROOMLINK_CODE_OK && r != NULL) {
    if (r->dropped_before > 0) fprintf(stderr, "[c driver] %u log records dropped\n", r->dropped_before);
    log_to_stderr(ud, r->level, r->target, r->message);
    roomlink_log_record_free(r);
  }
}

/* Tells the client's pump to drain (state_lock not held). */
static void wake_pump(struct client *c) {
  pthread_mutex_lock(&state_lock);
  c->ready = 1;
  pthread_cond_signal(&c->ready_cond);
  pthread_mutex_unlock(&state_lock);
}

/* The event-ready callback, on the engine's thread: only wakes the pump, which drains later. */
static void on_events_ready(void *ud) { wake_pump(ud); }

/* A polled event, handed to the callback-mode functions (which print it and fire hooks). */
static void deliver(struct client *c, const roomlink_event *ev) {
  switch (ev->kind) {
    case ROOMLINK_EVENT_ROOM_STATE_CHANGED:
      on_room_state_changed(c, ev->room_id, ev->reason, ev->error_code, ev->extended_data,
                            ev->extended_data_len);
      break;
    case ROOMLINK_EVENT_ROOM_USER_UPDATE:
      on_room_user_update(c, ev->room_id, ev->update_type, ev->users, ev->user_count);
      break;
    case ROOMLINK_EVENT_ROOM_ONLINE_USER_COUNT_UPDATE:
      on_room_online_user_count_update(c, ev->room_id, ev->count);
      break;
    case ROOMLINK_EVENT_ROOM_STREAM_UPDATE:
      on_room_stream_update(c, ev->room_id, ev->update_type, ev->streams, ev->stream_count,
                            ev->stream_delete_reason);
      break;
    case ROOMLINK_EVENT_ROOM_TOKEN_WILL_EXPIRE:
      on_room_token_will_expire(c, ev->room_id, ev->remaining_seconds);
      break;
    default:
      fprintf(stderr, "c driver: unknown event kind %u\n", ev->kind);
  }
}

/* A client's pump thread: after each wake-up, take events until NULL (the event-ready rule);
 * ends when the engine reports its end (destroyed, last event taken). */
static void *pump(void *arg) {
  struct client *c = arg;
  int32_t code = ROOMLINK_CODE_OK;
  while (code == ROOMLINK_CODE_OK) {
    pthread_mutex_lock(&state_lock);
    while (!c->ready) pthread_cond_wait(&c->ready_cond, &state_lock);
    c->ready = 0;
    pthread_mutex_unlock(&state_lock);
    roomlink_event *ev = NULL;
    while ((code = roomlink_poll_event(c->engine, &ev)) == ROOMLINK_CODE_OK && ev != NULL) {
      deliver(c, ev); /* hooks run here, while the polled event is handled */
      roomlink_event_free(ev);
    }
  }
  if (code != ROOMLINK_CODE_ENGINE_DESTROYED) {
    fprintf(stderr, "c driver: roomlink_poll_event for %s returned %d\n", c->name, code);
  }
  on_released(c);
  return NULL;
}

/* Starts pull mode for a created engine: the pump, then the event-ready callback. */
static int32_t start_pump(struct client *c) {
  if (pthread_cond_init(&c->ready_cond, NULL) != 0) return ROOMLINK_CODE_INTERNAL_ERROR;
  if (pthread_create(&c->pump, NULL, pump, c) != 0) {
    pthread_cond_destroy(&c->ready_cond);
    return ROOMLINK_CODE_INTERNAL_ERROR;
  }
  c->has_pump = 1;
  return roomlink_set_event_ready_callback(c->engine, on_events_ready, c);
}

/* ---- commands ---- */

static cJSON *code_reply(int32_t code) {
  cJSON *reply = cJSON_CreateObject();
  cJSON_AddNumberToObject(reply, "code", code);
  return reply;
}

static cJSON *create(const char *name, const cJSON *config, char *err, size_t errlen) {
  pthread_mutex_lock(&state_lock);
  int exists = find_client(name) != NULL;
  pthread_mutex_unlock(&state_lock);
  if (exists) {
    snprintf(err, errlen, "client \"%s\" exists", name);
    return NULL;
  }
  roomlink_engine_config cfg;
  roomlink_engine_config_default(&cfg);
  const char *mode = str_of(config, "room_mode", err, errlen);
  if (mode == NULL) return NULL;
  if (strcmp(mode, "single_room") == 0) {
    cfg.room_mode = ROOMLINK_ROOM_MODE_SINGLE_ROOM;
  } else if (strcmp(mode, "multi_room") == 0) {
    cfg.room_mode = ROOMLINK_ROOM_MODE_MULTI_ROOM;
  } else {
    snprintf(err, errlen, "unknown room_mode \"%s\"", mode);
    return NULL;
  }
  if (ms_of(config, "heartbeat_interval_ms", &cfg.heartbeat_interval_ms, err, errlen) ||
      ms_of(config, "ping_timeout_ms", &cfg.ping_timeout_ms, err, errlen) ||
      ms_of(config, "login_timeout_ms", &cfg.login_timeout_ms, err, errlen) ||
      ms_of(config, "retry_window_ms", &cfg.retry_window_ms, err, errlen) ||
      ms_of(config, "backoff_base_ms", &cfg.backoff_base_ms, err, errlen) ||
      ms_of(config, "backoff_cap_ms", &cfg.backoff_cap_ms, err, errlen) ||
      ms_of(config, "token_warning_ms", &cfg.token_warning_ms, err, errlen)) {
    return NULL;
  }
  cfg.server_url = str_of(config, "server_url", err, errlen);
  if (cfg.server_url == NULL) return NULL;
  /* Optional: further URLs (cluster-only scenarios) and a CA to pin (wss:// scenarios). Both are
   * borrowed by roomlink_engine_create for the call only, so the JSON's strings are enough. */
  const char *more[8];
  const cJSON *urls = cJSON_GetObjectItemCaseSensitive(config, "more_server_urls");
  if (urls != NULL) {
    int n = cJSON_IsArray(urls) ? cJSON_GetArraySize(urls) : -1;
    if (n < 0 || n > (int)(sizeof more / sizeof more[0])) {
      snprintf(err, errlen, "config.more_server_urls: an array of at most 8 strings");
      return NULL;
    }
    for (int i = 0; i < n; i++) {
      const cJSON *u = cJSON_GetArrayItem(urls, i);
      if (!cJSON_IsString(u)) {
        snprintf(err, errlen, "config.more_server_urls[%d]: not a string", i);
        return NULL;
      }
      more[i] = u->valuestring;
    }
    cfg.more_server_urls = more;
    cfg.more_server_urls_count = (size_t)n;
  }
  const cJSON *pem = cJSON_GetObjectItemCaseSensitive(config, "tls_ca_pem");
  if (pem != NULL) {
    if (!cJSON_IsString(pem)) {
      snprintf(err, errlen, "config.tls_ca_pem: not a string");
      return NULL;
    }
    cfg.tls_ca_pem = (const uint8_t *)pem->valuestring;
    cfg.tls_ca_pem_len = strlen(pem->valuestring);
  }

  struct client *c = calloc(1, sizeof *c);
  char *copy = strdup(name);
  if (c == NULL || copy == NULL) {
    free(c);
    free(copy);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  c->name = copy;
  roomlink_event_handler handler = {
      .user_data = c,
      .on_room_state_changed = on_room_state_changed,
      .on_room_user_update = on_room_user_update,
      .on_room_online_user_count_update = on_room_online_user_count_update,
      .on_room_stream_update = on_room_stream_update,
      .on_room_token_will_expire = on_room_token_will_expire,
      .on_released = on_released,
  };
  int32_t code = roomlink_engine_create(&cfg, pull_mode ? NULL : &handler, &c->engine);
  if (code != 0) { /* no engine, no callbacks: the client does not exist */
    free(c->name);
    free(c);
    return code_reply(code);
  }
  if (pull_mode && (code = start_pump(c)) != 0) {
    /* The engine exists but cannot be pumped: a driver failure, not the scenario's. */
    roomlink_engine_destroy(c->engine);
    if (c->has_pump) {
      wake_pump(c);
      pthread_join(c->pump, NULL);
      pthread_cond_destroy(&c->ready_cond);
    }
    free(c->name);
    free(c);
    snprintf(err, errlen, "pull mode: cannot start the pump (%d)", code);
    return NULL;
  }
  pthread_mutex_lock(&state_lock);
  c->next = clients;
  clients = c;
  pthread_mutex_unlock(&state_lock);
  return code_reply(0);
}

/* One engine call (a command, or a hook's `then`): the reply's fields except `id`, or NULL with
 * `err` set. Runs on the main thread or inside a callback. */
static cJSON *call(struct client *c, const cJSON *cmd, char *err, size_t errlen) {
  const char *name = str_of(cmd, "cmd", err, errlen);
  if (name == NULL) return NULL;
  pthread_mutex_lock(&state_lock);
  roomlink_engine e = c->engine;
  if (strcmp(name, "destroy") == 0) c->destroyed = 1; /* first: exit must never destroy twice */
  pthread_mutex_unlock(&state_lock);
  if (strcmp(name, "destroy") == 0) {
    /* The handle stays: later calls on it must return 1900005. */
    int32_t code = roomlink_engine_destroy(e);
    /* Destroy's Logouts are not announced (it ends the ready calls first): drain them. */
    if (pull_mode) wake_pump(c);
    return code_reply(code);
  }
#define STR(var, key)                                  \
  const char *var = str_of(cmd, key, err, errlen);     \
  if (var == NULL) return NULL
  if (strcmp(name, "login") == 0) {
    STR(room, "room");
    STR(user_id, "user_id");
    STR(user_name, "user_name");
    STR(token, "token");
    int user_update;
    if (bool_of(cmd, "user_update", &user_update, err, errlen)) return NULL;
    return code_reply(roomlink_login_room(e, room, user_id, user_name, token, (uint32_t)user_update));
  }
  if (strcmp(name, "logout") == 0) {
    STR(room, "room");
    return code_reply(roomlink_logout_room(e, room));
  }
  if (strcmp(name, "switch_room") == 0) {
    STR(from, "from");
    STR(to, "to");
    STR(token, "token");
    return code_reply(roomlink_switch_room(e, from, to, token));
  }
  if (strcmp(name, "renew_token") == 0) {
    STR(room, "room");
    STR(token, "token");
    return code_reply(roomlink_renew_token(e, room, token));
  }
  if (strcmp(name, "network") == 0) {
    int available;
    if (bool_of(cmd, "available", &available, err, errlen)) return NULL;
    return code_reply(roomlink_on_network_changed(e, (uint32_t)available));
  }
  if (strcmp(name, "app") == 0) {
    STR(state, "state");
    if (strcmp(state, "background") == 0) return code_reply(roomlink_on_app_background(e));
    if (strcmp(state, "foreground") == 0) return code_reply(roomlink_on_app_foreground(e));
    snprintf(err, errlen, "unknown app state %s", state);
    return NULL;
  }
  if (strcmp(name, "room_state") == 0) {
    STR(room, "room");
    roomlink_connection_state state = 0;
    int32_t code = roomlink_room_state(e, room, &state);
    cJSON *reply = code_reply(code);
    if (code == 0) cJSON_AddNumberToObject(reply, "state", state);
    return reply;
  }
  if (strcmp(name, "publish_stream") == 0) {
    STR(room, "room");
    STR(stream_id, "stream_id");
    STR(extra_info, "extra_info");
    return code_reply(roomlink_publish_stream(e, room, stream_id, extra_info));
  }
  if (strcmp(name, "unpublish_stream") == 0) {
    STR(room, "room");
    STR(stream_id, "stream_id");
    return code_reply(roomlink_unpublish_stream(e, room, stream_id));
  }
#undef STR
  snprintf(err, errlen, "unknown cmd \"%s\"", name);
  return NULL;
}

static struct client *client_of(const char *name, char *err, size_t errlen) {
  pthread_mutex_lock(&state_lock);
  struct client *c = find_client(name);
  pthread_mutex_unlock(&state_lock);
  if (c == NULL) snprintf(err, errlen, "no client");
  return c;
}

/* One stdin command: the reply's fields except `id`, or NULL with `err` set. */
static cJSON *command(const cJSON *cmd, char *err, size_t errlen) {
  const char *name = str_of(cmd, "client", err, errlen);
  const char *what = name == NULL ? NULL : str_of(cmd, "cmd", err, errlen);
  if (what == NULL) return NULL;
  if (strcmp(what, "create") == 0) {
    return create(name, cJSON_GetObjectItemCaseSensitive(cmd, "config"), err, errlen);
  }
  struct client *c = client_of(name, err, errlen);
  if (c == NULL) return NULL;
  if (strcmp(what, "in_callback") != 0) return call(c, cmd, err, errlen);
  const cJSON *when = cJSON_GetObjectItemCaseSensitive(cmd, "when");
  const cJSON *then = cJSON_GetObjectItemCaseSensitive(cmd, "then");
  if (!cJSON_IsObject(when)) {
    snprintf(err, errlen, "missing object \"when\"");
    return NULL;
  }
  if (str_of(then, "cmd", err, errlen) == NULL) return NULL;
  struct hook *h = calloc(1, sizeof *h);
  if (h == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  h->id = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(cmd, "id"), 1);
  h->when = cJSON_Duplicate(when, 1);
  h->then = cJSON_Duplicate(then, 1);
  pthread_mutex_lock(&state_lock);
  struct hook **at = &c->hooks;
  while (*at != NULL) at = &(*at)->next;
  *at = h;
  pthread_mutex_unlock(&state_lock);
  return code_reply(0);
}

/* Releases every engine (destroying only those not destroyed yet), waits for each engine's last
 * callback (on_released), then frees everything. */
static void release_all(void) {
  pthread_mutex_lock(&state_lock);
  struct client *list = clients;
  clients = NULL;
  pthread_mutex_unlock(&state_lock);
  for (struct client *c = list; c != NULL; c = c->next) {
    pthread_mutex_lock(&state_lock);
    int destroy = !c->destroyed;
    c->destroyed = 1;
    pthread_mutex_unlock(&state_lock);
    if (destroy) roomlink_engine_destroy(c->engine);
    if (pull_mode) wake_pump(c); /* to take the last events and see the end */
  }
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 5;
  while (list != NULL) {
    struct client *c = list;
    pthread_mutex_lock(&state_lock);
    int timed_out = 0;
    while (!c->released && !timed_out) {
      timed_out = pthread_cond_timedwait(&released_cond, &state_lock, &deadline) == ETIMEDOUT;
    }
    pthread_mutex_unlock(&state_lock);
    list = c->next;
    if (timed_out) { /* still in use by its event thread: leaking beats a use after free */
      fprintf(stderr, "c driver: engine of %s not released within 5 s\n", c->name);
      continue;
    }
    if (c->has_pump) {
      pthread_join(c->pump, NULL);
      pthread_cond_destroy(&c->ready_cond);
    }
    while (c->hooks != NULL) {
      struct hook *h = c->hooks;
      c->hooks = h->next;
      free_hook(h);
    }
    free(c->name);
    free(c);
  }
}

int main(int argc, char **argv) {
  const char *driver_name = argc > 1 ? argv[1] : "c";
  pull_mode = argc > 2 && strcmp(argv[2], "pull") == 0;
  if (roomlink_abi_version() != ROOMLINK_ABI_VERSION) {
    fprintf(stderr, "c driver: library ABI %u, header ABI %u\n", roomlink_abi_version(),
            ROOMLINK_ABI_VERSION);
    return 1;
  }
  if (pull_mode) {
    roomlink_set_log_queue(drain_logs, NULL, ROOMLINK_LOG_WARN, 1000);
  } else {
    roomlink_set_log_callback(log_to_stderr, NULL, ROOMLINK_LOG_WARN);
  }
  cJSON *ready = cJSON_CreateObject();
  cJSON_AddTrueToObject(ready, "ready");
  cJSON_AddStringToObject(ready, "driver", driver_name);
  emit(ready);

  char *line = NULL;
  size_t cap = 0;
  int exit_id_seen = 0;
  cJSON *exit_id = NULL;
  while (getline(&line, &cap, stdin) >= 0) {
    cJSON *cmd = cJSON_Parse(line);
    if (cmd == NULL) {
      cJSON *reply = cJSON_CreateObject();
      cJSON_AddNullToObject(reply, "id");
      cJSON_AddNumberToObject(reply, "code", -1);
      cJSON_AddStringToObject(reply, "error", "bad JSON");
      emit(reply);
      continue;
    }
    const cJSON *what = cJSON_GetObjectItemCaseSensitive(cmd, "cmd");
    if (cJSON_IsString(what) && strcmp(what->valuestring, "exit") == 0) {
      exit_id = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(cmd, "id"), 1);
      exit_id_seen = 1;
      cJSON_Delete(cmd);
      break;
    }
    char err[256] = "";
    cJSON *reply = command(cmd, err, sizeof err);
    if (reply == NULL) {
      reply = cJSON_CreateObject();
      cJSON_AddNumberToObject(reply, "code", -1);
      cJSON_AddStringToObject(reply, "error", err);
    }
    cJSON_AddItemToObject(reply, "id", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(cmd, "id"), 1));
    emit(reply);
    cJSON_Delete(cmd);
  }
  free(line);
  release_all();
  roomlink_set_log_callback(NULL, NULL, ROOMLINK_LOG_OFF);
  drain_logs(NULL); /* pull mode: what was queued since the last ready call */
  if (exit_id_seen) {
    cJSON *reply = cJSON_CreateObject();
    cJSON_AddItemToObject(reply, "id", exit_id != NULL ? exit_id : cJSON_CreateNull());
    cJSON_AddNumberToObject(reply, "code", 0);
    emit(reply);
  }
  return 0;
}
