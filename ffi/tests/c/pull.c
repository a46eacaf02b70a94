/*
 * Pull-mode tests of roomlink's C ABI, in C against bindings/c/roomlink.h (compiled and run by
 * ffi/tests/c_abi.rs, also under valgrind): the guarantees a host that takes events on its own
 * thread relies on.
 *  - A reader loop on roomlink_wait_event ends without spinning while another thread destroys
 *    the engine: its number of calls is bounded by the events, not by how long destroy takes.
 *  - The event-ready callback (roomlink_set_event_ready_callback): one call per change of the
 *    queue from empty to non-empty; a host that drains with roomlink_poll_event after each call
 *    misses nothing, also with events arriving while it drains; destroy ends the calls; replacing
 *    the callback waits for a running call.
 *  - The log queue (roomlink_set_log_queue): owned records, a ready call when the queue becomes
 *    non-empty, the oldest dropped (and counted) when full, stopping ends the calls and keeps the
 *    queued records.
 *
 * No server is needed: engines point at 127.0.0.1:1 (nothing listens), which is enough for
 * `Logining` events (a login reports it at once) and `Logout` events (logout, destroy).
 * Exit status: 0 when every check passed; failures are printed to stderr.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roomlink.h"
#include "check.h"

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

/* ---- 2. the event-ready callback ---- */

/* A host in the shape of a UI thread or a Dart isolate: the callback only records that it was
 * called; the host's own thread takes the events afterwards, and only after a call. */
struct host {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int calls;
  int producer_done; /* part B */
  int released;      /* destroy returned: a call now would be a use after free */
  int late_calls;
};

static void on_ready(void *ud) {
  struct host *h = ud;
  pthread_mutex_lock(&h->lock);
  h->calls++;
  h->late_calls += h->released;
  pthread_cond_broadcast(&h->cond);
  pthread_mutex_unlock(&h->lock);
}

/* Takes events until roomlink_poll_event returns NULL (or, after destroy, the end); how many.
 * Yields between events, so that events arrive while it drains. */
static int drain(roomlink_engine e) {
  int n = 0;
  for (;;) {
    roomlink_event *ev = NULL;
    int32_t code = roomlink_poll_event(e, &ev);
    if (code != ROOMLINK_CODE_ENGINE_DESTROYED) CHECK_CODE(code, 0);
    if (code != 0 || ev == NULL) return n;
    n++;
    CHECK_CODE(roomlink_event_free(ev), 0);
    sched_yield();
  }
}

static int calls_of(struct host *h) {
  pthread_mutex_lock(&h->lock);
  int n = h->calls;
  pthread_mutex_unlock(&h->lock);
  return n;
}

/* Waits for the callback to have been called at least `n` times; the count then. */
static int wait_calls(struct host *h, int n) {
  pthread_mutex_lock(&h->lock);
  CHECK(wait_at_least(&h->lock, &h->cond, &h->calls, n));
  int got = h->calls;
  pthread_mutex_unlock(&h->lock);
  return got;
}

#define ROUNDS 300

struct producer {
  roomlink_engine engine;
  struct host *host;
  int events; /* each successful login queues a Logining, each logout a Logout */
};

static void *produce(void *arg) {
  struct producer *p = arg;
  for (int i = 0; i < ROUNDS; i++) {
    char room[16];
    snprintf(room, sizeof room, "s%d", i % 4);
    CHECK_CODE(roomlink_login_room(p->engine, room, "alice", "Alice", "t", 1), 0);
    CHECK_CODE(roomlink_logout_room(p->engine, room), 0);
    p->events += 2;
    if (i % 16 == 0) sched_yield();
  }
  pthread_mutex_lock(&p->host->lock);
  p->host->producer_done = 1;
  pthread_cond_broadcast(&p->host->cond);
  pthread_mutex_unlock(&p->host->lock);
  return NULL;
}

static void test_ready_callback(void) {
  struct host h;
  memset(&h, 0, sizeof h);
  pthread_mutex_init(&h.lock, NULL);
  pthread_cond_init(&h.cond, NULL);
  roomlink_engine e = pull_engine();

  /* A. Events waiting when the callback is set are announced once. Events that arrive while the
   * queue is not empty are not announced again: the host's next drain takes them. The next
   * change from empty is announced by exactly one call (a call for r2 or r3 would have come
   * before it: the calls come from one thread, in order). */
  login(e, "r1");
  CHECK_CODE(roomlink_set_event_ready_callback(e, on_ready, &h), 0);
  CHECK(wait_calls(&h, 1) == 1);
  login(e, "r2");
  login(e, "r3");
  CHECK(drain(e) == 3);
  login(e, "r4");
  CHECK(wait_calls(&h, 2) == 2);
  CHECK(drain(e) == 1);

  /* B. A producer thread queues 600 events while the host drains after each call, and only then:
   * a missed announcement leaves events in the queue and the host waiting in vain (10 s). */
  struct producer p = {.engine = e, .host = &h, .events = 0};
  pthread_t producer;
  int seen = calls_of(&h), taken = 0, drains = 0; /* before the producer's first call */
  CHECK(pthread_create(&producer, NULL, produce, &p) == 0);
  for (;;) {
    pthread_mutex_lock(&h.lock);
    struct timespec deadline = deadline_in(10000);
    int rc = 0;
    while (h.calls == seen && !h.producer_done && rc == 0) {
      rc = pthread_cond_timedwait(&h.cond, &h.lock, &deadline);
    }
    int called = h.calls != seen, done = h.producer_done;
    seen = h.calls;
    pthread_mutex_unlock(&h.lock);
    if (called) {
      taken += drain(e);
      drains++;
      continue;
    }
    if (done) {
      pthread_join(producer, NULL);
      if (taken == p.events) break;
      /* Everything is queued: the events still missing must be announced, never found by a
       * drain the host made on its own. */
      if (wait_calls(&h, seen + 1) <= seen) break; /* missed: reported by wait_calls */
      continue;
    }
    CHECK(rc == 0); /* neither a call nor the end within 10 s */
    break;
  }
  CHECK(taken == p.events && p.events == 2 * ROUNDS);
  printf("pull: event-ready: %d events taken in %d drains after %d calls, none missed\n", taken,
         drains, seen - 2);

  /* C. Destroy ends the calls first: its Logouts (r1..r4) are not announced; once it returned
   * the callback never runs again, and the host takes the Logouts itself. */
  int before = calls_of(&h);
  CHECK_CODE(roomlink_engine_destroy(e), 0);
  pthread_mutex_lock(&h.lock);
  h.released = 1;
  CHECK(h.calls == before);
  pthread_mutex_unlock(&h.lock);
  CHECK(drain(e) == 4);
  roomlink_event *ev = NULL;
  CHECK_CODE(roomlink_poll_event(e, &ev), ROOMLINK_CODE_ENGINE_DESTROYED);
  CHECK_CODE(roomlink_set_event_ready_callback(e, on_ready, &h), ROOMLINK_CODE_ENGINE_DESTROYED);
  pthread_mutex_lock(&h.lock);
  CHECK(h.late_calls == 0);
  pthread_mutex_unlock(&h.lock);
  pthread_cond_destroy(&h.cond);
  pthread_mutex_destroy(&h.lock);
}

/* D. Replacing the callback (here: removing it) waits for a running call. */
struct blocking {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  roomlink_engine engine;
  int entered, release, set_returned, set_returned_seen_inside;
  int32_t poll_code, wait_code;
};

static void on_ready_blocking(void *ud) {
  struct blocking *b = ud;
  /* Inside the callback: polling works, blocking in roomlink_wait_event is refused. */
  roomlink_event *ev = NULL;
  int32_t poll_code = roomlink_poll_event(b->engine, &ev);
  if (ev != NULL) roomlink_event_free(ev);
  int32_t wait_code = roomlink_wait_event(b->engine, 10, &ev);
  pthread_mutex_lock(&b->lock);
  if (b->entered == 0) b->poll_code = poll_code, b->wait_code = wait_code;
  b->entered++;
  pthread_cond_broadcast(&b->cond);
  wait_at_least(&b->lock, &b->cond, &b->release, 1);
  b->set_returned_seen_inside = b->set_returned;
  pthread_mutex_unlock(&b->lock);
}

static void *remove_callback(void *arg) {
  struct blocking *b = arg;
  CHECK_CODE(roomlink_set_event_ready_callback(b->engine, NULL, NULL), 0);
  pthread_mutex_lock(&b->lock);
  b->set_returned = 1;
  pthread_cond_broadcast(&b->cond);
  pthread_mutex_unlock(&b->lock);
  return NULL;
}

static void test_replacing_waits_for_a_running_call(void) {
  struct blocking b;
  memset(&b, 0, sizeof b);
  pthread_mutex_init(&b.lock, NULL);
  pthread_cond_init(&b.cond, NULL);
  b.engine = pull_engine();
  CHECK_CODE(roomlink_set_event_ready_callback(b.engine, on_ready_blocking, &b), 0);
  login(b.engine, "r1");
  pthread_mutex_lock(&b.lock);
  CHECK(wait_at_least(&b.lock, &b.cond, &b.entered, 1));
  pthread_mutex_unlock(&b.lock);
  pthread_t remover;
  CHECK(pthread_create(&remover, NULL, remove_callback, &b) == 0);
  pthread_mutex_lock(&b.lock);
  b.release = 1;
  pthread_cond_broadcast(&b.cond);
  CHECK(wait_at_least(&b.lock, &b.cond, &b.set_returned, 1));
  pthread_mutex_unlock(&b.lock);
  pthread_join(remover, NULL);
  CHECK_CODE(b.poll_code, 0);
  CHECK_CODE(b.wait_code, ROOMLINK_CODE_CALLED_FROM_CALLBACK);
  /* The call was running when the removal started: the removal returned after it. */
  CHECK(b.set_returned_seen_inside == 0);
  /* Removed: the next event is not announced. */
  login(b.engine, "r2");
  CHECK_CODE(roomlink_engine_destroy(b.engine), 0);
  CHECK(b.entered == 1);
  CHECK(drain(b.engine) == 3); /* r2's Logining, both Logouts */
  pthread_cond_destroy(&b.cond);
  pthread_mutex_destroy(&b.lock);
}

/* ---- 3. the log queue ---- */

struct logs {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int calls;
  int drain_inside;   /* take the records inside the ready call */
  int taken_inside;
  int32_t poll_code;  /* roomlink_poll_log_record inside the ready call */
  int32_t engine_code; /* an engine call inside it: refused */
  int stopped;        /* logging was stopped: a call now is a use after free */
  int late_calls;
};

static struct logs logs = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0};

static void on_log_ready(void *ud) {
  struct logs *l = ud;
  roomlink_connection_state s = 0;
  int32_t engine_code = roomlink_room_state(1, "r1", &s);
  int taken = 0;
  int32_t poll_code = 0;
  pthread_mutex_lock(&l->lock);
  int drain_inside = l->drain_inside;
  pthread_mutex_unlock(&l->lock);
  while (drain_inside) {
    roomlink_log_record *r = NULL;
    poll_code = roomlink_poll_log_record(&r);
    if (poll_code != 0 || r == NULL) break;
    taken++;
    roomlink_log_record_free(r);
  }
  pthread_mutex_lock(&l->lock);
  l->calls++;
  l->late_calls += l->stopped;
  l->engine_code = engine_code;
  l->poll_code = poll_code;
  l->taken_inside += taken;
  pthread_cond_broadcast(&l->cond);
  pthread_mutex_unlock(&l->lock);
}

/* Creating and destroying an engine logs (debug records, "engine destroyed" among them). */
static void make_records(int engines) {
  for (int i = 0; i < engines; i++) CHECK_CODE(roomlink_engine_destroy(pull_engine()), 0);
}

struct taken {
  int records, dropped, named_destroyed, malformed;
};

static struct taken take_records(void) {
  struct taken t = {0, 0, 0, 0};
  for (;;) {
    roomlink_log_record *r = NULL;
    CHECK_CODE(roomlink_poll_log_record(&r), 0);
    if (r == NULL) return t;
    t.records++;
    t.dropped += (int)r->dropped_before;
    if (r->level < ROOMLINK_LOG_ERROR || r->level > ROOMLINK_LOG_TRACE || r->target == NULL ||
        r->message == NULL || strncmp(r->target, "roomlink", 8) != 0) {
      t.malformed++;
    } else if (strcmp(r->message, "engine destroyed") == 0) {
      t.named_destroyed++;
    }
    CHECK_CODE(roomlink_log_record_free(r), 0);
    CHECK_CODE(roomlink_log_record_free(r), ROOMLINK_CODE_INVALID_ARGUMENT); /* freed once */
  }
}

static void test_log_queue(void) {
  /* Owned records, announced by a call when the queue becomes non-empty. */
  CHECK_CODE(roomlink_set_log_queue(on_log_ready, &logs, ROOMLINK_LOG_DEBUG, 1000), 0);
  make_records(2);
  pthread_mutex_lock(&logs.lock);
  CHECK(wait_at_least(&logs.lock, &logs.cond, &logs.calls, 1));
  CHECK_CODE(logs.engine_code, ROOMLINK_CODE_CALLED_FROM_CALLBACK);
  int calls = logs.calls;
  pthread_mutex_unlock(&logs.lock);
  struct taken t = take_records();
  CHECK(t.records >= 2 && t.named_destroyed == 2 && t.malformed == 0 && t.dropped == 0);
  printf("pull: log queue: %d records after %d ready call(s)\n", t.records, calls);

  /* After a drain, the next record is announced again; records may also be taken inside. */
  pthread_mutex_lock(&logs.lock);
  logs.drain_inside = 1;
  pthread_mutex_unlock(&logs.lock);
  make_records(1);
  pthread_mutex_lock(&logs.lock);
  CHECK(wait_at_least(&logs.lock, &logs.cond, &logs.taken_inside, 1));
  CHECK(logs.calls > calls);
  CHECK_CODE(logs.poll_code, 0);
  logs.drain_inside = 0;
  pthread_mutex_unlock(&logs.lock);
  take_records(); /* whatever came after the last call inside */

  /* Full: the oldest go, and the next record taken counts them. */
  CHECK_CODE(roomlink_set_log_queue(on_log_ready, &logs, ROOMLINK_LOG_DEBUG, 3), 0);
  make_records(5);
  t = take_records();
  CHECK(t.records == 3 && t.dropped >= 2 && t.malformed == 0);
  printf("pull: log queue of 3: %d records kept, %d dropped and counted\n", t.records, t.dropped);

  /* Stopping: once it returned, the ready call never runs again; what was queued stays. */
  CHECK_CODE(roomlink_set_log_queue(on_log_ready, &logs, ROOMLINK_LOG_DEBUG, 1000), 0);
  make_records(1);
  CHECK_CODE(roomlink_set_log_callback(NULL, NULL, ROOMLINK_LOG_OFF), 0);
  pthread_mutex_lock(&logs.lock);
  logs.stopped = 1;
  pthread_mutex_unlock(&logs.lock);
  make_records(1); /* logged nowhere */
  t = take_records();
  CHECK(t.named_destroyed == 1);
  pthread_mutex_lock(&logs.lock);
  CHECK(logs.late_calls == 0);
  pthread_mutex_unlock(&logs.lock);
  /* Misuse: nothing changes. */
  CHECK_CODE(roomlink_set_log_queue(on_log_ready, &logs, 6, 10), ROOMLINK_CODE_INVALID_ARGUMENT);
  CHECK_CODE(roomlink_set_log_queue(on_log_ready, &logs, ROOMLINK_LOG_DEBUG, 0),
             ROOMLINK_CODE_INVALID_ARGUMENT);
  CHECK_CODE(roomlink_poll_log_record(NULL), ROOMLINK_CODE_NULL_POINTER);
  make_records(1);
  t = take_records();
  CHECK(t.records == 0);
}

int main(void) {
  CHECK(roomlink_abi_version() == ROOMLINK_ABI_VERSION);
  test_no_spin_during_destroy();
  test_ready_callback();
  test_replacing_waits_for_a_running_call();
  test_log_queue();
  int n = atomic_load(&failures);
  if (n != 0) {
    fprintf(stderr, "pull: %d check(s) failed\n", n);
    return 1;
  }
  printf("pull: all checks passed\n");
  return 0;
}
