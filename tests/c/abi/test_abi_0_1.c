/*
 * A program of mqlite 0.1, compiled against the frozen 0.1 header
 * (tests/c/abi/mqlite-0.1/mqlite.h, never edited) and linked with today's
 * library: everything it reads from the library's structs must still be
 * where, and what, 0.1 said. It reads every field of every callback
 * struct (auth, ACL, message with a rewrite, each kind of event, a local
 * subscription) and the counters, which must not spill past the 0.1
 * mqlite_stats.
 *
 * Self-contained on purpose (no check.h): it must keep compiling as the
 * other tests adopt newer API.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mqlite.h"
#include "mini_client.h"

#ifdef MQLITE_TRANSPORT_TCP
#error "compiled against a later header: build with -I tests/c/abi/mqlite-0.1 only"
#endif

static int failures = 0;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                             \
        }                                                                           \
    } while (0)

/* The 0.1 layout, as a 0.1 program on x86-64 / aarch64 Linux compiled it. */
typedef char stats_is_96_bytes[sizeof(mqlite_stats) == 96 ? 1 : -1];
typedef char client_info_is_48_bytes[sizeof(mqlite_client_info) == 48 ? 1 : -1];

/* A stats struct with a guard after it: the library must not write past
 * the 0.1 struct a 0.1 program allocated. */
typedef struct {
    mqlite_stats stats;
    unsigned char guard[64];
} guarded_stats;

static void guard_init(guarded_stats *g) {
    memset(g, 0xA5, sizeof *g);
}

static int guard_intact(const guarded_stats *g) {
    for (size_t i = 0; i < sizeof g->guard; i++)
        if (g->guard[i] != 0xA5) return 0;
    return 1;
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int auth_ok, acl_publish, acl_subscribe, acl_receive, acl_bad;
    int from_client, from_host, rewritten, message_bad;
    int connected, subscribed, unsubscribed, disconnected, event_bad;
    int local, local_retained, local_bad;
} seen_t;

static seen_t seen;

static int text_is(const char *ptr, size_t len, const char *text) {
    return len == strlen(text) && memcmp(ptr, text, len) == 0;
}

static int client_is(const mqlite_client_info *c, const char *id) {
    return c && text_is(c->client_id, c->client_id_len, id) && c->username &&
           text_is(c->username, c->username_len, "old") && c->peer_len > 10 &&
           memcmp(c->peer, "127.0.0.1:", 10) == 0;
}

static void bump(int *counter) {
    pthread_mutex_lock(&seen.lock);
    (*counter)++;
    pthread_cond_broadcast(&seen.changed);
    pthread_mutex_unlock(&seen.lock);
}

static mqlite_auth_decision on_auth(void *userdata, const mqlite_connect_info *info) {
    (void)userdata;
    if (text_is(info->client_id, info->client_id_len, "abi") && info->username &&
        text_is(info->username, info->username_len, "old") && info->password_len == 2 &&
        memcmp(info->password, "pw", 2) == 0 && info->peer_len > 10 &&
        memcmp(info->peer, "127.0.0.1:", 10) == 0 && info->token != 0 &&
        info->protocol_level == 4 && info->clean_session)
        bump(&seen.auth_ok);
    return MQLITE_AUTH_ACCEPT;
}

static bool on_acl(void *userdata, const mqlite_client_info *client, mqlite_acl_access access,
                   const char *topic, size_t topic_len) {
    (void)userdata;
    if (!client_is(client, "abi")) {
        bump(&seen.acl_bad);
        return false;
    }
    if (access == MQLITE_ACL_SUBSCRIBE && text_is(topic, topic_len, "t/#"))
        bump(&seen.acl_subscribe);
    else if (access == MQLITE_ACL_PUBLISH && text_is(topic, topic_len, "t/in"))
        bump(&seen.acl_publish);
    else if (access == MQLITE_ACL_RECEIVE)
        bump(&seen.acl_receive);
    return true;
}

static mqlite_message_decision on_message(void *userdata, const mqlite_client_info *origin,
                                          const mqlite_message *m,
                                          mqlite_message_rewrite *rewrite) {
    (void)userdata;
    if (origin == NULL) {
        if (text_is(m->topic, m->topic_len, "t/host") && m->payload_len == 4 &&
            memcmp(m->payload, "host", 4) == 0 && m->qos == 1 && m->retain)
            bump(&seen.from_host);
        else
            bump(&seen.message_bad);
        return MQLITE_MESSAGE_PASS;
    }
    if (!client_is(origin, "abi") || !text_is(m->topic, m->topic_len, "t/in") ||
        m->payload_len != 5 || memcmp(m->payload, "hello", 5) != 0 || m->qos != 0 ||
        m->retain) {
        bump(&seen.message_bad);
        return MQLITE_MESSAGE_DROP;
    }
    bump(&seen.from_client);
    if (mqlite_message_rewrite_set(rewrite, "t/out", 5, (const uint8_t *)"HELLO", 5, 1, false) !=
        MQLITE_OK)
        return MQLITE_MESSAGE_DROP;
    bump(&seen.rewritten);
    return MQLITE_MESSAGE_REWRITE;
}

static void on_event(void *userdata, const mqlite_event *e) {
    (void)userdata;
    if (!client_is(&e->client, "abi")) {
        bump(&seen.event_bad);
        return;
    }
    switch (e->kind) {
    case MQLITE_EVENT_CONNECTED:
        if (e->protocol_level == 4 && e->clean_session && !e->session_present &&
            e->reason == MQLITE_CLOSE_NONE && e->filter == NULL)
            bump(&seen.connected);
        else
            bump(&seen.event_bad);
        break;
    case MQLITE_EVENT_SUBSCRIBED:
        if (text_is(e->filter, e->filter_len, "t/#") && e->qos == 1) bump(&seen.subscribed);
        else bump(&seen.event_bad);
        break;
    case MQLITE_EVENT_UNSUBSCRIBED:
        if (text_is(e->filter, e->filter_len, "t/#")) bump(&seen.unsubscribed);
        else bump(&seen.event_bad);
        break;
    case MQLITE_EVENT_DISCONNECTED:
        if (e->reason == MQLITE_CLOSE_DISCONNECT) bump(&seen.disconnected);
        else bump(&seen.event_bad);
        break;
    default:
        break; /* kinds this header does not know are ignored */
    }
}

static void on_local(void *userdata, const mqlite_message *m) {
    (void)userdata;
    if (text_is(m->topic, m->topic_len, "t/host") && m->payload_len == 4 &&
        memcmp(m->payload, "host", 4) == 0 && m->qos == 1) {
        bump(m->retain ? &seen.local_retained : &seen.local);
    } else if (!text_is(m->topic, m->topic_len, "t/out")) {
        bump(&seen.local_bad);
    }
}

/* Waits (up to 5 s) until *counter >= value. */
static int wait_for(int *counter, int value) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&seen.lock);
    while (*counter < value)
        if (pthread_cond_timedwait(&seen.changed, &seen.lock, &until) != 0) break;
    int ok = *counter >= value;
    pthread_mutex_unlock(&seen.lock);
    return ok;
}

static void *run(void *broker) {
    if (mqlite_broker_run(broker) != MQLITE_OK) fprintf(stderr, "run failed\n");
    return NULL;
}

int main(void) {
    pthread_mutex_init(&seen.lock, NULL);
    pthread_cond_init(&seen.changed, NULL);

    mqlite_config *config = mqlite_config_new();
    CHECK(config != NULL);
    CHECK(mqlite_config_add_listener(config, "127.0.0.1:0") == MQLITE_OK);
    CHECK(mqlite_config_set_sys_interval_s(config, 0) == MQLITE_OK);
    mqlite_broker *broker = NULL;
    if (mqlite_broker_new(config, &broker) != MQLITE_OK) return 2;
    mqlite_config_free(config);
    uint16_t port = 0;
    CHECK(mqlite_broker_local_port(broker, 0, &port) == MQLITE_OK);
    mqlite_handle *handle = NULL;
    CHECK(mqlite_broker_handle(broker, &handle) == MQLITE_OK);
    CHECK(mqlite_broker_set_auth_callback(broker, on_auth, NULL) == MQLITE_OK);
    CHECK(mqlite_broker_set_acl_callback(broker, on_acl, NULL) == MQLITE_OK);
    CHECK(mqlite_broker_set_message_callback(broker, on_message, NULL) == MQLITE_OK);
    CHECK(mqlite_broker_set_event_callback(broker, on_event, NULL) == MQLITE_OK);
    uint64_t sub = 0;
    CHECK(mqlite_broker_subscribe_local(broker, "t/#", 2, on_local, NULL, &sub) == MQLITE_OK);

    guarded_stats g;
    guard_init(&g);
    CHECK(mqlite_broker_stats(broker, &g.stats) == MQLITE_OK);
    CHECK(guard_intact(&g));
    CHECK(g.stats.connections == 0 && g.stats.sessions == 0);

    pthread_t runner;
    pthread_create(&runner, NULL, run, broker);

    int code = -1;
    int fd = mc_connect(port, "abi", "old", "pw", &code);
    CHECK(fd >= 0 && code == 0);
    if (fd < 0) return 1;
    CHECK(mc_subscribe(fd, "t/#", 1) == 1);
    /* QoS 0, so that the rewritten copy coming back is not skipped while
     * waiting for a PUBACK. */
    CHECK(mc_publish(fd, "t/in", "hello", 5, 0, false) == 0);
    mc_message got;
    CHECK(mc_read_publish(fd, 5000, &got) == 0);
    CHECK(strcmp(got.topic, "t/out") == 0 && got.payload_len == 5 &&
          memcmp(got.payload, "HELLO", 5) == 0);

    /* A host publish: the message callback without origin, the local
     * subscriber, then the retained copy replayed to a new subscription. */
    CHECK(mqlite_handle_publish(handle, "t/host", (const uint8_t *)"host", 4, 1, true) ==
          MQLITE_OK);
    CHECK(wait_for(&seen.local, 1));
    CHECK(mc_read_publish(fd, 5000, &got) == 0);
    CHECK(mqlite_handle_subscribe_local(handle, "t/host", 1, on_local, NULL, NULL) == MQLITE_OK);
    CHECK(wait_for(&seen.local_retained, 1));

    guard_init(&g);
    CHECK(mqlite_handle_stats(handle, 5000, &g.stats) == MQLITE_OK);
    CHECK(guard_intact(&g));
    CHECK(g.stats.connections == 1 && g.stats.clients_connected == 1);
    CHECK(g.stats.sessions == 1 && g.stats.subscriptions >= 1);
    CHECK(g.stats.retained_messages == 1 && g.stats.messages_dropped == 0);
    CHECK(g.stats.messages_received == 2 && g.stats.messages_sent >= 2);
    CHECK(g.stats.bytes_received > 0 && g.stats.bytes_sent > 0);
    CHECK(g.stats.connections_total == 1 && g.stats.connections_refused == 0);

    /* UNSUBSCRIBE t/#, packet id 2, then DISCONNECT. */
    unsigned char unsub[] = {0, 2, 0, 3, 't', '/', '#'};
    CHECK(mc_send_packet(fd, 0xA2, unsub, sizeof unsub) == 0);
    CHECK(wait_for(&seen.unsubscribed, 1));
    mc_disconnect(fd);
    CHECK(wait_for(&seen.disconnected, 1));

    CHECK(mqlite_handle_stop(handle) == MQLITE_OK);
    pthread_join(runner, NULL);
    guard_init(&g);
    CHECK(mqlite_broker_stats(broker, &g.stats) == MQLITE_OK);
    CHECK(guard_intact(&g));
    CHECK(g.stats.messages_received == 2 && g.stats.connections_total == 1);

    pthread_mutex_lock(&seen.lock);
    CHECK(seen.auth_ok == 1);
    CHECK(seen.acl_subscribe == 1 && seen.acl_publish == 1 && seen.acl_receive == 2);
    CHECK(seen.acl_bad == 0);
    CHECK(seen.from_client == 1 && seen.rewritten == 1 && seen.from_host == 1);
    CHECK(seen.message_bad == 0);
    CHECK(seen.connected == 1 && seen.subscribed == 1 && seen.unsubscribed == 1 &&
          seen.disconnected == 1);
    CHECK(seen.event_bad == 0);
    CHECK(seen.local == 1 && seen.local_retained == 1 && seen.local_bad == 0);
    pthread_mutex_unlock(&seen.lock);

    mqlite_handle_free(handle);
    mqlite_broker_free(broker);
    pthread_mutex_destroy(&seen.lock);
    pthread_cond_destroy(&seen.changed);
    if (failures) {
        fprintf(stderr, "test_abi_0_1: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_abi_0_1: ok\n");
    return 0;
}
