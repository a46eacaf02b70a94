/*
 * The Flutter plugin's event and log flow (lib/src/engine.dart, lib/src/logs.dart), step for
 * step in C, run against the real library. No Dart VM runs where the plugin is developed, so this
 * is how the C ABI behaviour the plugin relies on is tested, in the plugin's own order of calls.
 *
 * The model:
 *  - the app's isolate is the main thread running a message loop (its event loop);
 *  - a NativeCallable.listener is a C function that posts a message to that loop and returns at
 *    once; invoking it after close() would be undefined behaviour in Dart, so the model counts
 *    such calls (must stay 0); messages that reach the loop after close() are dropped, as Dart
 *    drops messages to a closed port;
 *  - RoomlinkEngine.create: roomlink_engine_create (pull mode), the event-ready listener set with
 *    roomlink_set_event_ready_callback, log forwarding started by the first engine
 *    (roomlink_set_log_queue with the log-ready listener);
 *  - the events stream is a synchronous StreamController fed only while listened to: a ready
 *    message (or the listen itself) drains with roomlink_poll_event until NULL or
 *    ROOMLINK_CODE_ENGINE_DESTROYED (the header's rule), one event at a time, running the app's
 *    listener on each before polling the next (no buffer of its own); a log-ready message drains
 *    with roomlink_poll_log_record until NULL;
 *  - dispose: roomlink_engine_destroy on another thread (Isolate.run), whose return is a message;
 *    then close the ready listener, drain up to the end, close the stream, stop log forwarding
 *    after the last engine (stop, close the log listener, drain the rest).
 * Checked: every event arrives once and in order (each room's Logining, then its Logout), no
 * listener is invoked after it was closed, roomlink_poll_event is called a bounded number of
 * times (each call returns an event, or ends a drain), log records arrive; events that come
 * before the app listens wait in the engine's queue; and, against a real server (pump_model.sh
 * starts `roomlink serve`), a listener that logs out on Logined sees no later event of that room
 * but its Logout: the call acted on the engine's queue before the next event was taken, so core's
 * "Logout is the last word on a room" applies, as with callbacks on the engine's thread.
 *
 * Build and run: bash bindings/flutter/tool/pump_model.sh
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roomlink.h"

static int failures;

#define CHECK(cond)                                                                       \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      fprintf(stderr, "pump_model: %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
      failures++;                                                                         \
    }                                                                                     \
  } while (0)

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* ---- the isolate's event loop ---- */

enum kind { EVENTS_READY, LOGS_READY, DESTROY_RETURNED };

struct message {
  enum kind kind;
  void *target; /* the listener's engine (EVENTS_READY, DESTROY_RETURNED) */
  int32_t code; /* DESTROY_RETURNED */
  struct message *next;
};

static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t loop_cond = PTHREAD_COND_INITIALIZER;
static struct message *head, *tail;

static void post(enum kind kind, void *target, int32_t code) {
  struct message *m = calloc(1, sizeof *m);
  if (m == NULL) abort();
  m->kind = kind, m->target = target, m->code = code;
  pthread_mutex_lock(&loop_lock);
  if (tail != NULL) tail->next = m; else head = m;
  tail = m;
  pthread_cond_signal(&loop_cond);
  pthread_mutex_unlock(&loop_lock);
}

/* The next message (the caller frees it), or NULL after 10 s without one. */
static struct message *next_message(void) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 10;
  pthread_mutex_lock(&loop_lock);
  int rc = 0;
  while (head == NULL && rc == 0) rc = pthread_cond_timedwait(&loop_cond, &loop_lock, &deadline);
  struct message *m = head;
  if (m != NULL) {
    head = m->next;
    if (head == NULL) tail = NULL;
  }
  pthread_mutex_unlock(&loop_lock);
  return m;
}

/* ---- NativeCallable.listener ---- */

struct listener {
  enum kind kind;
  void *target;
  atomic_int closed;
  atomic_int calls, calls_after_close;
};

/* What the listener's native function does: post, return at once. */
static void listener_native(void *user_data) {
  struct listener *l = user_data;
  atomic_fetch_add(&l->calls, 1);
  if (atomic_load(&l->closed)) atomic_fetch_add(&l->calls_after_close, 1); /* UB in Dart */
  post(l->kind, l->target, 0);
}

/* ---- LogForwarding (logs.dart) ---- */

static struct listener log_listener = {.kind = LOGS_READY};
static int log_users, log_records, log_messages_dropped;

static void logs_drain(void) {
  roomlink_log_record *r = NULL;
  while (roomlink_poll_log_record(&r) == ROOMLINK_CODE_OK && r != NULL) {
    CHECK(r->target != NULL && r->message != NULL);
    log_records++;
    CHECK(roomlink_log_record_free(r) == ROOMLINK_CODE_OK);
  }
}

static void logs_acquire(void) {
  if (log_users++ > 0) return;
  atomic_store(&log_listener.closed, 0);
  CHECK(roomlink_set_log_queue(listener_native, &log_listener, ROOMLINK_LOG_DEBUG, 1000) ==
        ROOMLINK_CODE_OK);
}

static void logs_release(void) {
  if (--log_users > 0) return;
  /* Returns once the ready call is not running and will never run again: then close. */
  CHECK(roomlink_set_log_queue(NULL, NULL, ROOMLINK_LOG_OFF, 1000) == ROOMLINK_CODE_OK);
  atomic_store(&log_listener.closed, 1);
  logs_drain();
}

/* ---- RoomlinkEngine (engine.dart) ---- */

struct engine;

/* What a polled event is to the app's listener: the fields the cases look at. */
struct seen {
  roomlink_event_kind kind;
  roomlink_room_state_reason reason; /* state changes only */
  char room[16];
};

struct engine {
  roomlink_engine handle;
  struct listener ready;
  /* The app's listener of the events stream, run by engine_drain before the next poll. */
  void (*on_event)(struct engine *e, const struct seen *ev);
  int listening; /* the app called listen (until then events wait in the engine's queue) */
  int draining;  /* engine_drain is running (a listener's call must not re-enter it) */
  int rooms;
  int finished;      /* poll said ROOMLINK_CODE_ENGINE_DESTROYED */
  int stream_closed; /* dispose completed */
  int disposing;
  pthread_t destroyer;
  double destroy_started;
  double destroy_ms;
  /* The stream, as the app's listener sees it. */
  int logining, logout, out_of_order, other;
  int logined, after_logout; /* the server case */
  long polls, drains;
};

static void engine_dispose(struct engine *e);

static void engine_create(struct engine *e, int rooms, const char *url, const char *token,
                          void (*on_event)(struct engine *, const struct seen *)) {
  memset(e, 0, sizeof *e);
  e->rooms = rooms;
  e->on_event = on_event;
  roomlink_engine_config c;
  CHECK(roomlink_engine_config_default(&c) == ROOMLINK_CODE_OK);
  c.server_url = url;
  c.room_mode = ROOMLINK_ROOM_MODE_MULTI_ROOM;
  CHECK(roomlink_engine_create(&c, NULL, &e->handle) == ROOMLINK_CODE_OK);
  e->ready.kind = EVENTS_READY;
  e->ready.target = e;
  CHECK(roomlink_set_event_ready_callback(e->handle, listener_native, &e->ready) ==
        ROOMLINK_CODE_OK);
  logs_acquire();
  for (int i = 0; i < rooms; i++) {
    char room[16];
    snprintf(room, sizeof room, "r%d", i);
    CHECK(roomlink_login_room(e->handle, room, "alice", "Alice", token, 1) == ROOMLINK_CODE_OK);
  }
}

/* _drain: one event at a time, the listener run on each before the next poll, until NULL or
 * the end; only while listened to. */
static void engine_drain(struct engine *e) {
  if (e->draining || e->finished || e->stream_closed || !e->listening) return;
  e->draining = 1;
  e->drains++;
  for (;;) {
    roomlink_event *ev = NULL;
    e->polls++;
    int32_t code = roomlink_poll_event(e->handle, &ev);
    if (code == ROOMLINK_CODE_ENGINE_DESTROYED) {
      e->finished = 1;
      break;
    }
    CHECK(code == ROOMLINK_CODE_OK);
    if (code != ROOMLINK_CODE_OK || ev == NULL) break;
    /* decodeEvent copies, then the event is freed, then the listener runs (`add`). */
    struct seen s = {.kind = ev->kind, .reason = ev->reason};
    snprintf(s.room, sizeof s.room, "%s", ev->room_id);
    CHECK(roomlink_event_free(ev) == ROOMLINK_CODE_OK);
    e->on_event(e, &s);
  }
  e->draining = 0;
}

/* The stream's first `listen` (onListen's microtask): what waited in the engine's queue is
 * taken now. */
static void engine_listen(struct engine *e) {
  e->listening = 1;
  engine_drain(e);
}

/* The app of the first cases: counts, and disposes once every room reported Logining. */
static void count_and_dispose(struct engine *e, const struct seen *ev) {
  if (ev->kind != ROOMLINK_EVENT_ROOM_STATE_CHANGED) {
    e->other++;
  } else if (ev->reason == ROOMLINK_REASON_LOGINING) {
    e->logining++;
    e->out_of_order += e->logout > 0;
  } else if (ev->reason == ROOMLINK_REASON_LOGOUT) {
    e->logout++;
  } else {
    e->other++;
  }
  if (!e->disposing && e->logining == e->rooms) engine_dispose(e);
}

/* The server case's app: logs out in the Logined listener; then only that Logout may follow. */
static void logout_on_logined(struct engine *e, const struct seen *ev) {
  int state = ev->kind == ROOMLINK_EVENT_ROOM_STATE_CHANGED;
  if (e->logined && !(state && ev->reason == ROOMLINK_REASON_LOGOUT)) e->after_logout++;
  if (state && ev->reason == ROOMLINK_REASON_LOGINING) e->logining++;
  if (state && ev->reason == ROOMLINK_REASON_LOGINED && !e->logined) {
    e->logined = 1;
    CHECK(roomlink_logout_room(e->handle, ev->room) == ROOMLINK_CODE_OK);
  }
  if (state && ev->reason == ROOMLINK_REASON_LOGOUT) {
    e->logout++;
    if (!e->disposing) engine_dispose(e);
  }
}

/* Isolate.run(() => roomlink_engine_destroy(handle)): its result comes back as a message. */
static void *destroy_elsewhere(void *arg) {
  struct engine *e = arg;
  post(DESTROY_RETURNED, e, roomlink_engine_destroy(e->handle));
  return NULL;
}

static void engine_dispose(struct engine *e) {
  e->disposing = 1;
  e->destroy_started = now_ms();
  CHECK(pthread_create(&e->destroyer, NULL, destroy_elsewhere, e) == 0);
}

/* Destroy returned: the ready listener may be closed; then the Logouts, up to the end. */
static void engine_destroy_returned(struct engine *e, int32_t code) {
  e->destroy_ms = now_ms() - e->destroy_started;
  pthread_join(e->destroyer, NULL);
  CHECK(code == ROOMLINK_CODE_OK);
  atomic_store(&e->ready.closed, 1);
  engine_drain(e);
  CHECK(e->finished); /* after destroy returned, the drain reaches the end */
  e->stream_closed = 1;
  logs_release();
}

/* ---- the app ---- */

/* `engines` engines with `rooms` rooms each at `url`, listened to after the logins, each event
 * handed to `on_event`; the case ends when every engine's destroy returned. */
static void run_case(const char *name, int engines, int rooms, const char *url, const char *token,
                     void (*on_event)(struct engine *, const struct seen *), struct engine *e) {
  int dropped = 0;
  for (int i = 0; i < engines; i++) engine_create(&e[i], rooms, url, token, on_event);
  for (int i = 0; i < engines; i++) {
    engine_listen(&e[i]);
    if (rooms == 0) engine_dispose(&e[i]); /* nothing to wait for */
  }
  int open = engines;
  while (open > 0) {
    struct message *m = next_message();
    if (m == NULL) {
      fprintf(stderr, "pump_model: %s: no message within 10 s (a missed notification?)\n", name);
      exit(1); /* threads may still be blocked in the library: do not join them */
    }
    struct engine *target = m->target;
    switch (m->kind) {
      case EVENTS_READY:
        if (atomic_load(&target->ready.closed)) {
          dropped++; /* to a closed port: dropped, as Dart does */
          break;
        }
        engine_drain(target); /* the app's listener runs in it */
        break;
      case LOGS_READY:
        if (atomic_load(&log_listener.closed)) {
          log_messages_dropped++;
          break;
        }
        logs_drain();
        break;
      case DESTROY_RETURNED:
        engine_destroy_returned(target, m->code);
        open--;
        break;
    }
    free(m);
  }
  for (int i = 0; i < engines; i++) {
    struct engine *x = &e[i];
    CHECK(atomic_load(&x->ready.calls_after_close) == 0);
    roomlink_event *ev = NULL;
    CHECK(roomlink_poll_event(x->handle, &ev) == ROOMLINK_CODE_ENGINE_DESTROYED && ev == NULL);
    printf("pump_model: %-24s engine %d: %d Logining + %d Logout; %d ready call(s), %ld drain(s), "
           "%ld poll(s); destroy %.1f ms\n",
           name, i, x->logining, x->logout, atomic_load(&x->ready.calls), x->drains, x->polls,
           x->destroy_ms);
  }
  CHECK(atomic_load(&log_listener.calls_after_close) == 0);
  printf("pump_model: %-24s %d ready message(s) after close dropped\n", name, dropped);
}

/* Nothing listens on port 1: logins stay in Logining until destroy logs out. */
static void run_unreachable(const char *name, int engines, int rooms) {
  struct engine e[2];
  run_case(name, engines, rooms, "ws://127.0.0.1:1/v1/ws", "t", count_and_dispose, e);
  for (int i = 0; i < engines; i++) {
    struct engine *x = &e[i];
    CHECK(x->logining == rooms && x->logout == rooms && x->other == 0 && x->out_of_order == 0);
    /* Each poll returned an event, or ended a drain (NULL or the end): never in vain. */
    CHECK(x->polls <= 2L * rooms + x->drains);
  }
}

/* A real server (pump_model.sh starts one): Logining, Logined (the listener logs out, so the
 * server's count and user updates that follow Logined are dropped by core), Logout, and
 * nothing of the room in between. */
static void run_logout_on_logined(const char *url, const char *token) {
  struct engine e[1];
  run_case("logout on Logined:", 1, 1, url, token, logout_on_logined, e);
  CHECK(e[0].logining == 1 && e[0].logined == 1 && e[0].logout == 1);
  CHECK(e[0].after_logout == 0); /* no later event of that room was taken */
  printf("pump_model: logout on Logined:       %d event(s) of r0 between Logined and Logout\n",
         e[0].after_logout);
}

int main(void) {
  CHECK(roomlink_abi_version() == ROOMLINK_ABI_VERSION);
  const char *url = getenv("ROOMLINK_PUMP_SERVER_URL");
  const char *token = getenv("ROOMLINK_PUMP_TOKEN");
  if (url == NULL || token == NULL) {
    fprintf(stderr, "pump_model: ROOMLINK_PUMP_SERVER_URL and ROOMLINK_PUMP_TOKEN unset "
                    "(run it with bash bindings/flutter/tool/pump_model.sh)\n");
    return 1;
  }
  run_unreachable("idle engine:", 1, 0);
  run_unreachable("two rooms:", 1, 2);
  run_unreachable("two engines, two rooms:", 2, 2);
  run_logout_on_logined(url, token);
  /* Creating and destroying engines logs at debug level ("engine destroyed", ...). */
  CHECK(log_records >= 4);
  printf("pump_model: %d log records forwarded, %d log-ready message(s) after close dropped\n",
         log_records, log_messages_dropped);
  if (failures) {
    fprintf(stderr, "pump_model: %d check(s) failed\n", failures);
    return 1;
  }
  printf("pump_model: all checks passed\n");
  return 0;
}
