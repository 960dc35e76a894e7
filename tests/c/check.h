/*
 * Shared helpers of the C tests: CHECK macros that count failures, and a
 * broker on a free port.
 */
#ifndef MQLITE_TEST_CHECK_H
#define MQLITE_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqlite.h"

static int check_failures = 0;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                       \
        }                                                                           \
    } while (0)

/* Checks that an expression returns the expected mqlite_result. */
#define CHECK_RC(expr, expected)                                                       \
    do {                                                                               \
        mqlite_result check_rc_ = (expr);                                              \
        if (check_rc_ != (mqlite_result)(expected)) {                                  \
            fprintf(stderr, "%s:%d: %s returned %u (%s), expected %s\n", __FILE__,    \
                    __LINE__, #expr, (unsigned)check_rc_, mqlite_result_text(check_rc_), \
                    #expected);                                                        \
            check_failures++;                                                          \
        }                                                                              \
    } while (0)

/* A broker listening on 127.0.0.1 with a free port, $SYS off. Exits on
 * failure. */
static inline mqlite_broker *test_broker(uint16_t *port) {
    mqlite_config *config = mqlite_config_new();
    mqlite_broker *broker = NULL;
    if (!config || mqlite_config_add_listener(config, "127.0.0.1:0") != MQLITE_OK ||
        mqlite_config_set_sys_interval_s(config, 0) != MQLITE_OK ||
        mqlite_broker_new(config, &broker) != MQLITE_OK) {
        char detail[256] = "";
        mqlite_last_error_text(detail, sizeof detail);
        fprintf(stderr, "cannot make a broker: %s\n", detail);
        exit(2);
    }
    mqlite_config_free(config);
    if (port && mqlite_broker_local_port(broker, 0, port) != MQLITE_OK) exit(2);
    return broker;
}

/* Prints the outcome and gives the exit status. */
static inline int test_done(const char *name) {
    if (check_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

#endif
