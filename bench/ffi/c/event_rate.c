/*
 * Events per second delivered through the C callback API (README "Benchmarks", issue 6): the same
 * workload as bench/ffi/kotlin/EventRate.kt and `roomlink-bench event-rate` (the Rust handler).
 *
 * N engines log in to one room on a running server; once every engine sees the whole room,
 * engine 0 publishes K streams and unpublishes them in batches of 64 (the most one engine may
 * publish at once), with at most WINDOW batches ahead of the slowest listener, and the other N-1
 * engines' callbacks count every event until each has seen all K removals. The figure is the
 * events delivered to the listeners' callbacks divided by the time from the first publish to the
 * last listener's last removal.
 *
 * Usage: event-rate --server URL --room ROOM --streams K
 * with one "USER_ID TOKEN" line per engine on stdin. Prints one JSON line (integers only);
 * exits 1 with a message on stderr when anything fails or takes longer than 60 s.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roomlink.h"

/* How long any phase may take before the run counts as broken. */
#define PATIENCE_S 60
/* core's limit on one engine's published streams per room (MAX_PUBLISHED_STREAMS). */
#define MAX_PUBLISHED 64
/* Batches in flight: 4 × 128 updates per listener stay well inside the server's 1024-frame
 * queue per connection, which closes a listener that falls further behind (one the OS did not
 * schedule for a while on a loaded machine); the window is far more than the pipeline needs. */
#define WINDOW 4

/* One engine's listener. Its fields but `events` and `measuring` change under `lock`. */
struct counter {
  int engines;
  int streams;
  int logged_in;
  int room_full;
  int done;
  uint32_t last_count;
  int removed;      /* the event thread's only */
  int removed_seen; /* `removed` at the last whole batch, for the publisher's window */
  uint64_t done_at_ns;
  atomic_int measuring;
  atomic_long events;
};

/* Every counter's latches: one lock and one condition (waiters re-check their own flag). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void count(struct counter *c) {
  if (atomic_load(&c->measuring)) atomic_fetch_add_explicit(&c->events, 1, memory_order_relaxed);
}

static void on_state(void *user_data, const char *room_id, roomlink_room_state_reason reason,
                     int32_t error_code, const roomlink_kv *extended_data, uint32_t len) {
  (void)room_id, (void)error_code, (void)extended_data, (void)len;
  struct counter *c = user_data;
  count(c);
  if (reason == ROOMLINK_REASON_LOGINED) {
    pthread_mutex_lock(&lock);
    c->logged_in = 1;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
  }
}

static void on_users(void *user_data, const char *room_id, roomlink_update_type update_type,
                     const roomlink_user *users, uint32_t user_count) {
  (void)room_id, (void)update_type, (void)users, (void)user_count;
  count(user_data);
}

static void on_user_count(void *user_data, const char *room_id, uint32_t n) {
  (void)room_id;
  struct counter *c = user_data;
  count(c);
  pthread_mutex_lock(&lock);
  c->last_count = n;
  if (n == (uint32_t)c->engines) {
    c->room_full = 1;
    pthread_cond_broadcast(&changed);
  }
  pthread_mutex_unlock(&lock);
}

static void on_streams(void *user_data, const char *room_id, roomlink_update_type update_type,
                       const roomlink_stream *streams, uint32_t stream_count,
                       roomlink_stream_delete_reason reason) {
  (void)room_id, (void)streams, (void)reason;
  struct counter *c = user_data;
  count(c);
  if (update_type != ROOMLINK_UPDATE_DELETE) return;
  int before = c->removed;
  c->removed += (int)stream_count;
  if (c->removed == c->streams || c->removed / MAX_PUBLISHED != before / MAX_PUBLISHED) {
    uint64_t at = now_ns();
    pthread_mutex_lock(&lock);
    c->removed_seen = c->removed;
    if (c->removed == c->streams) {
      c->done_at_ns = at;
      c->done = 1;
    }
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
  }
}

static void on_token(void *user_data, const char *room_id, uint32_t remaining_seconds) {
  (void)room_id, (void)remaining_seconds;
  count(user_data);
}

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  fprintf(stderr, "event-rate (C): ");
  vfprintf(stderr, fmt, args);
  fputc('\n', stderr);
  va_end(args);
  exit(1);
}

/* Waits until `ready(counter, arg)` holds for every counter in [from, n), with one deadline. */
static void await_all(const char *what, struct counter *counters, int from, int n,
                      int (*ready)(const struct counter *, int), int arg) {
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += PATIENCE_S;
  pthread_mutex_lock(&lock);
  for (int i = from; i < n; i++) {
    while (!ready(&counters[i], arg)) {
      if (pthread_cond_timedwait(&changed, &lock, &deadline) == ETIMEDOUT &&
          !ready(&counters[i], arg)) {
        pthread_mutex_unlock(&lock);
        fprintf(stderr, "event-rate (C): no %s within %d s (engine %d, room count %u)\n", what,
                PATIENCE_S, i, counters[i].last_count);
        exit(1);
      }
    }
  }
  pthread_mutex_unlock(&lock);
}

static int logged_in(const struct counter *c, int unused) { return (void)unused, c->logged_in; }
static int room_full(const struct counter *c, int unused) { return (void)unused, c->room_full; }
static int done(const struct counter *c, int unused) { return (void)unused, c->done; }
static int removed_at_least(const struct counter *c, int n) { return c->removed_seen >= n; }

static void check(int32_t rc, const char *call) {
  if (rc != ROOMLINK_CODE_OK) fail("%s failed: %ld %s", call, (long)rc, roomlink_error_name(rc));
}

int main(int argc, char **argv) {
  const char *server = NULL, *room = NULL;
  long streams = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--server") == 0) {
      server = argv[i + 1];
    } else if (strcmp(argv[i], "--room") == 0) {
      room = argv[i + 1];
    } else if (strcmp(argv[i], "--streams") == 0) {
      char *end;
      streams = strtol(argv[i + 1], &end, 10);
      if (*end != '\0') streams = 0;
    } else {
      fail("unknown argument %s", argv[i]);
    }
  }
  if (argc % 2 != 1 || server == NULL || room == NULL || streams <= 0 || streams > 1000000) {
    fprintf(stderr, "usage: %s --server URL --room ROOM --streams K (1..1000000)\n", argv[0]);
    return 2;
  }
  if (roomlink_abi_version() != ROOMLINK_ABI_VERSION) {
    fail("the library's ABI is %u, not this header's %d", roomlink_abi_version(), ROOMLINK_ABI_VERSION);
  }

  /* "USER_ID TOKEN" lines. */
  char **users = NULL, **tokens = NULL;
  int n = 0, cap = 0;
  char *line = NULL;
  size_t line_cap = 0;
  ssize_t len;
  while ((len = getline(&line, &line_cap, stdin)) > 0) {
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (len == 0) continue;
    char *space = strchr(line, ' ');
    if (space == NULL) fail("bad stdin line %s (want \"USER_ID TOKEN\")", line);
    *space = '\0';
    if (n == cap) {
      cap = cap ? 2 * cap : 16;
      users = realloc(users, (size_t)cap * sizeof *users);
      tokens = realloc(tokens, (size_t)cap * sizeof *tokens);
      if (users == NULL || tokens == NULL) fail("out of memory");
    }
    users[n] = strdup(line);
    tokens[n] = strdup(space + 1);
    if (users[n] == NULL || tokens[n] == NULL) fail("out of memory");
    n++;
  }
  free(line);
  if (n < 2) fail("need at least 2 \"USER_ID TOKEN\" lines on stdin, got %d", n);

  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&changed, &attr);
  pthread_condattr_destroy(&attr);

  roomlink_engine_config config;
  check(roomlink_engine_config_default(&config), "roomlink_engine_config_default");
  config.server_url = server;
  config.room_mode = ROOMLINK_ROOM_MODE_SINGLE_ROOM;
  /* Lives until exit: no callback can outlive it (destroy returns after the last one). */
  struct counter *counters = calloc((size_t)n, sizeof *counters);
  roomlink_engine *engines = calloc((size_t)n, sizeof *engines);
  if (counters == NULL || engines == NULL) fail("out of memory");
  for (int i = 0; i < n; i++) {
    counters[i].engines = n;
    counters[i].streams = (int)streams;
    roomlink_event_handler handler = {
        .user_data = &counters[i],
        .on_room_state_changed = on_state,
        .on_room_user_update = on_users,
        .on_room_online_user_count_update = on_user_count,
        .on_room_stream_update = on_streams,
        .on_room_token_will_expire = on_token,
    };
    check(roomlink_engine_create(&config, &handler, &engines[i]), "roomlink_engine_create");
    check(roomlink_login_room(engines[i], room, users[i], users[i], tokens[i], 1),
          "roomlink_login_room");
  }
  await_all("login", counters, 0, n, logged_in, 0);
  await_all("full room", counters, 0, n, room_full, 0);

  for (int i = 1; i < n; i++) atomic_store(&counters[i].measuring, 1);
  uint64_t start = now_ns();
  char stream_id[32];
  /* An engine publishes at most 64 streams at once: publish and unpublish them in batches. */
  for (long first = 0; first < streams; first += MAX_PUBLISHED) {
    long behind = first - (WINDOW - 1) * MAX_PUBLISHED; /* whole batches every listener must have seen */
    if (behind > 0) await_all("window", counters, 1, n, removed_at_least, (int)behind);
    long last = first + MAX_PUBLISHED < streams ? first + MAX_PUBLISHED : streams;
    for (long s = first; s < last; s++) {
      snprintf(stream_id, sizeof stream_id, "s%ld", s);
      check(roomlink_publish_stream(engines[0], room, stream_id, ""), "roomlink_publish_stream");
    }
    for (long s = first; s < last; s++) {
      snprintf(stream_id, sizeof stream_id, "s%ld", s);
      check(roomlink_unpublish_stream(engines[0], room, stream_id), "roomlink_unpublish_stream");
    }
  }
  await_all("removal of every stream", counters, 1, n, done, 0);
  uint64_t end = 0;
  long events = 0;
  pthread_mutex_lock(&lock);
  for (int i = 1; i < n; i++) {
    if (counters[i].done_at_ns > end) end = counters[i].done_at_ns;
  }
  pthread_mutex_unlock(&lock);
  for (int i = 1; i < n; i++) {
    atomic_store(&counters[i].measuring, 0);
    events += atomic_load(&counters[i].events);
  }

  for (int i = 0; i < n; i++) check(roomlink_engine_destroy(engines[i]), "roomlink_engine_destroy");
  uint64_t elapsed_us = (end - start) / 1000;
  if (elapsed_us == 0) elapsed_us = 1;
  printf("{\"engines\":%d,\"streams\":%ld,\"events\":%ld,\"elapsed_us\":%llu,\"events_per_s\":%llu}\n",
         n, streams, events, (unsigned long long)elapsed_us,
         (unsigned long long)((uint64_t)events * 1000000u / elapsed_us));
  for (int i = 0; i < n; i++) {
    free(users[i]);
    free(tokens[i]);
  }
  free(users);
  free(tokens);
  free(counters);
  free(engines);
  return 0;
}
