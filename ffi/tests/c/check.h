/*
 * The checks shared by the C tests (misuse.c, pull.c): a failed check prints where and why and
 * is counted; the test's exit status is the count's verdict. Include once, after roomlink.h.
 */
#ifndef ROOMLINK_TEST_CHECK_H
#define ROOMLINK_TEST_CHECK_H

#include <stdatomic.h>
#include <stdio.h>

static atomic_int failures;

#define CHECK(cond)                                                                \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
      atomic_fetch_add(&failures, 1);                                              \
    }                                                                              \
  } while (0)

/* `expr` must return `want`; on a mismatch both codes are printed with their names. */
#define CHECK_CODE(expr, want)                                                                \
  do {                                                                                        \
    int32_t got_ = (expr);                                                                    \
    if (got_ != (want)) {                                                                     \
      fprintf(stderr, "%s:%d: %s returned %d (%s), want %d (%s)\n", __FILE__, __LINE__,      \
              #expr, got_, roomlink_error_name(got_), (int)(want), roomlink_error_name(want)); \
      atomic_fetch_add(&failures, 1);                                                         \
    }                                                                                         \
  } while (0)

#endif
