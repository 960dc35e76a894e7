/*
 * A broker created, used and freed 100 times in one process, under a leak
 * checker: with every callback set, a handle, local subscriptions, a TCP
 * client, persistence every tenth time, and every other broker freed
 * without a stop.
 */
#define _DEFAULT_SOURCE
#include <stdint.h>

#include "check.h"
#include "mini_client.h"

#define ROUNDS 100

static mqlite_auth_decision on_auth(void *userdata, const mqlite_connect_info *info) {
    (void)userdata;
    (void)info;
    return MQLITE_AUTH_ACCEPT;
}

static bool on_acl(void *userdata, const mqlite_client_info *client, mqlite_acl_access access,
                   const char *topic, size_t topic_len) {
    (void)userdata;
    (void)client;
    (void)access;
    (void)topic;
    (void)topic_len;
    return true;
}

static mqlite_message_decision on_message(void *userdata, const mqlite_client_info *origin,
                                          const mqlite_message *message,
                                          mqlite_message_rewrite *rewrite) {
    (void)userdata;
    (void)origin;
    if (message->topic_len == 6 && memcmp(message->topic, "life/r", 6) == 0) {
        mqlite_message_rewrite_set(rewrite, "life/rewritten", 14, message->payload,
                                   message->payload_len, message->qos, false);
        return MQLITE_MESSAGE_REWRITE;
    }
    return MQLITE_MESSAGE_PASS;
}

static void on_event(void *userdata, const mqlite_event *event) {
    (void)userdata;
    (void)event;
}

static void on_local(void *userdata, const mqlite_message *message) {
    (void)message;
    (*(int *)userdata)++;
}

static void one_round(int round, const char *db) {
    mqlite_config *config = mqlite_config_new();
    CHECK(config != NULL);
    CHECK_RC(mqlite_config_add_listener(config, "127.0.0.1:0"), MQLITE_OK);
    CHECK_RC(mqlite_config_set_sys_interval_s(config, 0), MQLITE_OK);
    if (round % 10 == 0) CHECK_RC(mqlite_config_set_persistence_path(config, db), MQLITE_OK);
    mqlite_broker *broker = NULL;
    CHECK_RC(mqlite_broker_new(config, &broker), MQLITE_OK);
    mqlite_config_free(config);
    if (!broker) return;
    uint16_t port = 0;
    CHECK_RC(mqlite_broker_local_port(broker, 0, &port), MQLITE_OK);

    int received = 0;
    uint64_t first = 0, second = 0;
    mqlite_handle *handle = NULL;
    CHECK_RC(mqlite_broker_set_auth_callback(broker, on_auth, NULL), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_acl_callback(broker, on_acl, NULL), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_message_callback(broker, on_message, NULL), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_event_callback(broker, on_event, NULL), MQLITE_OK);
    /* Setting a callback again replaces (and frees) the earlier one. */
    CHECK_RC(mqlite_broker_set_event_callback(broker, on_event, NULL), MQLITE_OK);
    CHECK_RC(mqlite_broker_subscribe_local(broker, "life/#", 1, on_local, &received, &first),
             MQLITE_OK);
    CHECK_RC(mqlite_broker_handle(broker, &handle), MQLITE_OK);
    CHECK_RC(mqlite_handle_subscribe_local(handle, "life/+", 0, on_local, &received, &second),
             MQLITE_OK);

    /* A TCP client connects (driven by run_once on this thread). */
    int sock = mc_tcp_connect(port);
    CHECK(sock >= 0);
    bool running = true;
    CHECK_RC(mqlite_handle_publish(handle, "life/r", (const uint8_t *)"p", 1, 1, true),
             MQLITE_OK);
    for (int pass = 0; pass < 50 && received < 2; pass++)
        CHECK_RC(mqlite_broker_run_once(broker, 10, &running), MQLITE_OK);
    CHECK(received >= 2);

    if (round % 2 == 0) {
        CHECK_RC(mqlite_handle_stop(handle), MQLITE_OK);
        while (running) CHECK_RC(mqlite_broker_run_once(broker, -1, &running), MQLITE_OK);
    }
    mqlite_handle_free(handle);
    mqlite_broker_free(broker);
    if (sock >= 0) close(sock);
}

int main(void) {
    char db[64];
    snprintf(db, sizeof db, "/tmp/mqlite-lifecycle-%ld.db", (long)getpid());
    for (int round = 0; round < ROUNDS && check_failures == 0; round++) one_round(round, db);
    remove(db);
    char side[80];
    snprintf(side, sizeof side, "%s-wal", db);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", db);
    remove(side);
    return test_done("test_lifecycle");
}
