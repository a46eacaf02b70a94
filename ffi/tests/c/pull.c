/*
 * Pull-mode tests of roomlink's C ABI, in C against bindings/c/roomlink.h (compiled and run by
 * ffi/tests/c_abi.rs, also under valgrind): the guarantees a host that takes events on its own
 * thread relies on.
 *  - A reader loop on roomlink_wait_event ends without spinning while another thread destroys
 *    the engine: its number of calls is bounded by the events, not by how long destroy takes.
 *
 * No server is needed: engines point at 127.0.0.1:1 (nothing listens), which is enough for
 * `Logining` events (a login reports it at once) and `Logout` events (logout, destroy).
 * Exit status: 0 when every check passed; failures are printed to stderr.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roomlink.h"

static atomic_int failures;

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
      atomic_fetch_add(&failures, 1);                                              \
    }                                                                              \
  } while (0)

#define CHECK_CODE(expr, want)                                                                \
  do {                                                                                        \
    int32_t got_ = (expr);                                                                    \
    if (got_ != (want)) {                                                                     \
      fprintf(stderr, "%s:%d: %s returned %d (%s), want %d (%s)\n", __FILE__, __LINE__,      \
              #expr, got_, roomlink_error_name(got_), (int)(want), roomlink_error_name(want)); \
      atomic_fetch_add(&failures, 1);                                                         \
    }                                                                                         \
  } while (0)

static roomlink_engine pull_engine(void) {
  roomlink_engine_config c;
  CHECK_CODE(roomlink_engine_config_default(&c), 0);
  c.server_url = "ws://127.0.0.1:1/v1/ws";
  c.room_mode = ROOMLINK_ROOM_MODE_MULTI_ROOM;
  c.login_timeout_ms = 60000; /* the tests never wait for a login to fail */
  roomlink_engine e = 0;
  CHECK_CODE(roomlink_engine_create(&c, NULL, &e), 0);
  return e;
}

static void login(roomlink_engine e, const char *room) {
  CHECK_CODE(roomlink_login_room(e, room, "alice", "Alice", "t", 1), 0);
}

static struct timespec deadline_in(int ms) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  t.tv_sec += ms / 1000;
  t.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

/* Waits on `cond` (with `lock` held) until *value >= want or 10 s passed; whether it got there. */
static int wait_at_least(pthread_mutex_t *lock, pthread_cond_t *cond, const int *value, int want) {
  struct timespec deadline = deadline_in(10000);
  int rc = 0;
  while (*value < want && rc == 0) rc = pthread_cond_timedwait(cond, lock, &deadline);
  return *value >= want;
}

/* ---- 1. no spin while another thread destroys ---- */

struct reader {
  roomlink_engine engine;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int calls, events, logouts, done;
  int32_t final_code;
};

/* A host's worker thread: blocks in roomlink_wait_event without a time limit until the end. */
static void *read_until_the_end(void *arg) {
  struct reader *r = arg;
  for (;;) {
    roomlink_event *ev = NULL;
    int32_t code = roomlink_wait_event(r->engine, UINT32_MAX, &ev);
    pthread_mutex_lock(&r->lock);
    r->calls++;
    if (code != ROOMLINK_CODE_OK) r->final_code = code, r->done = 1;
    if (ev != NULL) {
      r->events++;
      r->logouts += ev->kind == ROOMLINK_EVENT_ROOM_STATE_CHANGED && ev->reason == ROOMLINK_REASON_LOGOUT;
    }
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    if (ev != NULL) CHECK_CODE(roomlink_event_free(ev), 0);
    if (code != ROOMLINK_CODE_OK) return NULL;
  }
}

static void *destroy_engine(void *arg) {
  CHECK_CODE(roomlink_engine_destroy(*(roomlink_engine *)arg), 0);
  return NULL;
}

/* `rooms` rooms logging in; destroy on the main thread, or on a third thread. */
static void run_no_spin(int rooms, int destroy_elsewhere) {
  struct reader r;
  memset(&r, 0, sizeof r);
  pthread_mutex_init(&r.lock, NULL);
  pthread_cond_init(&r.cond, NULL);
  r.engine = pull_engine();
  pthread_t reader_thread, destroyer;
  CHECK(pthread_create(&reader_thread, NULL, read_until_the_end, &r) == 0);
  for (int i = 0; i < rooms; i++) {
    char room[16];
    snprintf(room, sizeof room, "r%d", i);
    login(r.engine, room);
  }
  pthread_mutex_lock(&r.lock);
  CHECK(wait_at_least(&r.lock, &r.cond, &r.events, rooms)); /* the Logining events */
  pthread_mutex_unlock(&r.lock);

  if (destroy_elsewhere) {
    CHECK(pthread_create(&destroyer, NULL, destroy_engine, &r.engine) == 0);
  } else {
    CHECK_CODE(roomlink_engine_destroy(r.engine), 0);
  }
  pthread_mutex_lock(&r.lock);
  int ended = wait_at_least(&r.lock, &r.cond, &r.done, 1);
  pthread_mutex_unlock(&r.lock);
  if (!ended) { /* still blocked in the library: joining would hang */
    fprintf(stderr, "pull.c: the reader did not end within 10 s\n");
    exit(1);
  }
  pthread_join(reader_thread, NULL);
  if (destroy_elsewhere) pthread_join(destroyer, NULL);

  CHECK_CODE(r.final_code, ROOMLINK_CODE_ENGINE_DESTROYED);
  CHECK(r.events == 2 * rooms && r.logouts == rooms);
  /* One call per event, plus the one that reports the end: never a NULL in between. */
  if (r.calls > r.events + 1) {
    fprintf(stderr, "pull.c: %d calls of roomlink_wait_event for %d events (%d rooms)\n", r.calls,
            r.events, rooms);
  }
  CHECK(r.calls <= r.events + 1);
  printf("pull: no spin (%d room(s), destroy on %s): %d calls for %d events\n", rooms,
         destroy_elsewhere ? "a third thread" : "the main thread", r.calls, r.events);
  roomlink_event *ev = NULL;
  CHECK_CODE(roomlink_poll_event(r.engine, &ev), ROOMLINK_CODE_ENGINE_DESTROYED);
  pthread_cond_destroy(&r.cond);
  pthread_mutex_destroy(&r.lock);
}

static void test_no_spin_during_destroy(void) {
  run_no_spin(0, 0);
  run_no_spin(2, 0);
  run_no_spin(3, 1);
}

int main(void) {
  CHECK(roomlink_abi_version() == ROOMLINK_ABI_VERSION);
  test_no_spin_during_destroy();
  int n = atomic_load(&failures);
  if (n != 0) {
    fprintf(stderr, "pull: %d check(s) failed\n", n);
    return 1;
  }
  printf("pull: all checks passed\n");
  return 0;
}
