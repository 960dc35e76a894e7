/*
 * Many threads publish through handles at once (some sharing one handle,
 * some with their own), while others subscribe, unsubscribe and read the
 * counters: every message arrives exactly once, in order per thread.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <time.h>

#include "check.h"

#define THREADS 8
#define PER_THREAD 5000

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    long total;
    long next[THREADS]; /* the next number expected from each thread */
    long out_of_order;
} counts;

static counts C;

typedef struct {
    mqlite_handle *handle;
    int index;
    mqlite_result rc;
} publisher_args;

static void on_message(void *userdata, const mqlite_message *message) {
    counts *c = userdata;
    char text[64];
    size_t n = message->payload_len < sizeof text - 1 ? message->payload_len : sizeof text - 1;
    memcpy(text, message->payload, n);
    text[n] = '\0';
    int thread = -1;
    long number = -1;
    if (sscanf(text, "%d:%ld", &thread, &number) != 2 || thread < 0 || thread >= THREADS) {
        c->out_of_order++;
        return;
    }
    pthread_mutex_lock(&c->lock);
    if (c->next[thread] != number) c->out_of_order++;
    c->next[thread] = number + 1;
    c->total++;
    if (c->total == (long)THREADS * PER_THREAD) pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

static void ignore(void *userdata, const mqlite_message *message) {
    (void)userdata;
    (void)message;
}

static void *publisher(void *arg) {
    publisher_args *args = arg;
    char topic[32];
    snprintf(topic, sizeof topic, "load/%d", args->index);
    args->rc = MQLITE_OK;
    for (long i = 0; i < PER_THREAD; i++) {
        char payload[64];
        int n = snprintf(payload, sizeof payload, "%d:%ld", args->index, i);
        mqlite_result rc = mqlite_handle_publish(args->handle, topic, (const uint8_t *)payload,
                                                 (size_t)n, (int)(i % 3), false);
        if (rc != MQLITE_OK) {
            args->rc = rc;
            break;
        }
    }
    return NULL;
}

/* Subscribes and unsubscribes, and reads stats, while the load runs. */
static void *churner(void *arg) {
    mqlite_handle *handle = arg;
    for (int i = 0; i < 200; i++) {
        uint64_t id = 0;
        if (mqlite_handle_subscribe_local(handle, "load/+", 0, ignore, NULL, &id) != MQLITE_OK)
            return (void *)1;
        if (mqlite_handle_unsubscribe_local(handle, id) != MQLITE_OK) return (void *)1;
        if (i % 50 == 0) {
            mqlite_stats stats;
            if (mqlite_handle_stats(handle, 5000, &stats) != MQLITE_OK) return (void *)1;
        }
    }
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
    mqlite_handle *shared = NULL;
    mqlite_handle *own[THREADS];
    CHECK_RC(mqlite_broker_handle(broker, &shared), MQLITE_OK);
    for (int i = 0; i < THREADS; i++) CHECK_RC(mqlite_broker_handle(broker, &own[i]), MQLITE_OK);

    pthread_t runner;
    pthread_create(&runner, NULL, run_broker, broker);

    /* Subscribed through the handle before any publish is queued. */
    uint64_t subscription = 0;
    CHECK_RC(mqlite_handle_subscribe_local(shared, "load/#", 2, on_message, &C, &subscription),
             MQLITE_OK);

    pthread_t threads[THREADS], churn;
    publisher_args args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i].handle = i < THREADS / 2 ? shared : own[i];
        args[i].index = i;
        pthread_create(&threads[i], NULL, publisher, &args[i]);
    }
    pthread_create(&churn, NULL, churner, shared);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        CHECK_RC(args[i].rc, MQLITE_OK);
    }
    void *churn_result = NULL;
    pthread_join(churn, &churn_result);
    CHECK(churn_result == NULL);

    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&C.lock);
    while (C.total < (long)THREADS * PER_THREAD) {
        if (pthread_cond_timedwait(&C.changed, &C.lock, &until) != 0) break;
    }
    long total = C.total, disorder = C.out_of_order;
    pthread_mutex_unlock(&C.lock);
    CHECK(total == (long)THREADS * PER_THREAD);
    CHECK(disorder == 0);
    if (total != (long)THREADS * PER_THREAD)
        fprintf(stderr, "received %ld of %ld\n", total, (long)THREADS * PER_THREAD);

    mqlite_stats stats;
    CHECK_RC(mqlite_handle_stats(own[0], 5000, &stats), MQLITE_OK);
    CHECK(stats.messages_received >= (uint64_t)THREADS * PER_THREAD);

    CHECK_RC(mqlite_handle_stop(own[THREADS - 1]), MQLITE_OK);
    pthread_join(runner, NULL);
    mqlite_handle_free(shared);
    for (int i = 0; i < THREADS; i++) mqlite_handle_free(own[i]);
    mqlite_broker_free(broker);
    pthread_mutex_destroy(&C.lock);
    pthread_cond_destroy(&C.changed);
    return test_done("test_threads");
}
