/*
 * Misuse tests of roomlink's C ABI, in C against bindings/c/roomlink.h (compiled and run by
 * ffi/tests/c_abi.rs, also under valgrind). Each misuse must return the right code AND change
 * nothing: no event queued, no state changed, out-parameters untouched, no handle consumed.
 *
 * No server is needed: engines point at 127.0.0.1:1 (nothing listens), which is enough for
 * `Logining` events (a login reports it at once) and `Logout` events (logout, destroy).
 * Exit status: 0 when every check passed; failures are printed to stderr.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roomlink.h"
#include "check.h"

static const char BAD_UTF8[] = {(char)0xff, (char)0xfe, 'x', 0};
static const char *URL = "ws://127.0.0.1:1/v1/ws";

static roomlink_engine_config config(void) {
  roomlink_engine_config c;
  CHECK_CODE(roomlink_engine_config_default(&c), 0);
  c.server_url = URL;
  c.login_timeout_ms = 60000; /* the tests never wait for a login to fail */
  return c;
}

static roomlink_engine pull_engine(void) {
  roomlink_engine_config c = config();
  roomlink_engine e = 0;
  CHECK_CODE(roomlink_engine_create(&c, NULL, &e), 0);
  CHECK(e != 0);
  return e;
}

/* Nothing happened on a pull engine: no event queued. */
static void expect_quiet(roomlink_engine e, int line) {
  roomlink_event *ev = (roomlink_event *)&ev; /* a sentinel: must become NULL */
  int32_t code = roomlink_poll_event(e, &ev);
  if (code != 0 || ev != NULL) {
    fprintf(stderr, "misuse.c:%d: expected no event (code %d, event %p)\n", line, code, (void *)ev);
    atomic_fetch_add(&failures, 1);
    if (code == 0 && ev != NULL) roomlink_event_free(ev);
  }
}
#define EXPECT_QUIET(e) expect_quiet((e), __LINE__)

/* Waits (up to 5 s) for the next event of a pull engine; NULL if none came. */
static roomlink_event *next_event(roomlink_engine e) {
  roomlink_event *ev = NULL;
  CHECK_CODE(roomlink_wait_event(e, 5000, &ev), 0);
  return ev;
}

static void expect_state_event(roomlink_engine e, const char *room, roomlink_room_state_reason r) {
  roomlink_event *ev = next_event(e);
  CHECK(ev != NULL);
  if (ev == NULL) return;
  CHECK(ev->kind == ROOMLINK_EVENT_ROOM_STATE_CHANGED);
  CHECK(strcmp(ev->room_id, room) == 0);
  if (ev->reason != r) fprintf(stderr, "  reason %u, want %u\n", ev->reason, r);
  CHECK(ev->reason == r);
  CHECK_CODE(roomlink_event_free(ev), 0);
}

static roomlink_connection_state state_of(roomlink_engine e, const char *room) {
  roomlink_connection_state s = 0;
  CHECK_CODE(roomlink_room_state(e, room, &s), 0);
  return s;
}

/* ---- basics ---- */

static void test_version_and_codes(void) {
  CHECK(roomlink_abi_version() == ROOMLINK_ABI_VERSION);
  CHECK(strlen(roomlink_version()) > 0);
  CHECK(strcmp(roomlink_error_name(ROOMLINK_CODE_KICKED_DUPLICATE_LOGIN), "KICKED_DUPLICATE_LOGIN") == 0);
  CHECK(strcmp(roomlink_error_name(ROOMLINK_CODE_OK), "OK") == 0);
  CHECK(strcmp(roomlink_error_name(42), "UNKNOWN") == 0);
  CHECK(strstr(roomlink_error_message(ROOMLINK_CODE_NULL_POINTER), "NULL") != NULL);
  CHECK(strlen(roomlink_error_message(-5)) > 0);
}

/* ---- create: every pointer NULL, bad UTF-8, bad values; no handle is consumed ---- */

static void test_create_misuse(void) {
  roomlink_engine before = pull_engine();
  roomlink_engine_config c = config();
  roomlink_engine out = 777;

  CHECK_CODE(roomlink_engine_config_default(NULL), ROOMLINK_CODE_NULL_POINTER);
  CHECK_CODE(roomlink_engine_create(NULL, NULL, &out), ROOMLINK_CODE_NULL_POINTER);
  CHECK_CODE(roomlink_engine_create(&c, NULL, NULL), ROOMLINK_CODE_NULL_POINTER);
  c.server_url = NULL;
  CHECK_CODE(roomlink_engine_create(&c, NULL, &out), ROOMLINK_CODE_NULL_POINTER);
  c.server_url = BAD_UTF8;
  CHECK_CODE(roomlink_engine_create(&c, NULL, &out), ROOMLINK_CODE_INVALID_UTF8);
  c = config();
  c.server_url = "http://127.0.0.1:1/";
  CHECK_CODE(roomlink_engine_create(&c, NULL, &out), ROOMLINK_CODE_INVALID_ARGUMENT);
  c = config();
  c.room_mode = 7;
  CHECK_CODE(roomlink_engine_create(&c, NULL, &out), ROOMLINK_CODE_INVALID_ARGUMENT);
  c = config();
  c.ping_timeout_ms = c.heartbeat_interval_ms;
  CHECK_CODE(roomlink_engine_create(&c, NULL, &out), ROOMLINK_CODE_INVALID_ARGUMENT);
  c = config();
  c.heartbeat_interval_ms = 0;
  CHECK_CODE(roomlink_engine_create(&c, NULL, &out), ROOMLINK_CODE_INVALID_ARGUMENT);
  c = config();
  c.max_frame_bytes = 10;
  CHECK_CODE(roomlink_engine_create(&c, NULL, &out), ROOMLINK_CODE_INVALID_ARGUMENT);
  CHECK(out == 777); /* never written on failure */

  /* No failed create consumed a handle or left an engine behind. */
  roomlink_engine after = pull_engine();
  CHECK(after == before + 1);
  CHECK_CODE(roomlink_engine_destroy(before), 0);
  CHECK_CODE(roomlink_engine_destroy(after), 0);
}

/* ---- every pointer argument NULL / not UTF-8, on a live engine: nothing changes ---- */

static void test_pointer_and_utf8_misuse(void) {
  roomlink_engine e = pull_engine();
  const char *ok = "r1";
  const char *cases[] = {NULL, BAD_UTF8};
  for (int i = 0; i < 2; i++) {
    const char *bad = cases[i];
    int32_t want = bad == NULL ? ROOMLINK_CODE_NULL_POINTER : ROOMLINK_CODE_INVALID_UTF8;
    CHECK_CODE(roomlink_login_room(e, bad, "alice", "Alice", "t", 1), want);
    CHECK_CODE(roomlink_login_room(e, ok, bad, "Alice", "t", 1), want);
    CHECK_CODE(roomlink_login_room(e, ok, "alice", bad, "t", 1), want);
    CHECK_CODE(roomlink_login_room(e, ok, "alice", "Alice", bad, 1), want);
    CHECK_CODE(roomlink_logout_room(e, bad), want);
    CHECK_CODE(roomlink_switch_room(e, bad, "r2", "t"), want);
    CHECK_CODE(roomlink_switch_room(e, ok, bad, "t"), want);
    CHECK_CODE(roomlink_switch_room(e, ok, "r2", bad), want);
    CHECK_CODE(roomlink_renew_token(e, bad, "t"), want);
    CHECK_CODE(roomlink_renew_token(e, ok, bad), want);
    CHECK_CODE(roomlink_publish_stream(e, bad, "s1", ""), want);
    CHECK_CODE(roomlink_publish_stream(e, ok, bad, ""), want);
    CHECK_CODE(roomlink_publish_stream(e, ok, "s1", bad), want);
    CHECK_CODE(roomlink_unpublish_stream(e, bad, "s1"), want);
    CHECK_CODE(roomlink_unpublish_stream(e, ok, bad), want);
    roomlink_connection_state s = 99;
    CHECK_CODE(roomlink_room_state(e, bad, &s), want);
    CHECK(s == 99);
  }
  roomlink_connection_state s = 99;
  CHECK_CODE(roomlink_room_state(e, ok, NULL), ROOMLINK_CODE_NULL_POINTER);
  CHECK_CODE(roomlink_poll_event(e, NULL), ROOMLINK_CODE_NULL_POINTER);
  CHECK_CODE(roomlink_wait_event(e, 10, NULL), ROOMLINK_CODE_NULL_POINTER);
  /* Flags are 0 or 1; anything else is a caller bug, not "true". */
  CHECK_CODE(roomlink_login_room(e, ok, "alice", "Alice", "t", 2), ROOMLINK_CODE_INVALID_ARGUMENT);
  CHECK_CODE(roomlink_on_network_changed(e, 2), ROOMLINK_CODE_INVALID_ARGUMENT);
  /* Log level out of range. */
  CHECK_CODE(roomlink_set_log_callback(NULL, NULL, 6), ROOMLINK_CODE_INVALID_ARGUMENT);
  /* Freeing: NULL is a no-op; a pointer that is not an owned event is refused. */
  CHECK_CODE(roomlink_event_free(NULL), 0);
  roomlink_event fake;
  memset(&fake, 0, sizeof fake);
  CHECK_CODE(roomlink_event_free(&fake), ROOMLINK_CODE_INVALID_ARGUMENT);
  roomlink_log_record fake_record;
  memset(&fake_record, 0, sizeof fake_record);
  CHECK_CODE(roomlink_log_record_free(&fake_record), ROOMLINK_CODE_INVALID_ARGUMENT);
  CHECK_CODE(roomlink_log_record_free(NULL), 0);
  CHECK_CODE(roomlink_poll_log_record(NULL), ROOMLINK_CODE_NULL_POINTER);
  CHECK_CODE(roomlink_set_log_queue(NULL, NULL, 6, 10), ROOMLINK_CODE_INVALID_ARGUMENT);
  CHECK_CODE(roomlink_set_log_queue(NULL, NULL, ROOMLINK_LOG_INFO, 0), ROOMLINK_CODE_INVALID_ARGUMENT);

  /* Nothing changed: no event (a real logout of r1 would have queued LogoutFailed), r1 not
   * logged in; and the same calls with good arguments still work. */
  EXPECT_QUIET(e);
  CHECK(state_of(e, ok) == ROOMLINK_STATE_DISCONNECTED);
  CHECK_CODE(roomlink_room_state(e, ok, &s), 0);
  CHECK(s == ROOMLINK_STATE_DISCONNECTED);
  CHECK_CODE(roomlink_login_room(e, ok, "alice", "Alice", "t", 1), 0);
  expect_state_event(e, ok, ROOMLINK_REASON_LOGINING);
  CHECK(state_of(e, ok) == ROOMLINK_STATE_CONNECTING);
  CHECK_CODE(roomlink_login_room(e, ok, "alice", "Alice", "t", 1), ROOMLINK_CODE_ALREADY_LOGGED_IN);
  CHECK_CODE(roomlink_login_room(e, "", "alice", "Alice", "t", 1), ROOMLINK_CODE_ROOM_ID_EMPTY);
  EXPECT_QUIET(e);

  /* An event is freed once; a second free is refused. */
  CHECK_CODE(roomlink_logout_room(e, ok), 0);
  roomlink_event *ev = next_event(e);
  CHECK(ev != NULL && ev->reason == ROOMLINK_REASON_LOGOUT);
  CHECK_CODE(roomlink_event_free(ev), 0);
  CHECK_CODE(roomlink_event_free(ev), ROOMLINK_CODE_INVALID_ARGUMENT);
  CHECK_CODE(roomlink_engine_destroy(e), 0);
}

/* ---- handles: 0, never issued, destroyed ---- */

static atomic_int ready_never_calls;

/* An event-ready callback that a refused roomlink_set_event_ready_callback must never install. */
static void ready_never(void *ud) {
  (void)ud;
  atomic_fetch_add(&ready_never_calls, 1);
}

static void expect_handle_code(roomlink_engine e, int32_t want, int line) {
  int before = atomic_load(&failures);
  CHECK_CODE(roomlink_login_room(e, "r1", "alice", "Alice", "t", 1), want);
  CHECK_CODE(roomlink_logout_room(e, "r1"), want);
  CHECK_CODE(roomlink_switch_room(e, "r1", "r2", "t"), want);
  CHECK_CODE(roomlink_renew_token(e, "r1", "t"), want);
  CHECK_CODE(roomlink_publish_stream(e, "r1", "s1", ""), want);
  CHECK_CODE(roomlink_unpublish_stream(e, "r1", "s1"), want);
  CHECK_CODE(roomlink_engine_destroy(e), want);
  roomlink_event *ev = (roomlink_event *)&ev;
  CHECK_CODE(roomlink_poll_event(e, &ev), want);
  CHECK_CODE(roomlink_wait_event(e, 10, &ev), want);
  CHECK(ev == (roomlink_event *)&ev);
  CHECK_CODE(roomlink_set_event_ready_callback(e, ready_never, NULL), want);
  CHECK_CODE(roomlink_set_event_ready_callback(e, NULL, NULL), want);
  if (atomic_load(&failures) != before) fprintf(stderr, "  (handle %llu, from line %d)\n",
                                                (unsigned long long)e, line);
}

static void test_handles(void) {
  roomlink_connection_state s = 99;
  expect_handle_code(0, ROOMLINK_CODE_UNKNOWN_ENGINE, __LINE__);
  expect_handle_code(987654321, ROOMLINK_CODE_UNKNOWN_ENGINE, __LINE__);
  CHECK_CODE(roomlink_on_network_changed(0, 1), ROOMLINK_CODE_UNKNOWN_ENGINE);
  CHECK_CODE(roomlink_on_app_background(0), ROOMLINK_CODE_UNKNOWN_ENGINE);
  CHECK_CODE(roomlink_on_app_foreground(987654321), ROOMLINK_CODE_UNKNOWN_ENGINE);
  CHECK_CODE(roomlink_room_state(0, "r1", &s), ROOMLINK_CODE_UNKNOWN_ENGINE);
  CHECK_CODE(roomlink_room_state(UINT64_MAX, "r1", &s), ROOMLINK_CODE_UNKNOWN_ENGINE);
  CHECK(s == 99);

  /* Destroyed pull engine: its last events stay readable, then ENGINE_DESTROYED. */
  roomlink_engine e = pull_engine();
  CHECK_CODE(roomlink_login_room(e, "r1", "alice", "Alice", "t", 1), 0);
  expect_state_event(e, "r1", ROOMLINK_REASON_LOGINING);
  CHECK_CODE(roomlink_engine_destroy(e), 0);
  CHECK_CODE(roomlink_engine_destroy(e), ROOMLINK_CODE_ENGINE_DESTROYED); /* destroy twice */
  CHECK_CODE(roomlink_login_room(e, "r2", "alice", "Alice", "t", 1), ROOMLINK_CODE_ENGINE_DESTROYED);
  expect_state_event(e, "r1", ROOMLINK_REASON_LOGOUT);
  roomlink_event *ev = NULL;
  CHECK_CODE(roomlink_poll_event(e, &ev), ROOMLINK_CODE_ENGINE_DESTROYED);
  expect_handle_code(e, ROOMLINK_CODE_ENGINE_DESTROYED, __LINE__);
  /* As in core: a destroyed engine's rooms are Disconnected, network and app hints are ignored. */
  CHECK_CODE(roomlink_room_state(e, "r1", &s), 0);
  CHECK(s == ROOMLINK_STATE_DISCONNECTED);
  CHECK_CODE(roomlink_on_network_changed(e, 1), 0);
  CHECK_CODE(roomlink_on_network_changed(e, 2), ROOMLINK_CODE_INVALID_ARGUMENT);
  CHECK_CODE(roomlink_on_app_background(e), 0);
  CHECK_CODE(roomlink_on_app_foreground(e), 0);

  /* A fresh engine gets a fresh handle, never a reused one. */
  roomlink_engine f = pull_engine();
  CHECK(f > e);
  CHECK_CODE(roomlink_engine_destroy(f), 0);
  CHECK_CODE(roomlink_poll_event(f, &ev), ROOMLINK_CODE_ENGINE_DESTROYED);
}

/* ---- callbacks: what works inside them, what is refused ---- */

struct cb_state {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  roomlink_engine self;  /* the engine whose callback this is */
  roomlink_engine other; /* a pull engine */
  int logining, logout, released;
  int32_t state_code, logout_code, poll_code, wait_code, destroy_code, create_code;
  roomlink_connection_state state;
  int destroy_inside;
};

static void signal_cb(struct cb_state *st) {
  pthread_cond_broadcast(&st->cond);
  pthread_mutex_unlock(&st->lock);
}

static void cb_state_changed(void *ud, const char *room, roomlink_room_state_reason reason,
                             int32_t code, const roomlink_kv *kv, uint32_t n) {
  (void)code, (void)kv, (void)n;
  struct cb_state *st = ud;
  if (reason == ROOMLINK_REASON_LOGINING) {
    /* Allowed: engine calls on this very engine, polling another engine, creating one. */
    roomlink_connection_state s = 0;
    int32_t state_code = roomlink_room_state(st->self, room, &s);
    roomlink_event *ev = NULL;
    int32_t poll_code = roomlink_poll_event(st->other, &ev);
    if (ev != NULL) roomlink_event_free(ev);
    /* Refused: blocking on the event thread. */
    int32_t wait_code = roomlink_wait_event(st->other, 10, &ev);
    roomlink_engine_config c = config();
    roomlink_engine created = 0;
    int32_t create_code = roomlink_engine_create(&c, NULL, &created);
    if (create_code == 0) roomlink_engine_destroy(created);
    int32_t out_code = st->destroy_inside ? roomlink_engine_destroy(st->self)
                                          : roomlink_logout_room(st->self, room);
    pthread_mutex_lock(&st->lock);
    st->logining++;
    st->state_code = state_code;
    st->state = s;
    st->poll_code = poll_code;
    st->wait_code = wait_code;
    st->create_code = create_code;
    if (st->destroy_inside) st->destroy_code = out_code; else st->logout_code = out_code;
    signal_cb(st);
  } else if (reason == ROOMLINK_REASON_LOGOUT) {
    pthread_mutex_lock(&st->lock);
    st->logout++;
    signal_cb(st);
  }
}

static void cb_released(void *ud) {
  struct cb_state *st = ud;
  pthread_mutex_lock(&st->lock);
  st->released++;
  signal_cb(st);
}

/* Waits until *flag >= want (5 s deadline); returns whether it got there. */
static int wait_for(struct cb_state *st, int *flag, int want) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 5;
  pthread_mutex_lock(&st->lock);
  int timed_out = 0;
  while (*flag < want && !timed_out) {
    timed_out = pthread_cond_timedwait(&st->cond, &st->lock, &deadline) == ETIMEDOUT;
  }
  int ok = *flag >= want;
  pthread_mutex_unlock(&st->lock);
  return ok;
}

static void run_callback_case(int destroy_inside) {
  struct cb_state st;
  memset(&st, 0, sizeof st);
  pthread_mutex_init(&st.lock, NULL);
  pthread_cond_init(&st.cond, NULL);
  st.destroy_inside = destroy_inside;
  st.other = pull_engine();
  roomlink_event_handler h;
  memset(&h, 0, sizeof h);
  h.user_data = &st;
  h.on_room_state_changed = cb_state_changed;
  h.on_released = cb_released;
  roomlink_engine_config c = config();
  /* Written before the login below, so before any callback reads it. */
  CHECK_CODE(roomlink_engine_create(&c, &h, &st.self), 0);
  /* Polling an engine that has a handler is a host bug, and so is asking it for event-ready
   * calls (its events go to the callbacks). */
  roomlink_event *ev = NULL;
  CHECK_CODE(roomlink_poll_event(st.self, &ev), ROOMLINK_CODE_INVALID_ARGUMENT);
  CHECK_CODE(roomlink_set_event_ready_callback(st.self, ready_never, NULL),
             ROOMLINK_CODE_INVALID_ARGUMENT);
  CHECK_CODE(roomlink_login_room(st.self, "r1", "alice", "Alice", "t", 1), 0);
  CHECK(wait_for(&st, &st.logining, 1));
  CHECK(wait_for(&st, &st.logout, 1));
  pthread_mutex_lock(&st.lock);
  CHECK_CODE(st.state_code, 0);
  CHECK(st.state == ROOMLINK_STATE_CONNECTING);
  CHECK_CODE(st.poll_code, 0);
  CHECK_CODE(st.wait_code, ROOMLINK_CODE_CALLED_FROM_CALLBACK);
  CHECK_CODE(st.create_code, 0);
  if (destroy_inside) {
    CHECK_CODE(st.destroy_code, 0);
  } else {
    CHECK_CODE(st.logout_code, 0);
  }
  pthread_mutex_unlock(&st.lock);
  if (destroy_inside) {
    CHECK(wait_for(&st, &st.released, 1));
    CHECK_CODE(roomlink_logout_room(st.self, "r1"), ROOMLINK_CODE_ENGINE_DESTROYED);
    CHECK_CODE(roomlink_engine_destroy(st.self), ROOMLINK_CODE_ENGINE_DESTROYED);
  } else {
    CHECK(state_of(st.self, "r1") == ROOMLINK_STATE_DISCONNECTED);
    CHECK_CODE(roomlink_engine_destroy(st.self), 0);
    /* Destroy from outside a callback returns after the last callback: released by now. */
    pthread_mutex_lock(&st.lock);
    CHECK(st.released == 1);
    pthread_mutex_unlock(&st.lock);
  }
  /* The refused wait changed nothing on the other engine. */
  EXPECT_QUIET(st.other);
  CHECK_CODE(roomlink_engine_destroy(st.other), 0);
  pthread_mutex_lock(&st.lock);
  CHECK(st.logining == 1 && st.logout == 1 && st.released == 1);
  pthread_mutex_unlock(&st.lock);
  pthread_mutex_destroy(&st.lock);
  pthread_cond_destroy(&st.cond);
}

/* Two engines destroying each other from their callbacks at the same moment: each callback
 * waits (5 s at most) until both are inside one, then destroys the other engine. Destroy there
 * must not wait for the other engine's callback, which is waiting for this one. */
struct mutual {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  roomlink_engine engines[2];
  int inside, met, destroyed, released;
  int32_t codes[2];
};

struct mutual_side {
  struct mutual *m;
  int index;
};

static void signal_mutual(struct mutual *m) { /* lock held; releases it */
  pthread_cond_broadcast(&m->cond);
  pthread_mutex_unlock(&m->lock);
}

/* Waits (5 s at most) until *value >= want; whether it got there. */
static int wait_mutual_until(struct mutual *m, int *value, int want) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 5;
  pthread_mutex_lock(&m->lock);
  int rc = 0;
  while (*value < want && rc == 0) rc = pthread_cond_timedwait(&m->cond, &m->lock, &deadline);
  int ok = *value >= want;
  pthread_mutex_unlock(&m->lock);
  return ok;
}

/* Both callbacks are inside at once. */
static int wait_for_mutual(struct mutual *m) { return wait_mutual_until(m, &m->inside, 2); }

static void mutual_state_changed(void *ud, const char *room, roomlink_room_state_reason reason,
                                 int32_t code, const roomlink_kv *kv, uint32_t n) {
  (void)room, (void)code, (void)kv, (void)n;
  struct mutual_side *side = ud;
  struct mutual *m = side->m;
  if (reason != ROOMLINK_REASON_LOGINING) return;
  pthread_mutex_lock(&m->lock);
  m->inside++;
  pthread_cond_broadcast(&m->cond);
  pthread_mutex_unlock(&m->lock);
  if (wait_for_mutual(m)) {
    pthread_mutex_lock(&m->lock);
    m->met++;
    pthread_mutex_unlock(&m->lock);
  }
  int32_t destroy_code = roomlink_engine_destroy(m->engines[1 - side->index]);
  pthread_mutex_lock(&m->lock);
  m->codes[side->index] = destroy_code;
  m->destroyed++;
  signal_mutual(m);
}

static void mutual_released(void *ud) {
  struct mutual *m = ((struct mutual_side *)ud)->m;
  pthread_mutex_lock(&m->lock);
  m->released++;
  signal_mutual(m);
}

static void test_mutual_destroy(void) {
  struct mutual m;
  memset(&m, 0, sizeof m);
  pthread_mutex_init(&m.lock, NULL);
  pthread_cond_init(&m.cond, NULL);
  struct mutual_side sides[2] = {{&m, 0}, {&m, 1}};
  roomlink_engine_config c = config();
  for (int i = 0; i < 2; i++) {
    roomlink_event_handler h;
    memset(&h, 0, sizeof h);
    h.user_data = &sides[i];
    h.on_room_state_changed = mutual_state_changed;
    h.on_released = mutual_released;
    CHECK_CODE(roomlink_engine_create(&c, &h, &m.engines[i]), 0);
  }
  for (int i = 0; i < 2; i++) CHECK_CODE(roomlink_login_room(m.engines[i], "r1", "a", "A", "t", 1), 0);
  int done = wait_mutual_until(&m, &m.released, 2);
  if (!done) { /* still blocked in the library: freeing the state would be a use after free */
    fprintf(stderr, "misuse.c: mutual destroy did not finish within 5 s (deadlock?)\n");
    exit(1);
  }
  pthread_mutex_lock(&m.lock);
  CHECK(m.met == 2 && m.destroyed == 2);
  CHECK_CODE(m.codes[0], 0);
  CHECK_CODE(m.codes[1], 0);
  pthread_mutex_unlock(&m.lock);
  for (int i = 0; i < 2; i++) CHECK_CODE(roomlink_engine_destroy(m.engines[i]), ROOMLINK_CODE_ENGINE_DESTROYED);
  pthread_cond_destroy(&m.cond);
  pthread_mutex_destroy(&m.lock);
}

static void test_callbacks(void) {
  run_callback_case(0);
  run_callback_case(1);
  test_mutual_destroy();
}

/* ---- inside the log callback everything but the pure functions is refused ---- */

static roomlink_engine log_engine;
static atomic_int log_records, log_wrong;

static void check_refused(int32_t code) {
  if (code != ROOMLINK_CODE_CALLED_FROM_CALLBACK) atomic_fetch_add(&log_wrong, 1);
}

static void log_cb(void *ud, roomlink_log_level level, const char *target, const char *message) {
  (void)level;
  if (ud != &log_records || target == NULL || message == NULL) atomic_fetch_add(&log_wrong, 1);
  atomic_fetch_add(&log_records, 1);
  roomlink_engine e = log_engine;
  roomlink_engine_config c = config();
  roomlink_engine created = 0;
  roomlink_connection_state s = 0;
  roomlink_event *ev = NULL;
  check_refused(roomlink_login_room(e, "rlog", "alice", "Alice", "t", 1));
  check_refused(roomlink_logout_room(e, "rlog"));
  check_refused(roomlink_room_state(e, "rlog", &s));
  check_refused(roomlink_on_network_changed(e, 1));
  check_refused(roomlink_on_app_background(e));
  check_refused(roomlink_on_app_foreground(e));
  check_refused(roomlink_poll_event(e, &ev));
  check_refused(roomlink_wait_event(e, 10, &ev));
  check_refused(roomlink_engine_create(&c, NULL, &created));
  check_refused(roomlink_engine_destroy(e));
  check_refused(roomlink_set_log_callback(NULL, NULL, ROOMLINK_LOG_OFF));
  check_refused(roomlink_set_event_ready_callback(e, ready_never, NULL));
  check_refused(roomlink_set_log_queue(NULL, NULL, ROOMLINK_LOG_OFF, 1));
  /* Allowed: taking queued log records (none are queued here). */
  roomlink_log_record *record = (roomlink_log_record *)&record;
  if (roomlink_poll_log_record(&record) != 0 || record != NULL) atomic_fetch_add(&log_wrong, 1);
  /* Allowed: the pure functions. */
  if (strcmp(roomlink_error_name(ROOMLINK_CODE_OK), "OK") != 0) atomic_fetch_add(&log_wrong, 1);
  if (roomlink_abi_version() != ROOMLINK_ABI_VERSION) atomic_fetch_add(&log_wrong, 1);
  if (created != 0 || ev != NULL) atomic_fetch_add(&log_wrong, 1);
}

static void test_log_callback(void) {
  log_engine = pull_engine();
  CHECK_CODE(roomlink_set_log_callback(log_cb, &log_records, ROOMLINK_LOG_TRACE), 0);
  /* Creating and destroying an engine logs (debug records). */
  roomlink_engine e = pull_engine();
  CHECK_CODE(roomlink_engine_destroy(e), 0);
  CHECK_CODE(roomlink_set_log_callback(NULL, NULL, ROOMLINK_LOG_OFF), 0);
  int records = atomic_load(&log_records);
  CHECK(records > 0);
  CHECK(atomic_load(&log_wrong) == 0);
  /* Once set_log_callback returned, the old callback is never called again. */
  roomlink_engine f = pull_engine();
  CHECK_CODE(roomlink_engine_destroy(f), 0);
  CHECK(atomic_load(&log_records) == records);
  /* The refused calls changed nothing. */
  CHECK(state_of(log_engine, "rlog") == ROOMLINK_STATE_DISCONNECTED);
  EXPECT_QUIET(log_engine);
  CHECK_CODE(roomlink_engine_destroy(log_engine), 0);
}

/* ---- many threads on shared handles ---- */

#define THREADS 12
#define ROUNDS 150
#define SHARED 3

static roomlink_engine shared_engines[SHARED];
static atomic_int bad_codes;

static void expect_valid(int32_t code, const char *what) {
  int known = code == 0 || strcmp(roomlink_error_name(code), "UNKNOWN") != 0;
  if (!known || code == ROOMLINK_CODE_PANICKED || code == ROOMLINK_CODE_INTERNAL_ERROR ||
      code == ROOMLINK_CODE_NULL_POINTER || code == ROOMLINK_CODE_INVALID_UTF8 ||
      code == ROOMLINK_CODE_UNKNOWN_ENGINE || code == ROOMLINK_CODE_CALLED_FROM_CALLBACK) {
    fprintf(stderr, "concurrent %s returned %d (%s)\n", what, code, roomlink_error_name(code));
    atomic_fetch_add(&bad_codes, 1);
  }
}

static void *hammer(void *arg) {
  unsigned seed = (unsigned)(size_t)arg * 7919u + 1;
  char room[16];
  for (int i = 0; i < ROUNDS; i++) {
    roomlink_engine e = shared_engines[rand_r(&seed) % SHARED];
    snprintf(room, sizeof room, "r%d", rand_r(&seed) % 4);
    roomlink_event *ev = NULL;
    roomlink_connection_state s = 0;
    int32_t code;
    switch (rand_r(&seed) % 8) {
      case 0: expect_valid(roomlink_login_room(e, room, "alice", "Alice", "t", 1), "login"); break;
      case 1: expect_valid(roomlink_logout_room(e, room), "logout"); break;
      case 2:
        code = roomlink_room_state(e, room, &s);
        expect_valid(code, "room_state");
        if (code == 0 && (s < ROOMLINK_STATE_DISCONNECTED || s > ROOMLINK_STATE_FAILED)) {
          atomic_fetch_add(&bad_codes, 1);
        }
        break;
      case 3:
        code = roomlink_poll_event(e, &ev);
        expect_valid(code, "poll");
        if (code == 0 && ev != NULL) expect_valid(roomlink_event_free(ev), "event_free");
        break;
      case 4:
        code = roomlink_wait_event(e, 2, &ev);
        expect_valid(code, "wait");
        if (code == 0 && ev != NULL) expect_valid(roomlink_event_free(ev), "event_free");
        break;
      case 5:
        expect_valid(roomlink_on_network_changed(e, (unsigned)i & 1u), "network");
        expect_valid((i & 2) ? roomlink_on_app_foreground(e) : roomlink_on_app_background(e), "app");
        break;
      case 6: expect_valid(roomlink_switch_room(e, room, "r9", "t"), "switch"); break;
      default:
        /* Rarely: destroy a shared engine under everyone's feet. */
        if (rand_r(&seed) % 40 == 0) expect_valid(roomlink_engine_destroy(e), "destroy");
        break;
    }
  }
  return NULL;
}

static void test_many_threads(void) {
  roomlink_engine_config c = config();
  c.room_mode = ROOMLINK_ROOM_MODE_MULTI_ROOM;
  for (int i = 0; i < SHARED; i++) CHECK_CODE(roomlink_engine_create(&c, NULL, &shared_engines[i]), 0);
  pthread_t threads[THREADS];
  for (size_t i = 0; i < THREADS; i++) CHECK(pthread_create(&threads[i], NULL, hammer, (void *)i) == 0);
  for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
  CHECK(atomic_load(&bad_codes) == 0);
  /* Destroy what is left and drain every queue: then each handle reports ENGINE_DESTROYED. */
  for (int i = 0; i < SHARED; i++) {
    int32_t code = roomlink_engine_destroy(shared_engines[i]);
    CHECK(code == 0 || code == ROOMLINK_CODE_ENGINE_DESTROYED);
    roomlink_event *ev = NULL;
    int guard = 0;
    while ((code = roomlink_poll_event(shared_engines[i], &ev)) == 0 && guard++ < 100000) {
      if (ev != NULL) CHECK_CODE(roomlink_event_free(ev), 0);
    }
    CHECK_CODE(code, ROOMLINK_CODE_ENGINE_DESTROYED);
  }
}

int main(void) {
  test_version_and_codes();
  test_create_misuse();
  test_pointer_and_utf8_misuse();
  test_handles();
  test_callbacks();
  test_log_callback();
  test_many_threads();
  /* No refused roomlink_set_event_ready_callback installed a callback that was then called. */
  CHECK(atomic_load(&ready_never_calls) == 0);
  int n = atomic_load(&failures);
  if (n != 0) {
    fprintf(stderr, "misuse: %d check(s) failed\n", n);
    return 1;
  }
  printf("misuse: all checks passed\n");
  return 0;
}
