/*
 * Every function refuses NULL where a pointer is required, invalid UTF-8,
 * and out-of-range values with an error code (never a crash), and leaves
 * its out-parameters alone on error.
 */
#define _DEFAULT_SOURCE
#include "check.h"

static void on_local(void *userdata, const mqlite_message *message) {
    (void)userdata;
    (void)message;
}

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
    (void)message;
    (void)rewrite;
    return MQLITE_MESSAGE_PASS;
}

static void on_event(void *userdata, const mqlite_event *event) {
    (void)userdata;
    (void)event;
}

static const char BAD_UTF8[] = {'a', '/', (char)0xff, (char)0xfe, 0};

static void texts(void) {
    CHECK(strcmp(mqlite_version(), MQLITE_VERSION) == 0);
    char version[32];
    snprintf(version, sizeof version, "%d.%d.%d", MQLITE_VERSION_MAJOR, MQLITE_VERSION_MINOR,
             MQLITE_VERSION_PATCH);
    CHECK(strcmp(version, MQLITE_VERSION) == 0);
    CHECK(strcmp(mqlite_result_text(MQLITE_OK), "success") == 0);
    CHECK(mqlite_result_text(12345) != NULL);
    CHECK(strcmp(mqlite_result_text(12345), "unknown result code") == 0);
    CHECK(strcmp(mqlite_result_text(MQLITE_NULL_PARAMETER), mqlite_result_text(12345)) != 0);
    CHECK(strcmp(mqlite_result_text(MQLITE_PANIC), mqlite_result_text(12345)) != 0);
    for (mqlite_result code = 7001; code <= 7017; code++) {
        CHECK(strcmp(mqlite_result_text(code), mqlite_result_text(12345)) != 0);
    }
}

static void config_nulls(void) {
    mqlite_config_free(NULL);
    CHECK_RC(mqlite_config_add_listener(NULL, "127.0.0.1:0"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_max_connections(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_max_packet_size(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_max_inflight(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_max_queued_messages(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_max_queued_bytes(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_max_pending_output(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_connect_timeout_ms(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_auth_timeout_ms(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_session_expiry_s(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_sys_interval_s(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_allow_zero_length_client_id(NULL, true), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_persistence_path(NULL, "/tmp/x.db"), MQLITE_NULL_PARAMETER);

    mqlite_config *config = mqlite_config_new();
    CHECK(config != NULL);
    CHECK_RC(mqlite_config_add_listener(config, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_add_listener(config, BAD_UTF8), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_config_add_listener(config, "localhost:1883"), MQLITE_INVALID_ADDRESS);
    CHECK_RC(mqlite_config_add_listener(config, "127.0.0.1"), MQLITE_INVALID_ADDRESS);
    CHECK_RC(mqlite_config_add_listener(config, ""), MQLITE_INVALID_ADDRESS);
    CHECK_RC(mqlite_config_set_session_expiry_s(config, -2), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_config_set_session_expiry_s(config, -1), MQLITE_OK);
    CHECK_RC(mqlite_config_set_persistence_path(config, NULL), MQLITE_OK);

    /* The detail of the last failure, cut to fit and NUL-terminated. */
    CHECK_RC(mqlite_config_add_listener(config, "nonsense"), MQLITE_INVALID_ADDRESS);
    size_t full = mqlite_last_error_text(NULL, 0);
    char detail[512];
    CHECK(mqlite_last_error_text(detail, sizeof detail) == full);
    CHECK(strstr(detail, "nonsense") != NULL);
    CHECK(strstr(detail, "mqlite_config_add_listener") != NULL);
    char tiny[4] = {'x', 'x', 'x', 'x'};
    CHECK(mqlite_last_error_text(tiny, sizeof tiny) == full);
    CHECK(tiny[3] == '\0' && strlen(tiny) == 3);
    CHECK(mqlite_last_error_text(tiny, 0) == full);

    /* An unusable value is refused by mqlite_broker_new, naming the field;
     * the out-parameter is untouched. */
    mqlite_broker *sentinel = (mqlite_broker *)&tiny;
    mqlite_broker *broker = sentinel;
    CHECK_RC(mqlite_config_add_listener(config, "127.0.0.1:0"), MQLITE_OK);
    CHECK_RC(mqlite_config_set_max_inflight(config, 0), MQLITE_OK);
    CHECK_RC(mqlite_broker_new(config, &broker), MQLITE_INVALID_CONFIG);
    CHECK(broker == sentinel);
    mqlite_last_error_text(detail, sizeof detail);
    CHECK(strstr(detail, "max_inflight") != NULL);
    CHECK_RC(mqlite_config_set_max_inflight(config, 20), MQLITE_OK);
    CHECK_RC(mqlite_config_set_connect_timeout_ms(config, 0), MQLITE_OK);
    CHECK_RC(mqlite_broker_new(config, &broker), MQLITE_INVALID_CONFIG);
    CHECK_RC(mqlite_config_set_connect_timeout_ms(config, 5000), MQLITE_OK);

    CHECK_RC(mqlite_broker_new(NULL, &broker), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_new(config, NULL), MQLITE_NULL_PARAMETER);
    CHECK(broker == sentinel);
    mqlite_config_free(config);
}

static void bind_failure(void) {
    uint16_t port = 0;
    mqlite_broker *first = test_broker(&port);
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%u", port);
    mqlite_config *config = mqlite_config_new();
    CHECK_RC(mqlite_config_add_listener(config, address), MQLITE_OK);
    mqlite_broker *second = NULL;
    CHECK_RC(mqlite_broker_new(config, &second), MQLITE_BIND_FAILED);
    CHECK(second == NULL);
    mqlite_config_free(config);
    mqlite_broker_free(first);
}

static void broker_nulls(void) {
    uint16_t port = 0;
    bool running = false;
    int fd = -7;
    int64_t ms = -7;
    uint64_t id = 77;
    mqlite_stats stats;
    mqlite_handle *handle = NULL;
    memset(&stats, 0xab, sizeof stats);

    CHECK_RC(mqlite_broker_local_port(NULL, 0, &port), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_run(NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_run_once(NULL, 0, &running), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_fd(NULL, &fd), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_next_deadline_ms(NULL, &ms), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_handle(NULL, &handle), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_set_auth_callback(NULL, on_auth, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_set_acl_callback(NULL, on_acl, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_set_message_callback(NULL, on_message, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_set_event_callback(NULL, on_event, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_subscribe_local(NULL, "a", 0, on_local, NULL, &id),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_unsubscribe_local(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_stats(NULL, &stats), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_publish(NULL, "a", NULL, 0, 0, false), MQLITE_NULL_PARAMETER);
    mqlite_broker_free(NULL);
    CHECK(port == 0 && fd == -7 && ms == -7 && id == 77 && handle == NULL);

    mqlite_broker *broker = test_broker(&port);
    CHECK(port != 0);
    CHECK_RC(mqlite_broker_local_port(broker, 0, NULL), MQLITE_NULL_PARAMETER);
    uint16_t other = 9;
    CHECK_RC(mqlite_broker_local_port(broker, 1, &other), MQLITE_NOT_FOUND);
    CHECK(other == 9);
    CHECK_RC(mqlite_broker_run_once(broker, 0, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_run_once(broker, -2, &running), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_broker_fd(broker, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_next_deadline_ms(broker, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_handle(broker, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_set_auth_callback(broker, NULL, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_set_acl_callback(broker, NULL, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_set_message_callback(broker, NULL, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_set_event_callback(broker, NULL, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_subscribe_local(broker, NULL, 0, on_local, NULL, &id),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_subscribe_local(broker, "a", 0, NULL, NULL, &id),
             MQLITE_NULL_PARAMETER);
    /* subscription_out may be NULL (the id is then not reported). */
    CHECK_RC(mqlite_broker_subscribe_local(broker, "a", 0, on_local, NULL, NULL), MQLITE_OK);
    CHECK_RC(mqlite_broker_subscribe_local(broker, BAD_UTF8, 0, on_local, NULL, &id),
             MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_broker_subscribe_local(broker, "a/#/b", 0, on_local, NULL, &id),
             MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_broker_subscribe_local(broker, "", 0, on_local, NULL, &id),
             MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_broker_subscribe_local(broker, "a", 3, on_local, NULL, &id),
             MQLITE_INVALID_ARGUMENT);
    CHECK(id == 77);
    CHECK_RC(mqlite_broker_unsubscribe_local(broker, 123456), MQLITE_NOT_FOUND);
    CHECK_RC(mqlite_broker_stats(broker, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_publish(broker, NULL, NULL, 0, 0, false), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_publish(broker, "a", NULL, 2, 0, false), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_publish(broker, BAD_UTF8, NULL, 0, 0, false), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_broker_publish(broker, "a/+", NULL, 0, 0, false), MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_broker_publish(broker, "a/#", NULL, 0, 0, false), MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_broker_publish(broker, "", NULL, 0, 0, false), MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_broker_publish(broker, "a", NULL, 0, 3, false), MQLITE_INVALID_ARGUMENT);

    /* The valid forms work. */
    CHECK_RC(mqlite_broker_subscribe_local(broker, "a/#", 2, on_local, NULL, &id), MQLITE_OK);
    CHECK_RC(mqlite_broker_unsubscribe_local(broker, id), MQLITE_OK);
    CHECK_RC(mqlite_broker_unsubscribe_local(broker, id), MQLITE_NOT_FOUND);
    CHECK_RC(mqlite_broker_fd(broker, &fd), MQLITE_OK);
    CHECK(fd >= 0);
    CHECK_RC(mqlite_broker_next_deadline_ms(broker, &ms), MQLITE_OK);
    CHECK(ms >= -1);
    CHECK_RC(mqlite_broker_stats(broker, &stats), MQLITE_OK);
    CHECK(stats.connections == 0);
    CHECK_RC(mqlite_broker_run_once(broker, 0, &running), MQLITE_OK);
    CHECK(running);
    mqlite_broker_free(broker);
}

static void handle_nulls(void) {
    mqlite_stats stats;
    uint64_t id = 77;
    CHECK_RC(mqlite_handle_publish(NULL, "a", (const uint8_t *)"x", 1, 0, false),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_subscribe_local(NULL, "a", 0, on_local, NULL, &id),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_unsubscribe_local(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_complete_auth(NULL, 1, MQLITE_AUTH_ACCEPT), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_kick(NULL, "c"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_stats(NULL, 10, &stats), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_stop(NULL), MQLITE_NULL_PARAMETER);
    CHECK(mqlite_handle_is_stopped(NULL));
    mqlite_handle_free(NULL);
    CHECK_RC(mqlite_message_rewrite_set(NULL, "a", 1, NULL, 0, 0, false), MQLITE_NULL_PARAMETER);

    mqlite_broker *broker = test_broker(NULL);
    mqlite_handle *handle = NULL;
    CHECK_RC(mqlite_broker_handle(broker, &handle), MQLITE_OK);
    CHECK_RC(mqlite_handle_publish(handle, NULL, NULL, 0, 0, false), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_publish(handle, "a", NULL, 5, 0, false), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_publish(handle, BAD_UTF8, NULL, 0, 0, false), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_handle_publish(handle, "a/+", NULL, 0, 0, false), MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_handle_publish(handle, "a/#", NULL, 0, 0, false), MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_handle_publish(handle, "", NULL, 0, 0, false), MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_handle_publish(handle, "a", NULL, 0, 3, false), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_handle_publish(handle, "a", NULL, 0, 255, false), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_handle_publish(handle, "a", NULL, 0, 1, true), MQLITE_OK);
    CHECK_RC(mqlite_handle_subscribe_local(handle, NULL, 0, on_local, NULL, &id),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_subscribe_local(handle, "a", 0, NULL, NULL, &id),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_subscribe_local(handle, "a", 0, on_local, NULL, NULL), MQLITE_OK);
    CHECK_RC(mqlite_handle_subscribe_local(handle, BAD_UTF8, 0, on_local, NULL, &id),
             MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_handle_subscribe_local(handle, "a/#/b", 0, on_local, NULL, &id),
             MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_handle_subscribe_local(handle, "a", 7, on_local, NULL, &id),
             MQLITE_INVALID_ARGUMENT);
    CHECK(id == 77);
    CHECK_RC(mqlite_handle_complete_auth(handle, 1, MQLITE_AUTH_PENDING),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_handle_complete_auth(handle, 1, 99), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_handle_complete_auth(handle, 1, MQLITE_AUTH_ACCEPT), MQLITE_OK);
    CHECK_RC(mqlite_handle_kick(handle, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_kick(handle, BAD_UTF8), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_handle_kick(handle, "nobody"), MQLITE_OK);
    CHECK_RC(mqlite_handle_stats(handle, 10, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_unsubscribe_local(handle, 999), MQLITE_OK);

    /* Nothing runs the broker: the stats request times out. */
    CHECK_RC(mqlite_handle_stats(handle, 10, &stats), MQLITE_STOPPED);

    /* Log levels. */
    CHECK_RC(mqlite_set_log_callback(NULL, NULL, 6), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_set_log_callback(NULL, NULL, MQLITE_LOG_OFF), MQLITE_OK);

    /* After the broker is freed, the handle answers MQLITE_STOPPED. */
    mqlite_broker_free(broker);
    CHECK_RC(mqlite_handle_publish(handle, "a", NULL, 0, 0, false), MQLITE_STOPPED);
    CHECK_RC(mqlite_handle_kick(handle, "c"), MQLITE_STOPPED);
    CHECK_RC(mqlite_handle_stats(handle, 10, &stats), MQLITE_STOPPED);
    CHECK_RC(mqlite_handle_subscribe_local(handle, "a", 0, on_local, NULL, &id), MQLITE_STOPPED);
    CHECK_RC(mqlite_handle_stop(handle), MQLITE_OK);
    mqlite_handle_free(handle);
}

/* The MQTT 5 functions: properties, publishing with them, the message and
 * CONNECT accessors (outside a callback every pointer is refused), and the
 * decisions completed with data. */
static void v5_nulls(void) {
    mqlite_properties_free(NULL);
    CHECK_RC(mqlite_properties_clear(NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_properties_set_payload_format(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_properties_set_message_expiry_interval(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_properties_set_content_type(NULL, "t"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_properties_set_response_topic(NULL, "t"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_properties_set_correlation_data(NULL, (const uint8_t *)"c", 1),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_properties_add_user_property(NULL, "k", "v"), MQLITE_NULL_PARAMETER);

    mqlite_properties *properties = mqlite_properties_new();
    CHECK(properties != NULL);
    CHECK_RC(mqlite_properties_set_payload_format(properties, 2), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_properties_set_message_expiry_interval(properties, -2),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_properties_set_message_expiry_interval(properties, 4294967296LL),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_properties_set_message_expiry_interval(properties, -1), MQLITE_OK);
    CHECK_RC(mqlite_properties_set_content_type(properties, BAD_UTF8), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_properties_set_content_type(properties, NULL), MQLITE_OK);
    CHECK_RC(mqlite_properties_set_response_topic(properties, BAD_UTF8), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_properties_set_response_topic(properties, "a/#"), MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_properties_set_response_topic(properties, NULL), MQLITE_OK);
    CHECK_RC(mqlite_properties_set_correlation_data(properties, NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_properties_set_correlation_data(properties, NULL, 0), MQLITE_OK);
    CHECK_RC(mqlite_properties_add_user_property(properties, NULL, "v"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_properties_add_user_property(properties, "k", NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_properties_add_user_property(properties, "k", BAD_UTF8), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_properties_add_user_property(properties, "", ""), MQLITE_OK);
    CHECK_RC(mqlite_properties_clear(properties), MQLITE_OK);

    CHECK_RC(mqlite_broker_publish_with(NULL, "a", NULL, 0, 0, false, properties),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_publish_with(NULL, "a", NULL, 0, 0, false, properties),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_complete_auth_with_data(NULL, 1, MQLITE_AUTH_ACCEPT, NULL, 0),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_message_rewrite_set_with(NULL, "a", 1, NULL, 0, 0, false, properties),
             MQLITE_NULL_PARAMETER);

    mqlite_broker *broker = test_broker(NULL);
    mqlite_handle *handle = NULL;
    CHECK_RC(mqlite_broker_handle(broker, &handle), MQLITE_OK);
    CHECK_RC(mqlite_broker_publish_with(broker, NULL, NULL, 0, 0, false, properties),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_publish_with(broker, "a", NULL, 3, 0, false, properties),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_publish_with(broker, BAD_UTF8, NULL, 0, 0, false, properties),
             MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_broker_publish_with(broker, "a/+", NULL, 0, 0, false, properties),
             MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_broker_publish_with(broker, "a", NULL, 0, 3, false, properties),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_broker_publish_with(broker, "a", NULL, 0, 0, false, NULL), MQLITE_OK);
    CHECK_RC(mqlite_broker_publish_with(broker, "a", NULL, 0, 0, false, properties), MQLITE_OK);
    CHECK_RC(mqlite_handle_publish_with(handle, NULL, NULL, 0, 0, false, properties),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_publish_with(handle, "a", NULL, 0, 3, false, properties),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_handle_publish_with(handle, "", NULL, 0, 0, false, properties),
             MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_handle_publish_with(handle, "a", NULL, 0, 0, false, NULL), MQLITE_OK);
    CHECK_RC(mqlite_handle_complete_auth_with_data(handle, 1, MQLITE_AUTH_PENDING, NULL, 0),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_handle_complete_auth_with_data(handle, 1, 99, NULL, 0),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_handle_complete_auth_with_data(handle, 1, MQLITE_AUTH_REFUSE_REASON | 0x04,
                                                   NULL, 0),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_handle_complete_auth_with_data(handle, 1, MQLITE_AUTH_CONTINUE, NULL, 2),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_complete_auth_with_data(handle, 1, MQLITE_AUTH_REFUSE_REASON | 0x9F,
                                                   NULL, 0),
             MQLITE_OK);
    /* The 0.1 function keeps its three decisions. */
    CHECK_RC(mqlite_handle_complete_auth(handle, 1, MQLITE_AUTH_ACCEPT_WITH_DATA),
             MQLITE_INVALID_ARGUMENT);

    /* Accessors outside a callback: NULL, or a view nobody lent. */
    mqlite_message fake_message;
    memset(&fake_message, 0, sizeof fake_message);
    mqlite_connect_info fake_info;
    memset(&fake_info, 0, sizeof fake_info);
    const char *text = "untouched";
    const uint8_t *data = (const uint8_t *)"untouched";
    size_t len = 77, count = 77;
    uint8_t format = 77;
    uint32_t step = 77;
    int64_t seconds = 77;
    bool reauth = true;
    const char *value = "untouched";
    size_t value_len = 77;
    const mqlite_message *messages[] = {NULL, &fake_message};
    mqlite_result expected[] = {MQLITE_NULL_PARAMETER, MQLITE_INVALID_ARGUMENT};
    for (int i = 0; i < 2; i++) {
        const mqlite_message *m = messages[i];
        CHECK_RC(mqlite_message_payload_format(m, &format), expected[i]);
        CHECK_RC(mqlite_message_content_type(m, &text, &len), expected[i]);
        CHECK_RC(mqlite_message_response_topic(m, &text, &len), expected[i]);
        CHECK_RC(mqlite_message_correlation_data(m, &data, &len), expected[i]);
        CHECK_RC(mqlite_message_user_property_count(m, &count), expected[i]);
        CHECK_RC(mqlite_message_user_property(m, 0, &text, &len, &value, &value_len),
                 expected[i]);
        CHECK_RC(mqlite_message_expiry_interval(m, &seconds), expected[i]);
    }
    const mqlite_connect_info *infos[] = {NULL, &fake_info};
    for (int i = 0; i < 2; i++) {
        const mqlite_connect_info *info = infos[i];
        CHECK_RC(mqlite_connect_info_authentication_method(info, &text, &len), expected[i]);
        CHECK_RC(mqlite_connect_info_authentication_data(info, &data, &len), expected[i]);
        CHECK_RC(mqlite_connect_info_auth_step(info, &step), expected[i]);
        CHECK_RC(mqlite_connect_info_reauthentication(info, &reauth), expected[i]);
        CHECK_RC(mqlite_connect_info_user_property_count(info, &count), expected[i]);
        CHECK_RC(mqlite_connect_info_user_property(info, 0, &text, &len, &value, &value_len),
                 expected[i]);
        CHECK_RC(mqlite_connect_info_set_reply_data(info, (const uint8_t *)"d", 1), expected[i]);
    }
    CHECK(strcmp(text, "untouched") == 0 && strcmp(value, "untouched") == 0);
    CHECK(data[0] == 'u' && len == 77 && value_len == 77 && count == 77 && format == 77);
    CHECK(step == 77 && reauth);

    mqlite_broker_free(broker);
    CHECK_RC(mqlite_handle_publish_with(handle, "a", NULL, 0, 0, false, properties),
             MQLITE_STOPPED);
    mqlite_handle_free(handle);
    mqlite_properties_free(properties);
}

/* Listeners: every function refuses NULL where it needs a pointer, bad
 * UTF-8 and out-of-range values, and leaves its out-parameter alone. */
static void listener_nulls(void) {
    mqlite_listener *sentinel = (mqlite_listener *)&sentinel;
    mqlite_listener *listener = sentinel;
    CHECK_RC(mqlite_listener_new_tcp(NULL, &listener), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_new_tcp(BAD_UTF8, &listener), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_listener_new_tcp("127.0.0.1", &listener), MQLITE_INVALID_ADDRESS);
    CHECK_RC(mqlite_listener_new_tcp("127.0.0.1:0", NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_new_unix(NULL, &listener), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_new_unix("", &listener), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_listener_new_unix("/tmp/x.sock", NULL), MQLITE_NULL_PARAMETER);
    CHECK(listener == sentinel);
    mqlite_listener_free(NULL);

    CHECK_RC(mqlite_listener_set_tls(NULL, "c", "k"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_tls_ca_file(NULL, "ca"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_tls_ca_path(NULL, "cas"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_tls_require_certificate(NULL, true), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_tls_use_identity_as_username(NULL, true),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_tls_use_subject_as_username(NULL, true),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_tls_min_version(NULL, MQLITE_TLS_VERSION_1_2),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_websocket(NULL, true), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_unix_mode(NULL, 0600), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_unix_owner(NULL, "u"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_unix_group(NULL, "g"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_max_connections(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_allow_anonymous(NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_password_file(NULL, "p"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_acl_file(NULL, "a"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_add_custom_listener(NULL, NULL), MQLITE_NULL_PARAMETER);

    CHECK_RC(mqlite_listener_new_unix("/tmp/x.sock", &listener), MQLITE_OK);
    CHECK_RC(mqlite_listener_set_tls(listener, "c", NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_tls_min_version(listener, 14), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_listener_set_unix_mode(listener, 0x10000), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_listener_set_unix_owner(listener, BAD_UTF8), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_listener_set_unix_group(listener, BAD_UTF8), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_listener_set_allow_anonymous(listener, -2), MQLITE_INVALID_ARGUMENT);
    mqlite_config *config = mqlite_config_new();
    CHECK_RC(mqlite_config_add_custom_listener(config, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_add_custom_listener(config, listener), MQLITE_OK);
    mqlite_config_free(config);
    mqlite_listener_free(listener);

    uint16_t port = 77;
    size_t index = 77;
    const char *text = "untouched";
    size_t len = 77;
    CHECK_RC(mqlite_broker_custom_port(NULL, 0, &port), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_reload(NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_reload(NULL, 1), MQLITE_NULL_PARAMETER);
    mqlite_connect_info fake_info;
    memset(&fake_info, 0, sizeof fake_info);
    mqlite_client_info fake_client;
    memset(&fake_client, 0, sizeof fake_client);
    CHECK_RC(mqlite_connect_info_listener(NULL, &index), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_connect_info_listener(&fake_info, &index), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_client_info_listener(NULL, &index), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_client_info_listener(&fake_client, &index), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_connect_info_certificate_subject(NULL, &text, &len), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_connect_info_certificate_subject(&fake_info, &text, &len),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_connect_info_certificate_common_name(&fake_info, &text, &len),
             MQLITE_INVALID_ARGUMENT);
    CHECK(port == 77 && index == 77 && len == 77 && strcmp(text, "untouched") == 0);
}

/* Bridges: every function refuses NULL where it needs a pointer and bad
 * UTF-8, and leaves its out-parameters alone. */
static void bridge_nulls(void) {
    mqlite_bridge *sentinel = (mqlite_bridge *)&sentinel;
    mqlite_bridge *bridge = sentinel;
    CHECK_RC(mqlite_bridge_new(NULL, "h", &bridge), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_new("up", NULL, &bridge), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_new(BAD_UTF8, "h", &bridge), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_bridge_new("up", BAD_UTF8, &bridge), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_bridge_new("up", "h", NULL), MQLITE_NULL_PARAMETER);
    CHECK(bridge == sentinel);
    mqlite_bridge_free(NULL);

    CHECK_RC(mqlite_bridge_add_address(NULL, "h"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_add_topic(NULL, "#", MQLITE_BRIDGE_OUT, 0, NULL, NULL),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_set_round_robin(NULL, true), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_set_clean_session(NULL, true), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_set_local_clean_session(NULL, -1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_set_remote_client_id(NULL, "id"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_set_remote_credentials(NULL, "u", "p"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_set_keepalive_s(NULL, 60), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_set_restart_timeout_s(NULL, 5, 30), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_set_start_once(NULL, true), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_set_start_lazy(NULL, 10, 60), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_set_try_private(NULL, true), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_set_notifications(NULL, true), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_set_notification_topic(NULL, "t"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_set_protocol_version(NULL, 4), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_set_tls(NULL, "ca", NULL, NULL, NULL, false), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_add_bridge(NULL, NULL), MQLITE_NULL_PARAMETER);

    CHECK_RC(mqlite_bridge_new("up", "127.0.0.1:1", &bridge), MQLITE_OK);
    CHECK_RC(mqlite_bridge_add_address(bridge, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_add_address(bridge, BAD_UTF8), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_bridge_add_topic(bridge, NULL, MQLITE_BRIDGE_OUT, 0, NULL, NULL),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_add_topic(bridge, BAD_UTF8, MQLITE_BRIDGE_OUT, 0, NULL, NULL),
             MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_bridge_add_topic(bridge, "#", MQLITE_BRIDGE_OUT, 0, BAD_UTF8, NULL),
             MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_bridge_add_topic(bridge, "#", MQLITE_BRIDGE_OUT, 0, NULL, BAD_UTF8),
             MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_bridge_set_remote_client_id(bridge, BAD_UTF8), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_bridge_set_remote_credentials(bridge, BAD_UTF8, NULL), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_bridge_set_remote_credentials(bridge, "u", BAD_UTF8), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_bridge_set_notification_topic(bridge, BAD_UTF8), MQLITE_INVALID_UTF8);
    /* NULL means "the default" for these. */
    CHECK_RC(mqlite_bridge_set_remote_client_id(bridge, NULL), MQLITE_OK);
    CHECK_RC(mqlite_bridge_set_remote_credentials(bridge, NULL, NULL), MQLITE_OK);
    CHECK_RC(mqlite_bridge_set_notification_topic(bridge, NULL), MQLITE_OK);
    CHECK_RC(mqlite_bridge_set_tls(bridge, NULL, NULL, NULL, NULL, false), MQLITE_OK);
    CHECK_RC(mqlite_bridge_add_topic(bridge, "#", MQLITE_BRIDGE_OUT, 0, NULL, NULL), MQLITE_OK);
    mqlite_config *config = mqlite_config_new();
    CHECK_RC(mqlite_config_add_bridge(config, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_add_bridge(config, bridge), MQLITE_OK);
    mqlite_config_free(config);

    bool removed = true;
    mqlite_bridge_stats_list *list_sentinel = (mqlite_bridge_stats_list *)&list_sentinel;
    mqlite_bridge_stats_list *list = list_sentinel;
    CHECK_RC(mqlite_broker_add_bridge(NULL, bridge), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_remove_bridge(NULL, "up", &removed), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_bridge_stats(NULL, &list), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_add_bridge(NULL, bridge, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_remove_bridge(NULL, "up", 1, &removed), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_bridge_stats(NULL, 1, &list), MQLITE_NULL_PARAMETER);

    mqlite_broker *broker = test_broker(NULL);
    mqlite_handle *handle = NULL;
    CHECK_RC(mqlite_broker_handle(broker, &handle), MQLITE_OK);
    CHECK_RC(mqlite_broker_add_bridge(broker, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_remove_bridge(broker, NULL, &removed), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_remove_bridge(broker, BAD_UTF8, &removed), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_broker_bridge_stats(broker, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_add_bridge(handle, NULL, 1), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_remove_bridge(handle, NULL, 1, &removed), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_remove_bridge(handle, BAD_UTF8, 1, &removed), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_handle_bridge_stats(handle, 1, NULL), MQLITE_NULL_PARAMETER);
    CHECK(removed && list == list_sentinel);

    size_t count = 77, len = 77;
    const char *name = "untouched";
    mqlite_bridge_stats stats;
    memset(&stats, 0x77, sizeof stats);
    mqlite_bridge_stats_list_free(NULL);
    CHECK_RC(mqlite_bridge_stats_list_count(NULL, &count), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_stats_list_name(NULL, 0, &name, &len), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_stats_list_get(NULL, 0, &stats, sizeof stats), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_bridge_stats(broker, &list), MQLITE_OK);
    CHECK_RC(mqlite_bridge_stats_list_count(list, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_stats_list_name(list, 0, NULL, &len), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_stats_list_name(list, 0, &name, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_bridge_stats_list_get(list, 0, NULL, sizeof stats), MQLITE_NULL_PARAMETER);
    /* An empty list: index 0 is past the last. */
    CHECK_RC(mqlite_bridge_stats_list_name(list, 0, &name, &len), MQLITE_NOT_FOUND);
    CHECK_RC(mqlite_bridge_stats_list_get(list, 0, &stats, sizeof stats), MQLITE_NOT_FOUND);
    CHECK(count == 77 && len == 77 && strcmp(name, "untouched") == 0);
    CHECK(stats.connections == 0x7777777777777777ull);
    mqlite_bridge_stats_list_free(list);

    mqlite_broker_free(broker);
    CHECK_RC(mqlite_handle_add_bridge(handle, bridge, 1), MQLITE_STOPPED);
    mqlite_handle_free(handle);
    mqlite_bridge_free(bridge);
}

int main(void) {
    texts();
    listener_nulls();
    bridge_nulls();
    config_nulls();
    bind_failure();
    broker_nulls();
    handle_nulls();
    v5_nulls();
    return test_done("test_null");
}
