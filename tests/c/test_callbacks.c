/*
 * The callbacks, seen from a TCP client: authentication (accept, refusals,
 * an unknown answer, a pending decision completed from another thread),
 * ACL (publish, subscribe, receive), the message callback (pass, drop,
 * rewrite, and rewrite_set's refusals), events, the log bridge, and
 * re-entrant calls from a callback (MQLITE_BUSY, a refused free,
 * MQLITE_ON_BROKER_THREAD for a handle call that waits for the broker).
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <time.h>

#include "check.h"
#include "mini_client.h"

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    mqlite_broker *broker;
    mqlite_handle *handle;
    /* auth */
    int auth_calls;
    uint64_t pending_token;
    bool info_ok;
    /* message callback */
    int host_origin;
    mqlite_result bad_topic_rc, bad_qos_rc, bad_utf8_rc, null_payload_rc;
    /* events */
    int connected, disconnected, subscribed, unsubscribed, kicked;
    bool event_fields_ok;
    /* local subscriber */
    int local_messages;
    char last_topic[128];
    char last_payload[128];
    bool last_retain;
    /* re-entrancy, checked from a local callback */
    mqlite_result reentrant_stats_rc, reentrant_run_rc, reentrant_publish_rc;
    mqlite_result reentrant_handle_stats_rc;
    bool reentrant_done;
    /* log */
    int log_records;
    bool log_target_ok;
} state;

static state S;

static bool equals(const char *ptr, size_t len, const char *text) {
    return len == strlen(text) && memcmp(ptr, text, len) == 0;
}

static bool starts_with(const char *ptr, size_t len, const char *prefix) {
    size_t n = strlen(prefix);
    return len >= n && memcmp(ptr, prefix, n) == 0;
}

static mqlite_auth_decision on_auth(void *userdata, const mqlite_connect_info *info) {
    state *s = userdata;
    pthread_mutex_lock(&s->lock);
    s->auth_calls++;
    mqlite_auth_decision answer = MQLITE_AUTH_NOT_AUTHORIZED;
    const char *user = info->username;
    size_t len = info->username_len;
    if (equals(info->client_id, info->client_id_len, "inspect")) {
        s->info_ok = user && equals(user, len, "good") && info->password &&
                     info->password_len == 2 && memcmp(info->password, "pw", 2) == 0 &&
                     info->protocol_level == 4 && info->clean_session &&
                     starts_with(info->peer, info->peer_len, "127.0.0.1:");
        answer = MQLITE_AUTH_ACCEPT;
    } else if (!user) {
        answer = MQLITE_AUTH_ACCEPT; /* anonymous test clients */
    } else if (equals(user, len, "good")) {
        answer = MQLITE_AUTH_ACCEPT;
    } else if (equals(user, len, "bad")) {
        answer = MQLITE_AUTH_BAD_CREDENTIALS;
    } else if (equals(user, len, "deny")) {
        answer = MQLITE_AUTH_NOT_AUTHORIZED;
    } else if (equals(user, len, "weird")) {
        answer = 42; /* not a decision: refused */
    } else if (equals(user, len, "slow")) {
        s->pending_token = info->token;
        pthread_cond_broadcast(&s->changed);
        answer = MQLITE_AUTH_PENDING;
    }
    pthread_mutex_unlock(&s->lock);
    return answer;
}

static bool on_acl(void *userdata, const mqlite_client_info *client, mqlite_acl_access access,
                   const char *topic, size_t topic_len) {
    (void)userdata;
    (void)client;
    if (access == MQLITE_ACL_SUBSCRIBE) return !starts_with(topic, topic_len, "private/");
    if (access == MQLITE_ACL_PUBLISH) return !starts_with(topic, topic_len, "blocked/");
    if (access == MQLITE_ACL_RECEIVE) return !starts_with(topic, topic_len, "hidden/");
    return false;
}

static mqlite_message_decision on_message(void *userdata, const mqlite_client_info *origin,
                                          const mqlite_message *message,
                                          mqlite_message_rewrite *rewrite) {
    state *s = userdata;
    const char *topic = message->topic;
    size_t len = message->topic_len;
    if (!origin) {
        pthread_mutex_lock(&s->lock);
        s->host_origin++;
        pthread_mutex_unlock(&s->lock);
    }
    if (starts_with(topic, len, "drop/")) return MQLITE_MESSAGE_DROP;
    if (starts_with(topic, len, "norewrite/")) return MQLITE_MESSAGE_REWRITE; /* none set */
    if (starts_with(topic, len, "weird/")) return 77;
    if (starts_with(topic, len, "rw/")) {
        static const char bad[] = {'x', (char)0xc3, (char)0x28};
        pthread_mutex_lock(&s->lock);
        s->bad_topic_rc = mqlite_message_rewrite_set(rewrite, "a/+", 3, NULL, 0, 0, false);
        s->bad_qos_rc = mqlite_message_rewrite_set(rewrite, "a", 1, NULL, 0, 3, false);
        s->bad_utf8_rc = mqlite_message_rewrite_set(rewrite, bad, sizeof bad, NULL, 0, 0, false);
        s->null_payload_rc = mqlite_message_rewrite_set(rewrite, "a", 1, NULL, 4, 0, false);
        pthread_mutex_unlock(&s->lock);
        /* The topic need not be NUL-terminated: only 11 bytes are used. */
        if (mqlite_message_rewrite_set(rewrite, "rewritten/xyz", 11, (const uint8_t *)"new", 3,
                                       0, false) != MQLITE_OK)
            return MQLITE_MESSAGE_DROP;
        return MQLITE_MESSAGE_REWRITE;
    }
    return MQLITE_MESSAGE_PASS;
}

static void on_event(void *userdata, const mqlite_event *event) {
    state *s = userdata;
    pthread_mutex_lock(&s->lock);
    if (event->client.client_id_len == 0 || event->client.peer_len == 0)
        s->event_fields_ok = false;
    switch (event->kind) {
    case MQLITE_EVENT_CONNECTED:
        s->connected++;
        if (event->protocol_level != 4) s->event_fields_ok = false;
        break;
    case MQLITE_EVENT_DISCONNECTED:
        s->disconnected++;
        if (event->reason == MQLITE_CLOSE_KICKED) s->kicked++;
        if (event->reason == MQLITE_CLOSE_NONE) s->event_fields_ok = false;
        break;
    case MQLITE_EVENT_SUBSCRIBED:
        s->subscribed++;
        if (event->filter == NULL || event->filter_len == 0) s->event_fields_ok = false;
        break;
    case MQLITE_EVENT_UNSUBSCRIBED:
        s->unsubscribed++;
        break;
    default:
        s->event_fields_ok = false;
    }
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}

static void on_local(void *userdata, const mqlite_message *message) {
    state *s = userdata;
    pthread_mutex_lock(&s->lock);
    s->local_messages++;
    snprintf(s->last_topic, sizeof s->last_topic, "%.*s", (int)message->topic_len,
             message->topic);
    snprintf(s->last_payload, sizeof s->last_payload, "%.*s", (int)message->payload_len,
             (const char *)message->payload);
    s->last_retain = message->retain;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}

/* A local subscriber that calls back into its own broker. */
static void on_reentrant(void *userdata, const mqlite_message *message) {
    state *s = userdata;
    (void)message;
    mqlite_stats stats;
    mqlite_result stats_rc = mqlite_broker_stats(s->broker, &stats);
    mqlite_result run_rc = mqlite_broker_run(s->broker);
    /* A handle call that waits for the broker fails at once here, where the
     * broker cannot answer (not after its 60 s timeout). */
    mqlite_result handle_stats_rc = mqlite_handle_stats(s->handle, 60000, &stats);
    /* Freeing a running broker from its own callback is refused, not a
     * double free: the broker stays usable. */
    mqlite_broker_free(s->broker);
    mqlite_result publish_rc =
        mqlite_handle_publish(s->handle, "local/after-reentry", (const uint8_t *)"ok", 2, 0,
                              false);
    pthread_mutex_lock(&s->lock);
    s->reentrant_stats_rc = stats_rc;
    s->reentrant_run_rc = run_rc;
    s->reentrant_handle_stats_rc = handle_stats_rc;
    s->reentrant_publish_rc = publish_rc;
    s->reentrant_done = true;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}

static void on_log(void *userdata, mqlite_log_level level, const char *target, size_t target_len,
                   const char *message, size_t message_len) {
    state *s = userdata;
    (void)message;
    (void)message_len;
    pthread_mutex_lock(&s->lock);
    s->log_records++;
    if (level >= MQLITE_LOG_ERROR && level <= MQLITE_LOG_TRACE &&
        starts_with(target, target_len, "mqlite"))
        s->log_target_ok = true;
    pthread_mutex_unlock(&s->lock);
}

/* Waits (up to 5 s) until *counter >= value. */
static bool wait_count(int *counter, int value) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&S.lock);
    while (*counter < value) {
        if (pthread_cond_timedwait(&S.changed, &S.lock, &until) != 0) break;
    }
    bool ok = *counter >= value;
    pthread_mutex_unlock(&S.lock);
    return ok;
}

static void *run_broker(void *arg) {
    mqlite_result rc = mqlite_broker_run(arg);
    if (rc != MQLITE_OK) fprintf(stderr, "run: %s\n", mqlite_result_text(rc));
    return NULL;
}

/* Completes the pending authentication from another thread. */
static void *approver(void *arg) {
    (void)arg;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&S.lock);
    while (S.pending_token == 0) {
        if (pthread_cond_timedwait(&S.changed, &S.lock, &until) != 0) break;
    }
    uint64_t token = S.pending_token;
    pthread_mutex_unlock(&S.lock);
    if (token) {
        mqlite_result rc = mqlite_handle_complete_auth(S.handle, token, MQLITE_AUTH_ACCEPT);
        if (rc != MQLITE_OK) fprintf(stderr, "complete_auth: %s\n", mqlite_result_text(rc));
    }
    return NULL;
}

static void local_snapshot(char *topic, char *payload) {
    pthread_mutex_lock(&S.lock);
    strcpy(topic, S.last_topic);
    strcpy(payload, S.last_payload);
    pthread_mutex_unlock(&S.lock);
}

int main(void) {
    pthread_mutex_init(&S.lock, NULL);
    pthread_cond_init(&S.changed, NULL);
    S.event_fields_ok = true;

    /* The log bridge: set before the broker, so "listening on" reaches it. */
    CHECK_RC(mqlite_set_log_callback(on_log, &S, MQLITE_LOG_INFO), MQLITE_OK);

    uint16_t port = 0;
    S.broker = test_broker(&port);
    CHECK_RC(mqlite_broker_handle(S.broker, &S.handle), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_auth_callback(S.broker, on_auth, &S), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_acl_callback(S.broker, on_acl, &S), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_message_callback(S.broker, on_message, &S), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_event_callback(S.broker, on_event, &S), MQLITE_OK);
    uint64_t local = 0, reentrant = 0;
    CHECK_RC(mqlite_broker_subscribe_local(S.broker, "local/#", 0, on_local, &S, &local),
             MQLITE_OK);
    CHECK_RC(mqlite_broker_subscribe_local(S.broker, "reenter", 0, on_reentrant, &S,
                                           &reentrant),
             MQLITE_OK);
    CHECK(S.log_records > 0 && S.log_target_ok);

    /* Publishing on the broker's own thread delivers before returning. */
    CHECK_RC(mqlite_broker_publish(S.broker, "local/direct", (const uint8_t *)"now", 3, 0, false),
             MQLITE_OK);
    CHECK(S.local_messages == 1 && strcmp(S.last_payload, "now") == 0);
    CHECK(S.host_origin == 1);
    S.local_messages = 0;
    S.host_origin = 0;

    pthread_t runner;
    pthread_create(&runner, NULL, run_broker, S.broker);

    /* Authentication. */
    int code = -1;
    int fd = mc_connect(port, "inspect", "good", "pw", &code);
    CHECK(fd >= 0 && code == 0);

    /* While it runs on another thread, the broker refuses other callers.
     * The CONNACK above says it is running: no sleep stands for that (and
     * no call here can claim the broker before mqlite_broker_run does). */
    mqlite_stats stats;
    CHECK_RC(mqlite_broker_stats(S.broker, &stats), MQLITE_BUSY);
    CHECK_RC(mqlite_broker_set_auth_callback(S.broker, on_auth, &S), MQLITE_BUSY);
    CHECK(S.info_ok);
    if (fd >= 0) mc_disconnect(fd);
    CHECK(mc_connect(port, "c-bad", "bad", "x", &code) < 0 && code == 4);
    CHECK(mc_connect(port, "c-deny", "deny", "x", &code) < 0 && code == 5);
    CHECK(mc_connect(port, "c-weird", "weird", "x", &code) < 0 && code == 5);
    pthread_t approve;
    pthread_create(&approve, NULL, approver, NULL);
    fd = mc_connect(port, "c-slow", "slow", "x", &code);
    CHECK(fd >= 0 && code == 0);
    pthread_join(approve, NULL);
    if (fd >= 0) mc_disconnect(fd);

    /* ACL: subscribe, publish and receive. */
    int sub = mc_connect(port, "subscriber", NULL, NULL, &code);
    int pub = mc_connect(port, "publisher", NULL, NULL, &code);
    CHECK(sub >= 0 && pub >= 0);
    if (sub < 0 || pub < 0) return 1;
    CHECK(mc_subscribe(sub, "private/#", 0) == 0x80);
    CHECK(mc_subscribe(sub, "#", 1) == 1);
    mc_message message;
    CHECK(mc_publish(pub, "blocked/x", "no", 2, 1, false) == 0);  /* refused */
    CHECK(mc_publish(pub, "hidden/x", "no", 2, 1, false) == 0);   /* not delivered */
    CHECK(mc_publish(pub, "drop/x", "no", 2, 1, false) == 0);     /* message callback */
    CHECK(mc_publish(pub, "norewrite/x", "no", 2, 1, false) == 0); /* dropped */
    CHECK(mc_publish(pub, "weird/x", "no", 2, 1, false) == 0);    /* dropped */
    CHECK(mc_publish(pub, "open/x", "yes", 3, 1, false) == 0);
    CHECK(mc_read_publish(sub, 5000, &message) == 0);
    CHECK(strcmp(message.topic, "open/x") == 0);
    CHECK(mc_publish(pub, "rw/x", "old", 3, 1, false) == 0);
    CHECK(mc_read_publish(sub, 5000, &message) == 0);
    CHECK(strcmp(message.topic, "rewritten/x") == 0);
    CHECK(message.payload_len == 3 && memcmp(message.payload, "new", 3) == 0);
    CHECK(message.qos == 0);
    CHECK_RC(S.bad_topic_rc, MQLITE_INVALID_TOPIC);
    CHECK_RC(S.bad_qos_rc, MQLITE_INVALID_ARGUMENT);
    CHECK_RC(S.bad_utf8_rc, MQLITE_INVALID_UTF8);
    CHECK_RC(S.null_payload_rc, MQLITE_NULL_PARAMETER);

    /* A client publish reaches the local subscriber; a host publish passes
     * the message callback with no origin. */
    CHECK(mc_publish(pub, "local/client", "from-tcp", 8, 0, false) == 0);
    CHECK(wait_count(&S.local_messages, 1));
    char topic[128], payload[128];
    local_snapshot(topic, payload);
    CHECK(strcmp(topic, "local/client") == 0 && strcmp(payload, "from-tcp") == 0);
    CHECK_RC(mqlite_handle_publish(S.handle, "local/host", (const uint8_t *)"from-host", 9, 0,
                                   true),
             MQLITE_OK);
    CHECK(wait_count(&S.local_messages, 2));
    local_snapshot(topic, payload);
    CHECK(strcmp(topic, "local/host") == 0 && strcmp(payload, "from-host") == 0);
    CHECK(S.host_origin >= 1);
    CHECK(mc_read_publish(sub, 5000, &message) == 0); /* local/client */
    CHECK(mc_read_publish(sub, 5000, &message) == 0); /* local/host */
    CHECK(strcmp(message.topic, "local/host") == 0);

    /* A handle subscription replays the retained message, flagged. */
    uint64_t from_handle = 0;
    CHECK_RC(mqlite_handle_subscribe_local(S.handle, "local/host", 1, on_local, &S,
                                           &from_handle),
             MQLITE_OK);
    CHECK(wait_count(&S.local_messages, 3));
    CHECK(S.last_retain);
    CHECK_RC(mqlite_handle_unsubscribe_local(S.handle, from_handle), MQLITE_OK);

    /* Re-entrant calls from a callback. */
    CHECK_RC(mqlite_handle_publish(S.handle, "reenter", NULL, 0, 0, false), MQLITE_OK);
    CHECK(wait_count(&S.local_messages, 4)); /* local/after-reentry */
    CHECK(S.reentrant_done);
    CHECK_RC(S.reentrant_stats_rc, MQLITE_BUSY);
    CHECK_RC(S.reentrant_run_rc, MQLITE_BUSY);
    CHECK_RC(S.reentrant_handle_stats_rc, MQLITE_ON_BROKER_THREAD);
    CHECK_RC(S.reentrant_publish_rc, MQLITE_OK);

    /* Kick: the client is closed, the event says why. */
    CHECK_RC(mqlite_handle_kick(S.handle, "subscriber"), MQLITE_OK);
    CHECK(mc_wait_closed(sub, 5000));
    close(sub);
    CHECK(wait_count(&S.kicked, 1));

    CHECK_RC(mqlite_handle_stats(S.handle, 2000, &stats), MQLITE_OK);
    CHECK(stats.clients_connected == 1);
    CHECK(stats.retained_messages == 1);

    mc_disconnect(pub);
    CHECK_RC(mqlite_handle_stop(S.handle), MQLITE_OK);
    pthread_join(runner, NULL);

    pthread_mutex_lock(&S.lock);
    CHECK(S.connected == 4); /* inspect, slow, subscriber, publisher */
    CHECK(S.subscribed == 1);
    CHECK(S.disconnected == 4);
    CHECK(S.event_fields_ok);
    pthread_mutex_unlock(&S.lock);

    CHECK_RC(mqlite_set_log_callback(NULL, NULL, MQLITE_LOG_OFF), MQLITE_OK);
    mqlite_handle_free(S.handle);
    mqlite_broker_free(S.broker);
    pthread_mutex_destroy(&S.lock);
    pthread_cond_destroy(&S.changed);
    return test_done("test_callbacks");
}
