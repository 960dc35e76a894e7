/*
 * mqlite_handle_clone(): another handle to a running broker, for another
 * thread. While one thread runs the broker, mqlite_broker_handle() is
 * refused (MQLITE_BUSY); a clone works from any thread and from callbacks,
 * each clone is freed on its own (in any order, before or after the
 * broker), and clones of a stopped or freed broker answer MQLITE_STOPPED.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <time.h>

#include "check.h"

#define WORKERS 4
#define PER_WORKER 1000

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    long work;        /* messages under work/ received */
    long echoes;      /* messages under echo/ received */
    long bad_clones;  /* failures to clone or publish inside the callback */
} counts;

static counts C;

/* Waits until *counter reaches want (or 30 s pass); gives the final value. */
static long wait_for(long *counter, long want) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&C.lock);
    while (*counter < want) {
        if (pthread_cond_timedwait(&C.changed, &C.lock, &until) != 0) break;
    }
    long got = *counter;
    pthread_mutex_unlock(&C.lock);
    return got;
}

static void bump(long *counter) {
    pthread_mutex_lock(&C.lock);
    (*counter)++;
    pthread_cond_broadcast(&C.changed);
    pthread_mutex_unlock(&C.lock);
}

static void on_work(void *userdata, const mqlite_message *message) {
    (void)userdata;
    (void)message;
    bump(&C.work);
}

static void on_echo(void *userdata, const mqlite_message *message) {
    (void)userdata;
    (void)message;
    bump(&C.echoes);
}

/* On the broker thread: a clone made, used and freed inside a callback. */
static void on_ask(void *userdata, const mqlite_message *message) {
    const mqlite_handle *handle = userdata;
    mqlite_handle *clone = NULL;
    if (mqlite_handle_clone(handle, &clone) != MQLITE_OK || !clone) {
        bump(&C.bad_clones);
        return;
    }
    if (mqlite_handle_publish(clone, "echo/1", message->payload, message->payload_len, 0,
                              false) != MQLITE_OK)
        bump(&C.bad_clones);
    mqlite_handle_free(clone);
}

typedef struct {
    const mqlite_handle *parent; /* clone it here, on this thread ... */
    mqlite_handle *given;        /* ... or own this one, cloned for us */
    int index;
    mqlite_result rc;
} worker_args;

static void *worker(void *arg) {
    worker_args *args = arg;
    mqlite_handle *mine = args->given;
    args->rc = MQLITE_OK;
    if (!mine) {
        args->rc = mqlite_handle_clone(args->parent, &mine);
        if (args->rc != MQLITE_OK) return NULL;
    }
    char topic[32];
    snprintf(topic, sizeof topic, "work/%d", args->index);
    for (int i = 0; i < PER_WORKER && args->rc == MQLITE_OK; i++)
        args->rc = mqlite_handle_publish(mine, topic, (const uint8_t *)"x", 1, (uint8_t)(i % 3),
                                         false);
    mqlite_handle_free(mine);
    return NULL;
}

static void *run_broker(void *arg) {
    mqlite_result rc = mqlite_broker_run(arg);
    if (rc != MQLITE_OK) fprintf(stderr, "run: %s\n", mqlite_result_text(rc));
    return NULL;
}

int main(void) {
    pthread_mutex_init(&C.lock, NULL);
    pthread_cond_init(&C.changed, NULL);
    mqlite_broker *broker = test_broker(NULL);
    mqlite_handle *first = NULL;
    CHECK_RC(mqlite_broker_handle(broker, &first), MQLITE_OK);

    /* Arguments: NULL is refused, and the out-parameter is left alone. */
    mqlite_handle *untouched = (mqlite_handle *)&C;
    CHECK_RC(mqlite_handle_clone(NULL, &untouched), MQLITE_NULL_PARAMETER);
    CHECK(untouched == (mqlite_handle *)&C);
    CHECK_RC(mqlite_handle_clone(first, NULL), MQLITE_NULL_PARAMETER);

    uint64_t sub = 0;
    CHECK_RC(mqlite_broker_subscribe_local(broker, "work/#", 2, on_work, NULL, &sub), MQLITE_OK);
    CHECK_RC(mqlite_broker_subscribe_local(broker, "echo/#", 0, on_echo, NULL, &sub), MQLITE_OK);
    CHECK_RC(mqlite_broker_subscribe_local(broker, "ask/#", 0, on_ask, first, &sub), MQLITE_OK);

    pthread_t runner;
    pthread_create(&runner, NULL, run_broker, broker);
    /* Once a message has come back, the run is under way: the broker is
     * busy, and only handles reach it. */
    CHECK_RC(mqlite_handle_publish(first, "ask/0", (const uint8_t *)"hi", 2, 0, false), MQLITE_OK);
    CHECK(wait_for(&C.echoes, 1) == 1);
    mqlite_handle *refused = NULL;
    CHECK_RC(mqlite_broker_handle(broker, &refused), MQLITE_BUSY);
    CHECK(refused == NULL);

    /* Half the workers clone the first handle on their own thread, the
     * others get a clone made here; each frees its own. */
    pthread_t threads[WORKERS];
    worker_args args[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        args[i].parent = first;
        args[i].given = NULL;
        args[i].index = i;
        if (i % 2) CHECK_RC(mqlite_handle_clone(first, &args[i].given), MQLITE_OK);
        pthread_create(&threads[i], NULL, worker, &args[i]);
    }
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(threads[i], NULL);
        CHECK_RC(args[i].rc, MQLITE_OK);
    }
    long work = wait_for(&C.work, (long)WORKERS * PER_WORKER);
    CHECK(work == (long)WORKERS * PER_WORKER);
    if (work != (long)WORKERS * PER_WORKER)
        fprintf(stderr, "received %ld of %ld\n", work, (long)WORKERS * PER_WORKER);

    /* A clone outlives the handle it came from. */
    mqlite_handle *second = NULL;
    CHECK_RC(mqlite_handle_clone(first, &second), MQLITE_OK);
    CHECK(second != NULL && second != first);
    CHECK_RC(mqlite_handle_subscribe_local(second, "late/#", 0, on_echo, NULL, &sub), MQLITE_OK);
    CHECK_RC(mqlite_handle_publish(second, "ask/1", (const uint8_t *)"hi", 2, 0, false),
             MQLITE_OK);
    CHECK(wait_for(&C.echoes, 2) == 2);
    pthread_mutex_lock(&C.lock);
    CHECK(C.bad_clones == 0);
    pthread_mutex_unlock(&C.lock);

    /* Stopped through a clone: every handle sees it, and new clones too. */
    mqlite_handle *stopper = NULL;
    CHECK_RC(mqlite_handle_clone(second, &stopper), MQLITE_OK);
    CHECK_RC(mqlite_handle_stop(stopper), MQLITE_OK);
    pthread_join(runner, NULL);
    mqlite_handle_free(stopper);
    CHECK(mqlite_handle_is_stopped(first));
    mqlite_handle *after_stop = NULL;
    CHECK_RC(mqlite_handle_clone(second, &after_stop), MQLITE_OK);
    CHECK(mqlite_handle_is_stopped(after_stop));
    CHECK_RC(mqlite_handle_publish(after_stop, "work/9", NULL, 0, 0, false), MQLITE_STOPPED);
    mqlite_handle_free(first); /* the callback's userdata: no callback runs any more */

    /* After the broker is freed a handle may still be cloned and freed. */
    mqlite_broker_free(broker);
    mqlite_handle *after_free = NULL;
    CHECK_RC(mqlite_handle_clone(after_stop, &after_free), MQLITE_OK);
    CHECK_RC(mqlite_handle_publish(after_free, "work/9", NULL, 0, 0, false), MQLITE_STOPPED);
    mqlite_handle_free(after_stop);
    mqlite_handle_free(second);
    mqlite_handle_free(after_free);

    pthread_mutex_destroy(&C.lock);
    pthread_cond_destroy(&C.changed);
    return test_done("test_handle_clone");
}
