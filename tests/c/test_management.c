/*
 * The management API from C: clients, sessions, a session's
 * subscriptions and retained messages listed through a handle while
 * another thread runs the broker, a session discarded (its client is
 * disconnected), a retained message deleted, the queue-overflow event
 * with mqlite_event_queue_overflow(), the lists' refusals, and the
 * mqlite_broker_*() forms on the owning thread once it has stopped; and
 * every one of them refusing NULL and invalid UTF-8.
 * mini_client.h is the network client.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <time.h>

#include "check.h"
#include "mini_client.h"

/* What the event callback saw, under `seen_lock` (it runs on the broker
 * thread). */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static int overflow_events;
static uint64_t overflow_dropped;
static int overflow_accessor_ok;

static int seen(const int *what) {
    pthread_mutex_lock(&seen_lock);
    int value = *what;
    pthread_mutex_unlock(&seen_lock);
    return value;
}

static void on_event(void *userdata, const mqlite_event *event) {
    (void)userdata;
    uint64_t dropped = 0;
    size_t queued = 0;
    pthread_mutex_lock(&seen_lock);
    if (event->kind != MQLITE_EVENT_QUEUE_OVERFLOW) {
        /* Any other kind is refused by the accessor. */
        if (mqlite_event_queue_overflow(event, &dropped, NULL) != MQLITE_INVALID_ARGUMENT)
            overflow_accessor_ok = -100;
    } else {
        if (mqlite_event_queue_overflow(event, &dropped, &queued) == MQLITE_OK && queued == 3 &&
            event->client.client_id_len == 5 &&
            memcmp(event->client.client_id, "c-sub", 5) == 0)
            overflow_accessor_ok++;
        overflow_dropped += dropped;
        overflow_events++;
    }
    pthread_mutex_unlock(&seen_lock);
}

static void *run_broker(void *arg) {
    mqlite_result rc = mqlite_broker_run(arg);
    if (rc != MQLITE_OK) fprintf(stderr, "run: %s\n", mqlite_result_text(rc));
    return NULL;
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool text_is(const char *ptr, size_t len, const char *expected) {
    return ptr && len == strlen(expected) && memcmp(ptr, expected, len) == 0 && ptr[len] == 0;
}

/* The queued count of the only client, polled until it reads `queued`. */
static bool wait_queued(const mqlite_handle *handle, uint64_t queued) {
    for (int i = 0; i < 500; i++) {
        mqlite_client_list *list = NULL;
        mqlite_client_entry entry;
        bool done = mqlite_handle_clients(handle, 5000, &list) == MQLITE_OK &&
                    mqlite_client_list_get(list, 0, &entry, sizeof entry) == MQLITE_OK &&
                    entry.queued == queued;
        mqlite_client_list_free(list);
        if (done) return true;
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return false;
}

#define BAD_UTF8 "\xff\xfe"

/* Every management function refuses NULL where a pointer is required and
 * invalid UTF-8, and leaves its out-parameters alone then (test_null.c's
 * rules, for these functions). */
static void nulls(void) {
    mqlite_broker *broker = test_broker(NULL);
    mqlite_handle *handle = NULL;
    CHECK_RC(mqlite_broker_handle(broker, &handle), MQLITE_OK);
    mqlite_client_list *clients = (mqlite_client_list *)&clients;
    mqlite_session_list *sessions = (mqlite_session_list *)&sessions;
    mqlite_subscription_list *subscriptions = (mqlite_subscription_list *)&subscriptions;
    mqlite_retained_list *retained = (mqlite_retained_list *)&retained;
    bool deleted = true;

    CHECK_RC(mqlite_broker_clients(NULL, &clients), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_clients(broker, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_clients(NULL, 1, &clients), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_sessions(NULL, &sessions), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_sessions(broker, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_sessions(NULL, 1, &sessions), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_sessions(handle, 1, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_session_subscriptions(NULL, "c", &subscriptions),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_session_subscriptions(broker, NULL, &subscriptions),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_session_subscriptions(broker, BAD_UTF8, &subscriptions),
             MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_broker_session_subscriptions(broker, "c", NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_session_subscriptions(NULL, "c", 1, &subscriptions),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_session_subscriptions(handle, BAD_UTF8, 1, &subscriptions),
             MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_handle_session_subscriptions(handle, "c", 1, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_retained(NULL, NULL, &retained), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_retained(broker, BAD_UTF8, &retained), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_broker_retained(broker, "a/#/b", &retained), MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_broker_retained(broker, NULL, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_retained(NULL, NULL, 1, &retained), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_retained(handle, BAD_UTF8, 1, &retained), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_handle_retained(handle, NULL, 1, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_delete_session(NULL, "c", &deleted), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_delete_session(broker, NULL, &deleted), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_delete_session(broker, BAD_UTF8, &deleted), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_handle_delete_session(NULL, "c", 1, &deleted), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_delete_session(handle, BAD_UTF8, 1, &deleted), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_broker_delete_retained(NULL, "t", &deleted), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_delete_retained(broker, NULL, &deleted), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_delete_retained(broker, BAD_UTF8, &deleted), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_handle_delete_retained(NULL, "t", 1, &deleted), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_delete_retained(handle, NULL, 1, &deleted), MQLITE_NULL_PARAMETER);
    CHECK(clients == (mqlite_client_list *)&clients);
    CHECK(sessions == (mqlite_session_list *)&sessions);
    CHECK(subscriptions == (mqlite_subscription_list *)&subscriptions);
    CHECK(retained == (mqlite_retained_list *)&retained);
    CHECK(deleted);

    /* The lists' accessors, on NULL and on an empty list. */
    size_t count = 77, len = 77;
    const char *text = "untouched";
    const mqlite_message *message = NULL;
    mqlite_session_entry session;
    mqlite_subscription_entry grant;
    mqlite_client_list_free(NULL);
    mqlite_session_list_free(NULL);
    mqlite_subscription_list_free(NULL);
    mqlite_retained_list_free(NULL);
    CHECK_RC(mqlite_session_list_count(NULL, &count), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_session_list_id(NULL, 0, &text, &len), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_session_list_username(NULL, 0, &text, &len), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_session_list_get(NULL, 0, &session, sizeof session), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_subscription_list_count(NULL, &count), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_subscription_list_filter(NULL, 0, &text, &len), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_subscription_list_get(NULL, 0, &grant, sizeof grant), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_retained_list_count(NULL, &count), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_retained_list_get(NULL, 0, &message), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_sessions(broker, &sessions), MQLITE_OK);
    CHECK_RC(mqlite_session_list_count(sessions, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_session_list_id(sessions, 0, &text, &len), MQLITE_NOT_FOUND);
    CHECK_RC(mqlite_session_list_get(sessions, 0, &session, sizeof session), MQLITE_NOT_FOUND);
    mqlite_session_list_free(sessions);
    CHECK_RC(mqlite_broker_retained(broker, NULL, &retained), MQLITE_OK);
    CHECK_RC(mqlite_retained_list_count(retained, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_retained_list_get(retained, 0, NULL), MQLITE_NULL_PARAMETER);
    mqlite_retained_list_free(retained);
    CHECK(count == 77 && len == 77 && strcmp(text, "untouched") == 0 && message == NULL);

    /* An event pointer that no callback was lent is refused. */
    mqlite_event fake;
    memset(&fake, 0, sizeof fake);
    fake.kind = MQLITE_EVENT_QUEUE_OVERFLOW;
    uint64_t dropped = 77;
    CHECK_RC(mqlite_event_queue_overflow(&fake, &dropped, NULL), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_event_queue_overflow(NULL, &dropped, NULL), MQLITE_NULL_PARAMETER);
    CHECK(dropped == 77);

    mqlite_broker_free(broker);
    CHECK_RC(mqlite_handle_clients(handle, 1, &clients), MQLITE_STOPPED);
    mqlite_handle_free(handle);
}

int main(void) {
    nulls();
    mqlite_config *config = mqlite_config_new();
    mqlite_broker *broker = NULL;
    CHECK_RC(mqlite_config_add_listener(config, "127.0.0.1:0"), MQLITE_OK);
    CHECK_RC(mqlite_config_set_sys_interval_s(config, 0), MQLITE_OK);
    CHECK_RC(mqlite_config_set_max_inflight(config, 1), MQLITE_OK);
    CHECK_RC(mqlite_config_set_max_queued_messages(config, 3), MQLITE_OK);
    CHECK_RC(mqlite_broker_new(config, &broker), MQLITE_OK);
    mqlite_config_free(config);
    if (!broker) return test_done("test_management");
    uint16_t port = 0;
    CHECK_RC(mqlite_broker_local_port(broker, 0, &port), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_event_callback(broker, on_event, NULL), MQLITE_OK);
    mqlite_handle *handle = NULL;
    CHECK_RC(mqlite_broker_handle(broker, &handle), MQLITE_OK);
    pthread_t runner;
    pthread_create(&runner, NULL, run_broker, broker);

    /* A client that subscribes and then never reads: one message in
     * flight, three queued, the rest dropped. */
    uint64_t before = now_ms();
    int code = -1;
    int fd = mc_connect(port, "c-sub", "alice", "pw", &code);
    CHECK(fd >= 0);
    CHECK(mc_subscribe(fd, "t/#", 1) == 1);
    for (int i = 0; i < 10; i++)
        CHECK_RC(mqlite_handle_publish(handle, "t/x", (const uint8_t *)"m", 1, 1, false), MQLITE_OK);
    CHECK(wait_queued(handle, 3));
    CHECK(seen(&overflow_events) == 1);
    CHECK(seen(&overflow_accessor_ok) == 1);
    pthread_mutex_lock(&seen_lock);
    CHECK(overflow_dropped == 1);
    pthread_mutex_unlock(&seen_lock);

    /* Clients. */
    mqlite_client_list *clients = NULL;
    CHECK_RC(mqlite_handle_clients(handle, 5000, &clients), MQLITE_OK);
    size_t count = 0;
    CHECK_RC(mqlite_client_list_count(clients, &count), MQLITE_OK);
    CHECK(count == 1);
    const char *text = NULL;
    size_t len = 0;
    CHECK_RC(mqlite_client_list_id(clients, 0, &text, &len), MQLITE_OK);
    CHECK(text_is(text, len, "c-sub"));
    CHECK_RC(mqlite_client_list_username(clients, 0, &text, &len), MQLITE_OK);
    CHECK(text_is(text, len, "alice"));
    CHECK_RC(mqlite_client_list_peer(clients, 0, &text, &len), MQLITE_OK);
    CHECK(text && strncmp(text, "127.0.0.1:", 10) == 0);
    mqlite_client_entry entry;
    memset(&entry, 0xAB, sizeof entry);
    CHECK(mqlite_client_entry_size() == sizeof entry);
    CHECK_RC(mqlite_client_list_get(clients, 0, &entry, sizeof entry), MQLITE_OK);
    CHECK(entry.protocol_level == 4);
    CHECK(entry.listener == 0);
    CHECK(entry.persistent == 0);
    CHECK(entry.subscriptions == 1);
    CHECK(entry.inflight == 1);
    CHECK(entry.queued == 3);
    CHECK(entry.messages_dropped == 6);
    CHECK(entry.connected_at_ms + 1000 >= before && entry.connected_at_ms <= now_ms());
    /* Refusals: past the end, a size below the first struct, NULLs. */
    CHECK_RC(mqlite_client_list_id(clients, 1, &text, &len), MQLITE_NOT_FOUND);
    CHECK_RC(mqlite_client_list_get(clients, 0, &entry, 8), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_client_list_get(clients, 0, NULL, sizeof entry), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_client_list_id(clients, 0, NULL, &len), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_client_list_count(NULL, &count), MQLITE_NULL_PARAMETER);
    mqlite_client_list_free(clients);
    mqlite_client_list_free(NULL);
    CHECK_RC(mqlite_handle_clients(handle, 5000, NULL), MQLITE_NULL_PARAMETER);
    /* The broker is another thread's: the direct form is refused. */
    CHECK_RC(mqlite_broker_clients(broker, &clients), MQLITE_BUSY);

    /* Sessions and subscriptions. */
    mqlite_session_list *sessions = NULL;
    CHECK_RC(mqlite_handle_sessions(handle, 5000, &sessions), MQLITE_OK);
    CHECK_RC(mqlite_session_list_count(sessions, &count), MQLITE_OK);
    CHECK(count == 1);
    CHECK_RC(mqlite_session_list_id(sessions, 0, &text, &len), MQLITE_OK);
    CHECK(text_is(text, len, "c-sub"));
    CHECK_RC(mqlite_session_list_username(sessions, 0, &text, &len), MQLITE_OK);
    CHECK(text_is(text, len, "alice"));
    mqlite_session_entry session;
    CHECK(mqlite_session_entry_size() == sizeof session);
    CHECK_RC(mqlite_session_list_get(sessions, 0, &session, sizeof session), MQLITE_OK);
    CHECK(session.connected == 1 && session.persistent == 0);
    CHECK(session.expiry_interval == 0 && session.expires_in_ms == UINT64_MAX);
    CHECK(session.subscriptions == 1 && session.queued == 3 && session.inflight == 1);
    mqlite_session_list_free(sessions);

    mqlite_subscription_list *subscriptions = NULL;
    CHECK_RC(mqlite_handle_session_subscriptions(handle, "c-sub", 5000, &subscriptions), MQLITE_OK);
    CHECK_RC(mqlite_subscription_list_count(subscriptions, &count), MQLITE_OK);
    CHECK(count == 1);
    CHECK_RC(mqlite_subscription_list_filter(subscriptions, 0, &text, &len), MQLITE_OK);
    CHECK(text_is(text, len, "t/#"));
    mqlite_subscription_entry grant;
    CHECK(mqlite_subscription_entry_size() == sizeof grant);
    CHECK_RC(mqlite_subscription_list_get(subscriptions, 0, &grant, sizeof grant), MQLITE_OK);
    CHECK(grant.qos == 1 && grant.no_local == 0 && grant.identifier == 0);
    mqlite_subscription_list_free(subscriptions);
    CHECK_RC(mqlite_handle_session_subscriptions(handle, "nobody", 5000, &subscriptions),
             MQLITE_NOT_FOUND);

    /* Retained messages. */
    CHECK_RC(mqlite_handle_publish(handle, "r/a", (const uint8_t *)"one", 3, 0, true), MQLITE_OK);
    CHECK_RC(mqlite_handle_publish(handle, "s/b", (const uint8_t *)"two", 3, 1, true), MQLITE_OK);
    mqlite_retained_list *retained = NULL;
    CHECK_RC(mqlite_handle_retained(handle, "r/#", 5000, &retained), MQLITE_OK);
    CHECK_RC(mqlite_retained_list_count(retained, &count), MQLITE_OK);
    CHECK(count == 1);
    const mqlite_message *message = NULL;
    CHECK_RC(mqlite_retained_list_get(retained, 0, &message), MQLITE_OK);
    CHECK(message && message->topic_len == 3 && memcmp(message->topic, "r/a", 3) == 0);
    CHECK(message && message->payload_len == 3 && memcmp(message->payload, "one", 3) == 0);
    CHECK(message && message->retain);
    CHECK_RC(mqlite_retained_list_get(retained, 1, &message), MQLITE_NOT_FOUND);
    mqlite_retained_list_free(retained);
    CHECK_RC(mqlite_handle_retained(handle, NULL, 5000, &retained), MQLITE_OK);
    CHECK_RC(mqlite_retained_list_count(retained, &count), MQLITE_OK);
    CHECK(count == 2);
    mqlite_retained_list_free(retained);
    CHECK_RC(mqlite_handle_retained(handle, "r/#/x", 5000, &retained), MQLITE_INVALID_TOPIC);
    bool deleted = false;
    CHECK_RC(mqlite_handle_delete_retained(handle, "r/a", 5000, &deleted), MQLITE_OK);
    CHECK(deleted);
    CHECK_RC(mqlite_handle_delete_retained(handle, "r/a", 5000, &deleted), MQLITE_OK);
    CHECK(!deleted);

    /* Discarding the session disconnects its client. */
    CHECK_RC(mqlite_handle_delete_session(handle, "c-sub", 5000, &deleted), MQLITE_OK);
    CHECK(deleted);
    CHECK(mc_wait_closed(fd, 5000) == 1);
    close(fd);
    CHECK_RC(mqlite_handle_delete_session(handle, "c-sub", 5000, NULL), MQLITE_OK);
    CHECK_RC(mqlite_handle_delete_session(handle, NULL, 5000, NULL), MQLITE_NULL_PARAMETER);

    mqlite_handle_stop(handle);
    pthread_join(runner, NULL);

    /* On the owning thread, once it has stopped running. */
    CHECK_RC(mqlite_broker_sessions(broker, &sessions), MQLITE_OK);
    CHECK_RC(mqlite_session_list_count(sessions, &count), MQLITE_OK);
    CHECK(count == 0);
    mqlite_session_list_free(sessions);
    CHECK_RC(mqlite_broker_clients(broker, &clients), MQLITE_OK);
    mqlite_client_list_free(clients);
    CHECK_RC(mqlite_broker_retained(broker, "s/+", &retained), MQLITE_OK);
    CHECK_RC(mqlite_retained_list_count(retained, &count), MQLITE_OK);
    CHECK(count == 1);
    mqlite_retained_list_free(retained);
    CHECK_RC(mqlite_broker_delete_retained(broker, "s/b", &deleted), MQLITE_OK);
    CHECK(deleted);
    CHECK_RC(mqlite_broker_delete_session(broker, "c-sub", &deleted), MQLITE_OK);
    CHECK(!deleted);
    CHECK_RC(mqlite_broker_session_subscriptions(broker, "c-sub", &subscriptions),
             MQLITE_NOT_FOUND);

    mqlite_handle_free(handle);
    mqlite_broker_free(broker);
    return test_done("test_management");
}
