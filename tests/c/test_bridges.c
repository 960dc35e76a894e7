/*
 * Bridges through the C API, between two brokers in this process: a
 * "local" broker bridged to an "upstream" one.
 *
 * - a bridge given in the config carries an `out` topic with prefixes:
 *   published on the local broker, the message reaches a local
 *   subscription on the upstream one under the remote prefix;
 * - a bridge added through a handle while the broker runs carries an `in`
 *   topic the other way, is refused a second time under the same name,
 *   and is removed again;
 * - a bridge added and removed directly between passes;
 * - the stats snapshot, directly and through a handle: names, state and
 *   counters;
 * - TLS files checked when a bridge is added: an unreadable CA file is
 *   refused by mqlite_broker_new() and at run time with
 *   MQLITE_INVALID_CONFIG, and invalid values refused where given (the
 *   NULL checks are in test_null.c).
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <time.h>

#include "check.h"

/* What a local subscription received. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int count;
    char topic[128];
    char payload[128];
} inbox;

static inbox UPSTREAM_BOX = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, "", ""};
static inbox LOCAL_BOX = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, "", ""};

static void on_message(void *userdata, const mqlite_message *message) {
    inbox *box = userdata;
    pthread_mutex_lock(&box->lock);
    box->count++;
    snprintf(box->topic, sizeof box->topic, "%.*s", (int)message->topic_len, message->topic);
    snprintf(box->payload, sizeof box->payload, "%.*s", (int)message->payload_len,
             (const char *)message->payload);
    pthread_cond_broadcast(&box->changed);
    pthread_mutex_unlock(&box->lock);
}

/* Waits up to 10 s until `box` has `count` messages. */
static bool wait_for(inbox *box, int count) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&box->lock);
    while (box->count < count) {
        if (pthread_cond_timedwait(&box->changed, &box->lock, &deadline) != 0) break;
    }
    bool reached = box->count >= count;
    pthread_mutex_unlock(&box->lock);
    return reached;
}

static void *run(void *broker) {
    CHECK_RC(mqlite_broker_run(broker), MQLITE_OK);
    return NULL;
}

static void sleep_ms(long ms) {
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

/* Finds bridge `name` in `list`: its stats, or false. */
static bool find(const mqlite_bridge_stats_list *list, const char *name,
                 mqlite_bridge_stats *stats) {
    size_t count = 0;
    if (mqlite_bridge_stats_list_count(list, &count) != MQLITE_OK) return false;
    for (size_t i = 0; i < count; i++) {
        const char *seen = NULL;
        size_t len = 0;
        if (mqlite_bridge_stats_list_name(list, i, &seen, &len) != MQLITE_OK) return false;
        if (len == strlen(name) && memcmp(seen, name, len) == 0)
            return mqlite_bridge_stats_list_get(list, i, stats, sizeof *stats) == MQLITE_OK;
    }
    return false;
}

/* Waits up to 10 s until bridge `name` reads connected through `handle`. */
static bool wait_connected(mqlite_handle *handle, const char *name) {
    for (int tries = 0; tries < 500; tries++) {
        mqlite_bridge_stats_list *list = NULL;
        mqlite_bridge_stats stats;
        memset(&stats, 0, sizeof stats);
        bool found = mqlite_handle_bridge_stats(handle, 5000, &list) == MQLITE_OK &&
                     find(list, name, &stats);
        mqlite_bridge_stats_list_free(list);
        if (found && stats.connected) return true;
        sleep_ms(20);
    }
    return false;
}

/* A bridge `name` to 127.0.0.1:`port` with one topic, reconnecting after
 * 1 s. */
static mqlite_bridge *make_bridge(const char *name, uint16_t port, const char *pattern,
                                  mqlite_bridge_direction direction, const char *local_prefix,
                                  const char *remote_prefix) {
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%u", (unsigned)port);
    mqlite_bridge *bridge = NULL;
    CHECK_RC(mqlite_bridge_new(name, address, &bridge), MQLITE_OK);
    if (!bridge) exit(2);
    CHECK_RC(mqlite_bridge_add_topic(bridge, pattern, direction, 1, local_prefix, remote_prefix),
             MQLITE_OK);
    char client_id[64];
    snprintf(client_id, sizeof client_id, "gw-%s", name);
    CHECK_RC(mqlite_bridge_set_remote_client_id(bridge, client_id), MQLITE_OK);
    CHECK_RC(mqlite_bridge_set_restart_timeout_s(bridge, 1, -1), MQLITE_OK);
    CHECK_RC(mqlite_bridge_set_keepalive_s(bridge, 10), MQLITE_OK);
    return bridge;
}

/* The detail of this thread's last failure contains `text`. */
static bool detail_has(const char *text) {
    char detail[512] = "";
    mqlite_last_error_text(detail, sizeof detail);
    return strstr(detail, text) != NULL;
}

/* A config with a TLS bridge whose CA file cannot be read is refused by
 * mqlite_broker_new(), naming the file. */
static void tls_files_checked_at_start(uint16_t upstream_port) {
    mqlite_config *config = mqlite_config_new();
    CHECK_RC(mqlite_config_add_listener(config, "127.0.0.1:0"), MQLITE_OK);
    mqlite_bridge *tls = make_bridge("secure", upstream_port, "#", MQLITE_BRIDGE_OUT, NULL, NULL);
    CHECK_RC(mqlite_bridge_set_tls(tls, "/nonexistent/ca.pem", NULL, NULL, NULL, false),
             MQLITE_OK);
    CHECK_RC(mqlite_config_add_bridge(config, tls), MQLITE_OK);
    mqlite_broker *broker = NULL;
    CHECK_RC(mqlite_broker_new(config, &broker), MQLITE_INVALID_CONFIG);
    CHECK(broker == NULL);
    CHECK(detail_has("/nonexistent/ca.pem"));
    mqlite_bridge_free(tls);
    mqlite_config_free(config);
}

/* Values wrong on their own are refused by the call given them. */
static void invalid_values(void) {
    mqlite_bridge *sentinel = (mqlite_bridge *)&sentinel;
    mqlite_bridge *bridge = sentinel;
    CHECK_RC(mqlite_bridge_new("a/b", "127.0.0.1", &bridge), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_bridge_new("", "127.0.0.1", &bridge), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_bridge_new("up", "127.0.0.1:99999", &bridge), MQLITE_INVALID_ADDRESS);
    CHECK_RC(mqlite_bridge_new("up", "[::1", &bridge), MQLITE_INVALID_ADDRESS);
    CHECK(bridge == sentinel);
    CHECK_RC(mqlite_bridge_new("up", "localhost", &bridge), MQLITE_OK);
    CHECK_RC(mqlite_bridge_add_address(bridge, "h:0"), MQLITE_INVALID_ADDRESS);
    CHECK_RC(mqlite_bridge_add_topic(bridge, "a", 0, 0, NULL, NULL), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_bridge_add_topic(bridge, "a", MQLITE_BRIDGE_IN, 3, NULL, NULL),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_bridge_add_topic(bridge, "a/#/b", MQLITE_BRIDGE_IN, 0, NULL, NULL),
             MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_bridge_add_topic(bridge, "a", MQLITE_BRIDGE_IN, 0, "x/#/", NULL),
             MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_bridge_set_local_clean_session(bridge, 2), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_bridge_set_remote_client_id(bridge, ""), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_bridge_set_remote_credentials(bridge, NULL, "secret"),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_bridge_set_keepalive_s(bridge, 0), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_bridge_set_restart_timeout_s(bridge, 0, -1), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_bridge_set_restart_timeout_s(bridge, 10, 5), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_bridge_set_restart_timeout_s(bridge, 10, -2), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_bridge_set_notification_topic(bridge, "state/#"), MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_bridge_set_protocol_version(bridge, 2), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_bridge_set_tls(bridge, NULL, NULL, "c.pem", "c.key", false),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_set_tls(bridge, "ca.pem", NULL, "c.pem", NULL, false),
             MQLITE_NULL_PARAMETER);
    /* Every setter once with a good value. */
    CHECK_RC(mqlite_bridge_set_round_robin(bridge, true), MQLITE_OK);
    CHECK_RC(mqlite_bridge_set_clean_session(bridge, true), MQLITE_OK);
    CHECK_RC(mqlite_bridge_set_local_clean_session(bridge, -1), MQLITE_OK);
    CHECK_RC(mqlite_bridge_set_remote_credentials(bridge, "user", "secret"), MQLITE_OK);
    CHECK_RC(mqlite_bridge_set_restart_timeout_s(bridge, 5, 30), MQLITE_OK);
    CHECK_RC(mqlite_bridge_set_start_lazy(bridge, 0, 60), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_bridge_set_start_lazy(bridge, 10, 0), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_bridge_set_start_lazy(bridge, 10, 60), MQLITE_OK);
    CHECK_RC(mqlite_bridge_set_start_once(bridge, true), MQLITE_OK);
    CHECK_RC(mqlite_bridge_set_try_private(bridge, false), MQLITE_OK);
    CHECK_RC(mqlite_bridge_set_notifications(bridge, false), MQLITE_OK);
    CHECK_RC(mqlite_bridge_set_notification_topic(bridge, "gw/state"), MQLITE_OK);
    CHECK_RC(mqlite_bridge_set_protocol_version(bridge, 5), MQLITE_OK);
    /* Without a topic a config refuses it. */
    mqlite_config *config = mqlite_config_new();
    CHECK_RC(mqlite_config_add_bridge(config, bridge), MQLITE_INVALID_CONFIG);
    CHECK(detail_has("topic"));
    mqlite_config_free(config);
    mqlite_bridge_free(bridge);
}

int main(void) {
    uint16_t upstream_port = 0;
    mqlite_broker *upstream = test_broker(&upstream_port);
    mqlite_handle *upstream_handle = NULL;
    CHECK_RC(mqlite_broker_handle(upstream, &upstream_handle), MQLITE_OK);
    CHECK_RC(mqlite_broker_subscribe_local(upstream, "gw1/#", 1, on_message, &UPSTREAM_BOX, NULL),
             MQLITE_OK);

    invalid_values();
    tls_files_checked_at_start(upstream_port);

    /* The local broker, with a bridge in its config: out, with prefixes.
     * The config keeps a copy, so the bridge is freed at once. */
    mqlite_config *config = mqlite_config_new();
    CHECK_RC(mqlite_config_add_listener(config, "127.0.0.1:0"), MQLITE_OK);
    CHECK_RC(mqlite_config_set_sys_interval_s(config, 0), MQLITE_OK);
    mqlite_bridge *from_config =
        make_bridge("cfg", upstream_port, "sensors/#", MQLITE_BRIDGE_OUT, "site/", "gw1/");
    CHECK_RC(mqlite_config_add_bridge(config, from_config), MQLITE_OK);
    CHECK_RC(mqlite_config_add_bridge(config, from_config), MQLITE_INVALID_CONFIG);
    mqlite_bridge_free(from_config);
    mqlite_broker *local = NULL;
    CHECK_RC(mqlite_broker_new(config, &local), MQLITE_OK);
    mqlite_config_free(config);
    if (!local) return 1;
    mqlite_handle *local_handle = NULL;
    CHECK_RC(mqlite_broker_handle(local, &local_handle), MQLITE_OK);
    CHECK_RC(mqlite_broker_subscribe_local(local, "local/#", 1, on_message, &LOCAL_BOX, NULL),
             MQLITE_OK);

    /* Between passes, directly: the config's bridge, not yet connected; a
     * bridge added and removed. */
    mqlite_bridge_stats_list *list = NULL;
    CHECK_RC(mqlite_broker_bridge_stats(local, &list), MQLITE_OK);
    size_t count = 0;
    CHECK_RC(mqlite_bridge_stats_list_count(list, &count), MQLITE_OK);
    CHECK(count == 1);
    mqlite_bridge_stats stats;
    memset(&stats, 0xA5, sizeof stats);
    CHECK(find(list, "cfg", &stats));
    CHECK(stats.connected == 0 && stats.connections == 0 && stats.sent == 0);
    CHECK(mqlite_bridge_stats_size() == sizeof(mqlite_bridge_stats));
    CHECK_RC(mqlite_bridge_stats_list_get(list, 1, &stats, sizeof stats), MQLITE_NOT_FOUND);
    CHECK_RC(mqlite_bridge_stats_list_get(list, 0, &stats, sizeof(uint64_t)),
             MQLITE_INVALID_ARGUMENT);
    mqlite_bridge_stats_list_free(list);
    mqlite_bridge *direct =
        make_bridge("direct", upstream_port, "direct/#", MQLITE_BRIDGE_OUT, NULL, NULL);
    CHECK_RC(mqlite_broker_add_bridge(local, direct), MQLITE_OK);
    CHECK_RC(mqlite_broker_add_bridge(local, direct), MQLITE_INVALID_CONFIG);
    CHECK(detail_has("direct"));
    bool removed = false;
    CHECK_RC(mqlite_broker_remove_bridge(local, "direct", &removed), MQLITE_OK);
    CHECK(removed);
    CHECK_RC(mqlite_broker_remove_bridge(local, "direct", &removed), MQLITE_OK);
    CHECK(!removed);
    mqlite_bridge_free(direct);

    pthread_t upstream_runner, local_runner;
    pthread_create(&upstream_runner, NULL, run, upstream);
    pthread_create(&local_runner, NULL, run, local);

    /* Out: site/sensors/t1 on the local broker is gw1/sensors/t1
     * upstream. */
    CHECK(wait_connected(local_handle, "cfg"));
    CHECK_RC(mqlite_handle_publish(local_handle, "site/sensors/t1", (const uint8_t *)"21.5", 4, 1,
                                   false),
             MQLITE_OK);
    CHECK(wait_for(&UPSTREAM_BOX, 1));
    CHECK(strcmp(UPSTREAM_BOX.topic, "gw1/sensors/t1") == 0);
    CHECK(strcmp(UPSTREAM_BOX.payload, "21.5") == 0);

    /* In, through a bridge added at run time: a retained message upstream
     * reaches the local subscription when the bridge subscribes. */
    CHECK_RC(mqlite_handle_publish(upstream_handle, "cloud/cmd/reboot", (const uint8_t *)"now", 3,
                                   1, true),
             MQLITE_OK);
    mqlite_bridge *at_run_time =
        make_bridge("rt", upstream_port, "cmd/#", MQLITE_BRIDGE_IN, "local/", "cloud/");
    CHECK_RC(mqlite_handle_add_bridge(local_handle, at_run_time, 5000), MQLITE_OK);
    CHECK_RC(mqlite_handle_add_bridge(local_handle, at_run_time, 5000), MQLITE_INVALID_CONFIG);
    mqlite_bridge_free(at_run_time);
    CHECK(wait_for(&LOCAL_BOX, 1));
    CHECK(strcmp(LOCAL_BOX.topic, "local/cmd/reboot") == 0);
    CHECK(strcmp(LOCAL_BOX.payload, "now") == 0);

    /* The stats through the handle: both bridges, in the order added. */
    list = NULL;
    CHECK_RC(mqlite_handle_bridge_stats(local_handle, 5000, &list), MQLITE_OK);
    CHECK_RC(mqlite_bridge_stats_list_count(list, &count), MQLITE_OK);
    CHECK(count == 2);
    const char *name = NULL;
    size_t name_len = 0;
    CHECK_RC(mqlite_bridge_stats_list_name(list, 1, &name, &name_len), MQLITE_OK);
    CHECK(name_len == 2 && strcmp(name, "rt") == 0);
    memset(&stats, 0xA5, sizeof stats);
    CHECK(find(list, "cfg", &stats));
    CHECK(stats.connected == 1 && stats.connections == 1 && stats.sent == 1);
    CHECK(stats.received == 0 && stats.queued == 0 && stats.dropped == 0);
    memset(&stats, 0xA5, sizeof stats);
    CHECK(find(list, "rt", &stats));
    CHECK(stats.connected == 1 && stats.connections == 1 && stats.received == 1);
    CHECK(stats.sent == 0 && stats.dropped == 0);
    mqlite_bridge_stats_list_free(list);

    /* So is it at run time. */
    mqlite_bridge *tls = make_bridge("secure", upstream_port, "#", MQLITE_BRIDGE_OUT, NULL, NULL);
    CHECK_RC(mqlite_bridge_set_tls(tls, "/nonexistent/ca.pem", NULL, NULL, NULL, false),
             MQLITE_OK);
    CHECK_RC(mqlite_handle_add_bridge(local_handle, tls, 5000), MQLITE_INVALID_CONFIG);
    CHECK(detail_has("/nonexistent/ca.pem"));
    mqlite_bridge_free(tls);

    /* Removed at run time: gone from the stats; removing again says so. */
    removed = false;
    CHECK_RC(mqlite_handle_remove_bridge(local_handle, "rt", 5000, &removed), MQLITE_OK);
    CHECK(removed);
    CHECK_RC(mqlite_handle_remove_bridge(local_handle, "rt", 5000, &removed), MQLITE_OK);
    CHECK(!removed);
    CHECK_RC(mqlite_handle_remove_bridge(local_handle, "rt", 5000, NULL), MQLITE_OK);
    list = NULL;
    CHECK_RC(mqlite_handle_bridge_stats(local_handle, 5000, &list), MQLITE_OK);
    CHECK_RC(mqlite_bridge_stats_list_count(list, &count), MQLITE_OK);
    CHECK(count == 1);
    CHECK(find(list, "cfg", &stats) && !find(list, "rt", &stats));
    mqlite_bridge_stats_list_free(list);

    CHECK_RC(mqlite_handle_stop(local_handle), MQLITE_OK);
    CHECK_RC(mqlite_handle_stop(upstream_handle), MQLITE_OK);
    pthread_join(local_runner, NULL);
    pthread_join(upstream_runner, NULL);
    /* A stopped broker's handle answers MQLITE_STOPPED. */
    CHECK_RC(mqlite_handle_bridge_stats(local_handle, 100, &list), MQLITE_STOPPED);
    mqlite_handle_free(local_handle);
    mqlite_handle_free(upstream_handle);
    mqlite_broker_free(local);
    mqlite_broker_free(upstream);
    return test_done("test_bridges");
}
