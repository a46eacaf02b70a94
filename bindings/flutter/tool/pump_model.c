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
 *  - a ready message drains with roomlink_poll_event until NULL or ROOMLINK_CODE_ENGINE_DESTROYED
 *    (the header's rule), a log-ready message with roomlink_poll_log_record until NULL;
 *  - dispose: roomlink_engine_destroy on another thread (Isolate.run), whose return is a message;
 *    then close the ready listener, drain up to the end, close the stream, stop log forwarding
 *    after the last engine (stop, close the log listener, drain the rest).
 * Checked: every event arrives once and in order (each room's Logining, then its Logout), no
 * listener is invoked after it was closed, roomlink_poll_event is called a bounded number of
 * times (each call returns an event, or ends a drain), log records arrive.
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

struct engine {
  roomlink_engine handle;
  struct listener ready;
  int rooms;
  int finished;      /* poll said ROOMLINK_CODE_ENGINE_DESTROYED */
  int stream_closed; /* dispose completed */
  int disposing;
  pthread_t destroyer;
  double destroy_started;
  double destroy_ms;
  /* The stream, as the app's listener sees it. */
  int logining, logout, out_of_order, other;
  long polls, drains;
};

static void engine_create(struct engine *e, int rooms) {
  memset(e, 0, sizeof *e);
  e->rooms = rooms;
  roomlink_engine_config c;
  CHECK(roomlink_engine_config_default(&c) == ROOMLINK_CODE_OK);
  c.server_url = "ws://127.0.0.1:1/v1/ws"; /* nothing listens: logins stay in Logining */
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
    CHECK(roomlink_login_room(e->handle, room, "alice", "Alice", "t", 1) == ROOMLINK_CODE_OK);
  }
}

/* _drain: until NULL or the end. */
static void engine_drain(struct engine *e) {
  if (e->finished || e->stream_closed) return;
  e->drains++;
  for (;;) {
    roomlink_event *ev = NULL;
    e->polls++;
    int32_t code = roomlink_poll_event(e->handle, &ev);
    if (code == ROOMLINK_CODE_ENGINE_DESTROYED) {
      e->finished = 1;
      return;
    }
    CHECK(code == ROOMLINK_CODE_OK);
    if (code != ROOMLINK_CODE_OK || ev == NULL) return;
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
    CHECK(roomlink_event_free(ev) == ROOMLINK_CODE_OK);
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

/* `engines` engines with `rooms` rooms each; each is disposed once its Loginings arrived. */
static void run_case(const char *name, int engines, int rooms) {
  struct engine e[2];
  int dropped = 0;
  for (int i = 0; i < engines; i++) engine_create(&e[i], rooms);
  for (int i = 0; i < engines; i++) {
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
        engine_drain(target);
        /* The app's listener: dispose once every room reported Logining. */
        if (!target->disposing && target->logining == rooms) engine_dispose(target);
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
    CHECK(x->logining == rooms && x->logout == rooms && x->other == 0 && x->out_of_order == 0);
    CHECK(atomic_load(&x->ready.calls_after_close) == 0);
    /* Each poll returned an event, or ended a drain (NULL or the end): never in vain. */
    CHECK(x->polls <= 2L * rooms + x->drains);
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

int main(void) {
  CHECK(roomlink_abi_version() == ROOMLINK_ABI_VERSION);
  run_case("idle engine:", 1, 0);
  run_case("two rooms:", 1, 2);
  run_case("two engines, two rooms:", 2, 2);
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
