/*
 * gateway.c: mqlite embedded in a C "device gateway".
 *
 * - an authentication callback: user "device" with password "secret" gets
 *   in, anyone else is refused (CONNACK 4);
 * - an ACL callback: a client publishes only under devices/<its id>/ and
 *   subscribes only under commands/;
 * - a message callback that rewrites legacy/<x> to devices/<x>;
 * - a local subscriber on devices/# (the gateway's own consumer);
 * - the broker runs on its own thread; a second thread publishes commands
 *   through a handle; a clean stop at the end.
 *
 * It checks its own behaviour with a small TCP client and exits 0 when
 * everything happened as expected (it runs as a test).
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqlite.h"
#include "mini_client.h"

#define COMMANDS 5

static int failures = 0;
#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                            \
        }                                                                          \
    } while (0)

/* What the local subscriber saw; written on the broker thread. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int device_messages;
    char last_topic[256];
    char last_payload[256];
} inbox;

static bool equals(const char *ptr, size_t len, const char *text) {
    return len == strlen(text) && memcmp(ptr, text, len) == 0;
}

static bool starts_with(const char *ptr, size_t len, const char *prefix) {
    size_t n = strlen(prefix);
    return len >= n && memcmp(ptr, prefix, n) == 0;
}

/* Authentication: runs on the broker thread, must answer quickly. */
static mqlite_auth_decision on_auth(void *userdata, const mqlite_connect_info *info) {
    (void)userdata;
    if (info->username && equals(info->username, info->username_len, "device") &&
        info->password && info->password_len == 6 &&
        memcmp(info->password, "secret", 6) == 0) {
        return MQLITE_AUTH_ACCEPT;
    }
    printf("gateway: refusing %.*s from %.*s\n", (int)info->client_id_len, info->client_id,
           (int)info->peer_len, info->peer);
    return MQLITE_AUTH_BAD_CREDENTIALS;
}

/* ACL: publish under devices/<client id>/ (or legacy/), subscribe under
 * commands/. Receiving is always allowed. */
static bool on_acl(void *userdata, const mqlite_client_info *client, mqlite_acl_access access,
                   const char *topic, size_t topic_len) {
    (void)userdata;
    if (access == MQLITE_ACL_PUBLISH) {
        char prefix[300];
        snprintf(prefix, sizeof prefix, "devices/%.*s/", (int)client->client_id_len,
                 client->client_id);
        return starts_with(topic, topic_len, prefix) || starts_with(topic, topic_len, "legacy/");
    }
    if (access == MQLITE_ACL_SUBSCRIBE) return starts_with(topic, topic_len, "commands/");
    return true;
}

/* Message hook: legacy/<rest> becomes devices/<rest>. */
static mqlite_message_decision on_message(void *userdata, const mqlite_client_info *origin,
                                          const mqlite_message *message,
                                          mqlite_message_rewrite *rewrite) {
    (void)userdata;
    (void)origin;
    if (starts_with(message->topic, message->topic_len, "legacy/")) {
        char topic[300];
        int n = snprintf(topic, sizeof topic, "devices/%.*s", (int)(message->topic_len - 7),
                         message->topic + 7);
        if (mqlite_message_rewrite_set(rewrite, topic, (size_t)n, message->payload,
                                       message->payload_len, message->qos,
                                       message->retain) == MQLITE_OK) {
            return MQLITE_MESSAGE_REWRITE;
        }
        return MQLITE_MESSAGE_DROP;
    }
    return MQLITE_MESSAGE_PASS;
}

/* The gateway's own consumer of device data. */
static void on_device_data(void *userdata, const mqlite_message *message) {
    inbox *box = userdata;
    pthread_mutex_lock(&box->lock);
    box->device_messages++;
    snprintf(box->last_topic, sizeof box->last_topic, "%.*s", (int)message->topic_len,
             message->topic);
    snprintf(box->last_payload, sizeof box->last_payload, "%.*s", (int)message->payload_len,
             (const char *)message->payload);
    pthread_cond_broadcast(&box->changed);
    pthread_mutex_unlock(&box->lock);
}

/* Waits until the inbox holds `count` messages (up to 5 s). */
static bool wait_for(inbox *box, int count) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&box->lock);
    while (box->device_messages < count) {
        if (pthread_cond_timedwait(&box->changed, &box->lock, &until) != 0) break;
    }
    bool ok = box->device_messages >= count;
    pthread_mutex_unlock(&box->lock);
    return ok;
}

static void *broker_thread(void *arg) {
    mqlite_broker *broker = arg;
    mqlite_result rc = mqlite_broker_run(broker);
    if (rc != MQLITE_OK) fprintf(stderr, "run: %s\n", mqlite_result_text(rc));
    return NULL;
}

static void *command_thread(void *arg) {
    mqlite_handle *handle = arg;
    for (int i = 0; i < COMMANDS; i++) {
        char payload[32];
        int n = snprintf(payload, sizeof payload, "command %d", i);
        mqlite_result rc = mqlite_handle_publish(handle, "commands/all",
                                                 (const uint8_t *)payload, (size_t)n, 1, false);
        if (rc != MQLITE_OK) fprintf(stderr, "publish: %s\n", mqlite_result_text(rc));
    }
    return NULL;
}

int main(void) {
    mqlite_config *config = mqlite_config_new();
    CHECK(mqlite_config_add_listener(config, "127.0.0.1:0") == MQLITE_OK);
    CHECK(mqlite_config_set_sys_interval_s(config, 0) == MQLITE_OK);
    mqlite_broker *broker = NULL;
    mqlite_result rc = mqlite_broker_new(config, &broker);
    mqlite_config_free(config); /* borrowed by mqlite_broker_new: free it at once */
    if (rc != MQLITE_OK) {
        char detail[256];
        mqlite_last_error_text(detail, sizeof detail);
        fprintf(stderr, "mqlite_broker_new: %s (%s)\n", mqlite_result_text(rc), detail);
        return 1;
    }
    uint16_t port = 0;
    CHECK(mqlite_broker_local_port(broker, 0, &port) == MQLITE_OK);
    printf("gateway: mqlite %s listening on 127.0.0.1:%u\n", mqlite_version(), port);

    inbox box;
    memset(&box, 0, sizeof box);
    pthread_mutex_init(&box.lock, NULL);
    pthread_cond_init(&box.changed, NULL);
    uint64_t subscription = 0;
    CHECK(mqlite_broker_set_auth_callback(broker, on_auth, NULL) == MQLITE_OK);
    CHECK(mqlite_broker_set_acl_callback(broker, on_acl, NULL) == MQLITE_OK);
    CHECK(mqlite_broker_set_message_callback(broker, on_message, NULL) == MQLITE_OK);
    CHECK(mqlite_broker_subscribe_local(broker, "devices/#", 1, on_device_data, &box,
                                        &subscription) == MQLITE_OK);
    mqlite_handle *handle = NULL;
    CHECK(mqlite_broker_handle(broker, &handle) == MQLITE_OK);

    pthread_t runner;
    pthread_create(&runner, NULL, broker_thread, broker);

    /* A wrong password is refused with CONNACK 4. */
    int code = -1;
    int fd = mc_connect(port, "intruder", "device", "guess", &code);
    CHECK(fd < 0 && code == 4);

    /* The right one gets in. */
    fd = mc_connect(port, "sensor-1", "device", "secret", &code);
    CHECK(fd >= 0 && code == 0);
    if (fd < 0) return 1;
    CHECK(mc_subscribe(fd, "commands/#", 1) == 1);
    CHECK(mc_subscribe(fd, "devices/#", 0) == 0x80); /* ACL: refused */

    /* Device data reaches the local subscriber; another device's topic is
     * refused by the ACL; a legacy topic is rewritten. */
    CHECK(mc_publish(fd, "devices/sensor-2/temp", "spoof", 5, 1, false) == 0);
    CHECK(mc_publish(fd, "devices/sensor-1/temp", "21.5", 4, 1, false) == 0);
    CHECK(wait_for(&box, 1));
    CHECK(strcmp(box.last_topic, "devices/sensor-1/temp") == 0);
    CHECK(strcmp(box.last_payload, "21.5") == 0);
    CHECK(mc_publish(fd, "legacy/sensor-1/hum", "40", 2, 1, false) == 0);
    CHECK(wait_for(&box, 2));
    CHECK(strcmp(box.last_topic, "devices/sensor-1/hum") == 0);
    CHECK(box.device_messages == 2);

    /* Commands published by another thread through the handle reach the
     * device, in order. */
    pthread_t publisher;
    pthread_create(&publisher, NULL, command_thread, handle);
    pthread_join(publisher, NULL);
    for (int i = 0; i < COMMANDS; i++) {
        mc_message message;
        char expected[32];
        snprintf(expected, sizeof expected, "command %d", i);
        CHECK(mc_read_publish(fd, 5000, &message) == 0);
        CHECK(strcmp(message.topic, "commands/all") == 0);
        CHECK(message.payload_len == strlen(expected) &&
              memcmp(message.payload, expected, message.payload_len) == 0);
    }

    mqlite_stats stats;
    CHECK(mqlite_handle_stats(handle, 2000, &stats) == MQLITE_OK);
    CHECK(stats.clients_connected == 1);

    /* Clean stop: the client is disconnected, run() returns. */
    CHECK(mqlite_handle_stop(handle) == MQLITE_OK);
    pthread_join(runner, NULL);
    CHECK(mc_wait_closed(fd, 5000));
    close(fd);
    CHECK(mqlite_handle_is_stopped(handle));
    CHECK(mqlite_handle_publish(handle, "commands/all", NULL, 0, 0, false) == MQLITE_STOPPED);

    mqlite_handle_free(handle);
    mqlite_broker_free(broker);
    pthread_mutex_destroy(&box.lock);
    pthread_cond_destroy(&box.changed);
    if (failures) {
        fprintf(stderr, "gateway: %d check(s) failed\n", failures);
        return 1;
    }
    printf("gateway: ok\n");
    return 0;
}
