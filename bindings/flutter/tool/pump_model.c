/*
 * The Flutter plugin's event pump (lib/src/event_pump.dart and RoomlinkEngine.dispose), step for
 * step in C, run against the real library. No Dart VM runs where the plugin is developed, so this
 * is how the C ABI behaviour the pump relies on is tested:
 *  - a roomlink_wait_event blocked with the longest timeout (UINT32_MAX ms) returns when another
 *    thread destroys the engine;
 *  - the destroyed engine's last events (a Logout per room) are still taken;
 *  - while destroy is still running, wait returns NULL at once: the pump then waits for "destroy
 *    returned" instead of calling again (at most one such NULL), and its next wait returns
 *    ROOMLINK_CODE_ENGINE_DESTROYED once no event is left.
 * The "naive" case counts how often a loop that does not wait for "destroy returned" calls
 * roomlink_wait_event in vain during destroy (the figure behind the pump's design).
 *
 * Build and run: bash bindings/flutter/tool/pump_model.sh
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

struct pump {
  roomlink_engine engine;
  int naive; /* 1: on an early NULL, call again at once (to count the vain calls) */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  /* Guarded by lock. */
  int destroy_returned; /* RoomlinkEngine.dispose's message to the pump */
  int logining, logout, other;
  long early_nulls; /* NULL before the timeout */
  int32_t final_code;
  int done;
};

/* Waits (with a deadline, on the condition variable) until *counter >= want. */
static int wait_for(struct pump *p, const int *counter, int want, int timeout_ms) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&p->lock);
  int rc = 0;
  while (*counter < want && rc == 0) rc = pthread_cond_timedwait(&p->cond, &p->lock, &deadline);
  int reached = *counter >= want;
  pthread_mutex_unlock(&p->lock);
  return reached;
}

/* event_pump.dart's _pump. */
static void *run_pump(void *arg) {
  struct pump *p = arg;
  int destroyed = 0;
  int32_t final_code;
  for (;;) {
    roomlink_event *ev = NULL;
    double start = now_ms();
    int32_t code = roomlink_wait_event(p->engine, UINT32_MAX, &ev);
    if (code != ROOMLINK_CODE_OK) { /* ENGINE_DESTROYED: destroyed and drained */
      final_code = code;
      break;
    }
    if (ev != NULL) {
      pthread_mutex_lock(&p->lock);
      if (ev->kind == ROOMLINK_EVENT_ROOM_STATE_CHANGED && ev->reason == ROOMLINK_REASON_LOGINING)
        p->logining++;
      else if (ev->kind == ROOMLINK_EVENT_ROOM_STATE_CHANGED && ev->reason == ROOMLINK_REASON_LOGOUT)
        p->logout++;
      else
        p->other++;
      pthread_cond_broadcast(&p->cond);
      pthread_mutex_unlock(&p->lock);
      CHECK(roomlink_event_free(ev) == ROOMLINK_CODE_OK);
      continue;
    }
    if (now_ms() - start >= (double)UINT32_MAX) continue; /* a real timeout */
    pthread_mutex_lock(&p->lock);
    p->early_nulls++;
    pthread_mutex_unlock(&p->lock);
    if (p->naive) continue;
    if (destroyed) { /* destroy returned, yet not drained: stop instead of spinning */
      final_code = ROOMLINK_CODE_INTERNAL_ERROR;
      break;
    }
    if (!wait_for(p, &p->destroy_returned, 1, 10000)) {
      final_code = -1;
      break;
    }
    destroyed = 1;
  }
  pthread_mutex_lock(&p->lock);
  p->final_code = final_code;
  p->done = 1;
  pthread_cond_broadcast(&p->cond);
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

static roomlink_engine pull_engine(void) {
  roomlink_engine_config c;
  CHECK(roomlink_engine_config_default(&c) == ROOMLINK_CODE_OK);
  c.server_url = "ws://127.0.0.1:1/v1/ws"; /* nothing listens: logins stay in Logining */
  c.room_mode = ROOMLINK_ROOM_MODE_MULTI_ROOM;
  roomlink_engine e = 0;
  CHECK(roomlink_engine_create(&c, NULL, &e) == ROOMLINK_CODE_OK);
  return e;
}

static void run_case(const char *name, int rooms, int naive) {
  struct pump p = {0};
  pthread_mutex_init(&p.lock, NULL);
  pthread_cond_init(&p.cond, NULL);
  p.engine = pull_engine();
  p.naive = naive;
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, run_pump, &p) == 0);
  for (int i = 0; i < rooms; i++) {
    char room[16];
    snprintf(room, sizeof room, "r%d", i);
    CHECK(roomlink_login_room(p.engine, room, "alice", "Alice", "t", 1) == ROOMLINK_CODE_OK);
  }
  CHECK(wait_for(&p, &p.logining, rooms, 5000));

  /* RoomlinkEngine.dispose: destroy (on another isolate), then tell the pump it returned. */
  double t0 = now_ms();
  CHECK(roomlink_engine_destroy(p.engine) == ROOMLINK_CODE_OK);
  double destroy_ms = now_ms() - t0;
  pthread_mutex_lock(&p.lock);
  p.destroy_returned = 1;
  pthread_cond_broadcast(&p.cond);
  pthread_mutex_unlock(&p.lock);

  if (!wait_for(&p, &p.done, 1, 10000)) {
    fprintf(stderr, "pump_model: %s: the pump did not finish within 10 s\n", name);
    exit(1); /* it is blocked in the library: joining would hang */
  }
  pthread_join(thread, NULL);
  double total_ms = now_ms() - t0;
  CHECK(p.final_code == ROOMLINK_CODE_ENGINE_DESTROYED);
  CHECK(p.logining == rooms && p.logout == rooms && p.other == 0);
  if (!naive) CHECK(p.early_nulls <= 1);
  /* Nothing is left behind the handle. */
  roomlink_event *ev = NULL;
  CHECK(roomlink_poll_event(p.engine, &ev) == ROOMLINK_CODE_ENGINE_DESTROYED && ev == NULL);
  printf("pump_model: %-34s %d Logout(s); destroy %.1f ms, pump done %.1f ms after it started; "
         "%ld early NULL(s)\n", name, p.logout, destroy_ms, total_ms, p.early_nulls);
  pthread_cond_destroy(&p.cond);
  pthread_mutex_destroy(&p.lock);
}

int main(void) {
  CHECK(roomlink_abi_version() == ROOMLINK_ABI_VERSION);
  run_case("idle engine:", 0, 0);
  run_case("two rooms logging in:", 2, 0);
  run_case("two rooms, naive loop (measured):", 2, 1);
  if (failures) {
    fprintf(stderr, "pump_model: %d check(s) failed\n", failures);
    return 1;
  }
  printf("pump_model: all checks passed\n");
  return 0;
}
