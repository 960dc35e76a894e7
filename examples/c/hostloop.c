/*
 * hostloop.c: mqlite inside the host's own poll(2) loop, on one thread.
 *
 * The loop waits on three things at once: the broker's descriptor
 * (mqlite_broker_fd), a timerfd of its own that ticks every 20 ms, and a
 * pipe on which a client thread says it is done. When the broker's
 * descriptor is readable, or its deadline (mqlite_broker_next_deadline_ms)
 * has passed, the loop calls mqlite_broker_run_once(broker, 0, ...). On
 * each tick it publishes a counter with mqlite_broker_publish (directly: this
 * is the broker's thread), which makes the next pass due at once.
 *
 * A client thread connects over TCP, subscribes to ticks/#, reads
 * TICKS_WANTED ticks in order, and writes to the pipe; the loop then stops
 * the broker and drives it until it has stopped. Exits 0 when all of that
 * happened (it runs as a test).
 */
#define _DEFAULT_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "mqlite.h"
#include "mini_client.h"

#define TICKS_WANTED 5

typedef struct {
    uint16_t port;
    int done_fd; /* write end of the pipe */
    int ok;
} client_args;

static void *client_thread(void *arg) {
    client_args *args = arg;
    int code = -1;
    int fd = mc_connect(args->port, "watcher", NULL, NULL, &code);
    if (fd >= 0 && mc_subscribe(fd, "ticks/#", 0) == 0) {
        long previous = -1;
        int seen = 0;
        while (seen < TICKS_WANTED) {
            mc_message message;
            if (mc_read_publish(fd, 5000, &message) != 0) break;
            message.payload[message.payload_len < sizeof message.payload - 1
                                ? message.payload_len
                                : sizeof message.payload - 1] = '\0';
            long n = strtol((const char *)message.payload, NULL, 10);
            if (n <= previous) break; /* ticks must increase */
            previous = n;
            seen++;
        }
        args->ok = seen == TICKS_WANTED;
        mc_disconnect(fd);
    }
    char byte = 'x';
    if (write(args->done_fd, &byte, 1) != 1) perror("write");
    return NULL;
}

static int fail(const char *what, mqlite_result rc) {
    fprintf(stderr, "hostloop: %s: %s\n", what, mqlite_result_text(rc));
    return 1;
}

int main(void) {
    mqlite_config *config = mqlite_config_new();
    mqlite_config_add_listener(config, "127.0.0.1:0");
    mqlite_broker *broker = NULL;
    mqlite_result rc = mqlite_broker_new(config, &broker);
    mqlite_config_free(config);
    if (rc != MQLITE_OK) return fail("mqlite_broker_new", rc);
    mqlite_handle *handle = NULL;
    int broker_fd = -1;
    uint16_t port = 0;
    if ((rc = mqlite_broker_handle(broker, &handle)) != MQLITE_OK) return fail("handle", rc);
    if ((rc = mqlite_broker_fd(broker, &broker_fd)) != MQLITE_OK) return fail("fd", rc);
    if ((rc = mqlite_broker_local_port(broker, 0, &port)) != MQLITE_OK) return fail("port", rc);

    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec every;
    memset(&every, 0, sizeof every);
    every.it_interval.tv_nsec = 20 * 1000 * 1000;
    every.it_value.tv_nsec = 20 * 1000 * 1000;
    timerfd_settime(timer, 0, &every, NULL);
    int done[2];
    if (timer < 0 || pipe(done) != 0) {
        perror("timerfd/pipe");
        return 1;
    }

    client_args args = {port, done[1], 0};
    pthread_t client;
    pthread_create(&client, NULL, client_thread, &args);

    long ticks = 0;
    int passes = 0;
    bool running = true;
    bool stopping = false;
    while (running) {
        int64_t deadline_ms = -1;
        if ((rc = mqlite_broker_next_deadline_ms(broker, &deadline_ms)) != MQLITE_OK)
            return fail("next_deadline", rc);
        /* poll's timeout: the broker's deadline, capped at 1 s. */
        int timeout = deadline_ms < 0 || deadline_ms > 1000 ? 1000 : (int)deadline_ms;
        struct pollfd fds[3] = {
            {broker_fd, POLLIN, 0},
            {timer, POLLIN, 0},
            {done[0], POLLIN, 0},
        };
        int ready = poll(fds, 3, timeout);
        if (ready < 0) {
            perror("poll");
            return 1;
        }
        if (fds[1].revents & POLLIN) {
            uint64_t expirations;
            if (read(timer, &expirations, sizeof expirations) > 0 && !stopping) {
                char payload[32];
                int n = snprintf(payload, sizeof payload, "%ld", ticks++);
                rc = mqlite_broker_publish(broker, "ticks/host", (const uint8_t *)payload,
                                           (size_t)n, 0, false);
                if (rc != MQLITE_OK) return fail("publish", rc);
            }
        }
        if ((fds[2].revents & POLLIN) && !stopping) {
            stopping = true;
            mqlite_handle_stop(handle);
        }
        /* The broker's turn: its descriptor is readable, the deadline has
         * passed, or we are stopping. A tick published above is sent at the
         * next turn of the loop, whose poll returns at once (the publish
         * made the descriptor readable). run_once(0) never blocks. */
        if ((fds[0].revents & POLLIN) || ready == 0 || deadline_ms == 0 || stopping) {
            if ((rc = mqlite_broker_run_once(broker, 0, &running)) != MQLITE_OK)
                return fail("run_once", rc);
            passes++;
        }
    }
    pthread_join(client, NULL);
    close(timer);
    close(done[0]);
    close(done[1]);
    mqlite_handle_free(handle);
    mqlite_broker_free(broker);
    if (!args.ok) {
        fprintf(stderr, "hostloop: the client did not get %d increasing ticks\n", TICKS_WANTED);
        return 1;
    }
    printf("hostloop: ok (%ld ticks published, %d broker passes)\n", ticks, passes);
    return 0;
}
