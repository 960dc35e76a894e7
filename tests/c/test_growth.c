/*
 * The ways the C ABI grows, from a program built against the current
 * header: counters read with the caller's sizeof(mqlite_stats) (including
 * a struct from a "later header", larger than the library's), and the
 * accessors of callback views, which work on the pointer a callback was
 * given and refuse copies and pointers kept after the callback.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>

#include "check.h"
#include "mini_client.h"

/* A mqlite_stats as a later header might have it: two more counters,
 * then bytes that must never be written. */
typedef struct {
    mqlite_stats stats;
    uint64_t later[2];
    unsigned char guard[32];
} later_stats;

typedef struct {
    mqlite_result auth_client_rc, auth_transport_rc, auth_copy_rc;
    mqlite_transport auth_transport;
    bool auth_client_same;
    mqlite_result acl_rc, origin_rc, event_rc, copy_rc;
    mqlite_transport acl_transport, origin_transport, event_transport;
    int events;
    const mqlite_client_info *kept;
} seen_t;

static seen_t seen;

static mqlite_auth_decision on_auth(void *userdata, const mqlite_connect_info *info) {
    (void)userdata;
    const mqlite_client_info *client = NULL;
    seen.auth_client_rc = mqlite_connect_info_client(info, &client);
    if (client) {
        seen.auth_client_same = client->client_id_len == info->client_id_len &&
                                memcmp(client->client_id, info->client_id,
                                       info->client_id_len) == 0 &&
                                client->peer_len == info->peer_len;
        seen.auth_transport_rc = mqlite_client_info_transport(client, &seen.auth_transport);
    }
    /* A copy of the struct is not the view the callback was given. */
    mqlite_connect_info copy = *info;
    const mqlite_client_info *from_copy = NULL;
    seen.auth_copy_rc = mqlite_connect_info_client(&copy, &from_copy);
    return MQLITE_AUTH_ACCEPT;
}

static bool on_acl(void *userdata, const mqlite_client_info *client, mqlite_acl_access access,
                   const char *topic, size_t topic_len) {
    (void)userdata;
    (void)access;
    (void)topic;
    (void)topic_len;
    seen.acl_rc = mqlite_client_info_transport(client, &seen.acl_transport);
    mqlite_client_info copy = *client;
    mqlite_transport ignored = 0;
    seen.copy_rc = mqlite_client_info_transport(&copy, &ignored);
    seen.kept = client;
    return true;
}

static mqlite_message_decision on_message(void *userdata, const mqlite_client_info *origin,
                                          const mqlite_message *message,
                                          mqlite_message_rewrite *rewrite) {
    (void)userdata;
    (void)message;
    (void)rewrite;
    if (origin) seen.origin_rc = mqlite_client_info_transport(origin, &seen.origin_transport);
    return MQLITE_MESSAGE_PASS;
}

static void on_event(void *userdata, const mqlite_event *event) {
    (void)userdata;
    seen.events++;
    seen.event_rc = mqlite_client_info_transport(&event->client, &seen.event_transport);
}

static void *run(void *broker) {
    mqlite_broker_run(broker);
    return NULL;
}

static bool guard_intact(const later_stats *s) {
    for (size_t i = 0; i < sizeof s->guard; i++)
        if (s->guard[i] != 0xA5) return false;
    return true;
}

int main(void) {
    uint16_t port = 0;
    mqlite_broker *broker = test_broker(&port);
    mqlite_handle *handle = NULL;
    CHECK_RC(mqlite_broker_handle(broker, &handle), MQLITE_OK);

    /* Counters: this header's struct is the library's. */
    CHECK(mqlite_stats_size() == sizeof(mqlite_stats));
    mqlite_stats stats;
    CHECK_RC(mqlite_broker_stats_sized(broker, &stats, sizeof stats), MQLITE_OK);
    CHECK(stats.connections == 0);
    /* A later header's larger struct: its extra counters read 0, nothing
     * past its size is written. */
    later_stats later;
    memset(&later, 0xA5, sizeof later);
    CHECK_RC(mqlite_broker_stats_sized(broker, &later.stats,
                                       offsetof(later_stats, guard)),
             MQLITE_OK);
    CHECK(later.later[0] == 0 && later.later[1] == 0 && guard_intact(&later));
    CHECK(later.stats.sessions == 0);
    /* Sizes no mqlite_stats had are refused, and nothing is written. */
    memset(&later, 0xA5, sizeof later);
    CHECK_RC(mqlite_broker_stats_sized(broker, &later.stats, sizeof(void *)),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_broker_stats_sized(broker, NULL, sizeof stats), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_stats_sized(handle, 0, &later.stats, 95), MQLITE_INVALID_ARGUMENT);
    CHECK(later.stats.connections == 0xA5A5A5A5A5A5A5A5ull);

    /* Accessors outside any callback are refused. */
    mqlite_client_info fake;
    memset(&fake, 0, sizeof fake);
    mqlite_transport transport = 0;
    CHECK_RC(mqlite_client_info_transport(&fake, &transport), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_client_info_transport(NULL, &transport), MQLITE_NULL_PARAMETER);
    const mqlite_client_info *client = NULL;
    CHECK_RC(mqlite_connect_info_client(NULL, &client), MQLITE_NULL_PARAMETER);

    CHECK_RC(mqlite_broker_set_auth_callback(broker, on_auth, NULL), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_acl_callback(broker, on_acl, NULL), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_message_callback(broker, on_message, NULL), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_event_callback(broker, on_event, NULL), MQLITE_OK);
    pthread_t runner;
    pthread_create(&runner, NULL, run, broker);

    int code = -1;
    int fd = mc_connect(port, "grow", NULL, NULL, &code);
    CHECK(fd >= 0 && code == 0);
    if (fd < 0) return 1;
    CHECK(mc_publish(fd, "g/x", "p", 1, 1, false) == 0); /* ACL, message callback */

    /* Through a handle, into the later header's struct. */
    memset(&later, 0xA5, sizeof later);
    CHECK_RC(mqlite_handle_stats_sized(handle, 5000, &later.stats,
                                       offsetof(later_stats, guard)),
             MQLITE_OK);
    CHECK(later.stats.clients_connected == 1 && later.stats.messages_received == 1);
    CHECK(later.later[0] == 0 && later.later[1] == 0 && guard_intact(&later));

    mc_disconnect(fd);
    CHECK_RC(mqlite_handle_stop(handle), MQLITE_OK);
    pthread_join(runner, NULL);

    CHECK_RC(seen.auth_client_rc, MQLITE_OK);
    CHECK(seen.auth_client_same);
    CHECK_RC(seen.auth_transport_rc, MQLITE_OK);
    CHECK(seen.auth_transport == MQLITE_TRANSPORT_TCP);
    CHECK_RC(seen.auth_copy_rc, MQLITE_INVALID_ARGUMENT);
    CHECK_RC(seen.acl_rc, MQLITE_OK);
    CHECK(seen.acl_transport == MQLITE_TRANSPORT_TCP);
    CHECK_RC(seen.copy_rc, MQLITE_INVALID_ARGUMENT);
    CHECK_RC(seen.origin_rc, MQLITE_OK);
    CHECK(seen.origin_transport == MQLITE_TRANSPORT_TCP);
    CHECK(seen.events == 2); /* connected, disconnected */
    CHECK_RC(seen.event_rc, MQLITE_OK);
    CHECK(seen.event_transport == MQLITE_TRANSPORT_TCP);
    /* The view the ACL callback was given, kept past the callback. */
    CHECK(seen.kept != NULL);
    CHECK_RC(mqlite_client_info_transport(seen.kept, &transport), MQLITE_INVALID_ARGUMENT);

    mqlite_handle_free(handle);
    mqlite_broker_free(broker);
    return test_done("test_growth");
}
