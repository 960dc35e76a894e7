/*
 * Stopping while clients are connected: every client is closed, run()
 * returns, the event callback hears each disconnection, and the stopped
 * broker refuses further work without crashing. Also a broker freed
 * without a stop while clients are connected.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <time.h>

#include "check.h"
#include "mini_client.h"

#define CLIENTS 20

typedef struct {
    pthread_mutex_t lock;
    int connected, disconnected, shutdown;
} counts;

static counts C = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};

static void on_event(void *userdata, const mqlite_event *event) {
    counts *c = userdata;
    pthread_mutex_lock(&c->lock);
    if (event->kind == MQLITE_EVENT_CONNECTED) c->connected++;
    if (event->kind == MQLITE_EVENT_DISCONNECTED) {
        c->disconnected++;
        if (event->reason == MQLITE_CLOSE_SHUTDOWN) c->shutdown++;
    }
    pthread_mutex_unlock(&c->lock);
}

static void *run_broker(void *arg) {
    mqlite_result rc = mqlite_broker_run(arg);
    if (rc != MQLITE_OK) fprintf(stderr, "run: %s\n", mqlite_result_text(rc));
    return NULL;
}

static void *stopper(void *arg) {
    mqlite_result rc = mqlite_handle_stop(arg);
    if (rc != MQLITE_OK) fprintf(stderr, "stop: %s\n", mqlite_result_text(rc));
    return NULL;
}

static void stop_with_clients(void) {
    uint16_t port = 0;
    mqlite_broker *broker = test_broker(&port);
    mqlite_handle *handle = NULL;
    CHECK_RC(mqlite_broker_handle(broker, &handle), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_event_callback(broker, on_event, &C), MQLITE_OK);
    pthread_t runner;
    pthread_create(&runner, NULL, run_broker, broker);

    int fds[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        char id[32];
        int code = -1;
        snprintf(id, sizeof id, "client-%d", i);
        fds[i] = mc_connect(port, id, NULL, NULL, &code);
        CHECK(fds[i] >= 0);
        if (fds[i] >= 0 && i % 2 == 0) CHECK(mc_subscribe(fds[i], "news/#", 1) == 1);
    }
    /* Traffic in flight while stopping. */
    for (int i = 0; i < 50; i++)
        mqlite_handle_publish(handle, "news/flash", (const uint8_t *)"x", 1, 1, false);

    pthread_t stop_thread;
    pthread_create(&stop_thread, NULL, stopper, handle);
    pthread_join(stop_thread, NULL);
    pthread_join(runner, NULL); /* run() returned */

    for (int i = 0; i < CLIENTS; i++) {
        if (fds[i] < 0) continue;
        CHECK(mc_wait_closed(fds[i], 5000));
        close(fds[i]);
    }
    pthread_mutex_lock(&C.lock);
    CHECK(C.connected == CLIENTS);
    CHECK(C.disconnected == CLIENTS);
    CHECK(C.shutdown == CLIENTS);
    pthread_mutex_unlock(&C.lock);

    /* Stopped: the handle refuses, run() returns at once, no new client. */
    CHECK(mqlite_handle_is_stopped(handle));
    CHECK_RC(mqlite_handle_publish(handle, "news/late", NULL, 0, 0, false), MQLITE_STOPPED);
    CHECK_RC(mqlite_handle_stop(handle), MQLITE_OK);
    CHECK_RC(mqlite_broker_run(broker), MQLITE_OK);
    bool running = true;
    CHECK_RC(mqlite_broker_run_once(broker, 0, &running), MQLITE_OK);
    CHECK(!running);
    int code = -1;
    CHECK(mc_connect(port, "late", NULL, NULL, &code) < 0);

    mqlite_broker_free(broker);
    mqlite_handle_free(handle);
}

/* Freed without a stop, with clients connected, driven by run_once. */
static void free_with_clients(void) {
    uint16_t port = 0;
    mqlite_broker *broker = test_broker(&port);
    bool running = true;
    int fds[4];
    for (int i = 0; i < 4; i++) {
        int sock = mc_tcp_connect(port);
        CHECK(sock >= 0);
        fds[i] = sock;
    }
    for (int i = 0; i < 5; i++) CHECK_RC(mqlite_broker_run_once(broker, 10, &running), MQLITE_OK);
    mqlite_broker_free(broker);
    for (int i = 0; i < 4; i++) {
        if (fds[i] < 0) continue;
        CHECK(mc_wait_closed(fds[i], 5000));
        close(fds[i]);
    }
}

int main(void) {
    stop_with_clients();
    free_with_clients();
    return test_done("test_stop");
}
