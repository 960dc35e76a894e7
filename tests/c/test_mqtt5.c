/*
 * MQTT 5 through the C API, against real MQTT 5 clients on the wire:
 *
 * - publishing with properties (mqlite_properties, from the broker's thread
 *   with mqlite_broker_publish_with() and from a handle with
 *   mqlite_handle_publish_with()), received by `mosquitto_sub -V 5`, and
 *   by an MQTT 3.1.1 client without them;
 * - reading the properties a `mosquitto_pub -V 5` sent, in the local
 *   subscription and message callbacks (mqlite_message_* accessors), and
 *   rewriting with properties (mqlite_message_rewrite_set_with());
 * - the CONNECT's user properties in the authentication callback;
 * - enhanced authentication with a hand-written MQTT 5 client (mosquitto's
 *   clients cannot answer an AUTH challenge): CONTINUE with a challenge,
 *   ACCEPT_WITH_DATA, a pending re-authentication completed with data from
 *   another thread, a pending CONNECT completed with CONTINUE, refusals
 *   with chosen reason codes (MQTT 5 and 3.1.1 clients), and the
 *   accessors' refusal of a view kept after its callback.
 *
 * mosquitto_pub / mosquitto_sub (Debian's mosquitto-clients) must be on
 * the PATH; without them the test fails, unless MQLITE_SKIP_EXTERNAL=1,
 * which skips their part.
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdarg.h>
#include <time.h>

#include "check.h"
#include "mini_client.h"

/* --- what the callbacks saw ------------------------------------------- */

/* A message's properties, as the accessors gave them. */
typedef struct {
    char topic[128];
    char payload[128];
    uint8_t payload_format;
    char content_type[64];      /* "-" when absent */
    char response_topic[64];    /* "-" when absent */
    char correlation[64];       /* "-" when absent */
    char user_properties[256];  /* "k=v;k=v;" */
    int64_t expiry_interval;    /* -1 when absent */
    bool from_client;
    bool ok; /* every accessor answered as documented */
} seen_message;

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    mqlite_handle *handle;
    /* local subscription and message callback */
    int local_count;
    seen_message local[16];
    int hook_count;
    seen_message hook[16];
    /* events */
    int subscribed;
    /* authentication */
    int auth_calls;
    char auth_log[1024]; /* one "id:step:reauth:method:data;" per call */
    char connect_user_properties[128];
    uint64_t pending_token;
    const mqlite_connect_info *kept_info;
    bool auth_protocol_ok;
} state;

static state S;

static bool equals(const char *ptr, size_t len, const char *text) {
    return len == strlen(text) && memcmp(ptr, text, len) == 0;
}

/* Appends printf output to a fixed buffer. */
static void append(char *buf, size_t cap, const char *format, ...) {
    size_t used = strlen(buf);
    if (used + 1 >= cap) return;
    va_list args;
    va_start(args, format);
    vsnprintf(buf + used, cap - used, format, args);
    va_end(args);
}

/* Copies a lent (pointer, length) as text, "-" for NULL. */
static void copy_span(char *out, size_t cap, const void *ptr, size_t len) {
    if (!ptr) {
        snprintf(out, cap, "-");
        return;
    }
    snprintf(out, cap, "%.*s", (int)len, (const char *)ptr);
}

/* Reads every property of a lent message. */
static void read_message(const mqlite_message *message, seen_message *out) {
    memset(out, 0, sizeof *out);
    out->ok = true;
    snprintf(out->topic, sizeof out->topic, "%.*s", (int)message->topic_len, message->topic);
    snprintf(out->payload, sizeof out->payload, "%.*s", (int)message->payload_len,
             (const char *)message->payload);
    const char *text = NULL;
    const uint8_t *data = NULL;
    size_t len = 0, count = 0;
    out->ok &= mqlite_message_payload_format(message, &out->payload_format) == MQLITE_OK;
    out->ok &= mqlite_message_content_type(message, &text, &len) == MQLITE_OK;
    copy_span(out->content_type, sizeof out->content_type, text, len);
    out->ok &= mqlite_message_response_topic(message, &text, &len) == MQLITE_OK;
    copy_span(out->response_topic, sizeof out->response_topic, text, len);
    out->ok &= mqlite_message_correlation_data(message, &data, &len) == MQLITE_OK;
    copy_span(out->correlation, sizeof out->correlation, data, len);
    out->ok &= mqlite_message_expiry_interval(message, &out->expiry_interval) == MQLITE_OK;
    out->ok &= mqlite_message_user_property_count(message, &count) == MQLITE_OK;
    for (size_t i = 0; i < count; i++) {
        const char *name, *value;
        size_t name_len, value_len;
        out->ok &= mqlite_message_user_property(message, i, &name, &name_len, &value,
                                                &value_len) == MQLITE_OK;
        append(out->user_properties, sizeof out->user_properties, "%.*s=%.*s;", (int)name_len,
               name, (int)value_len, value);
    }
    /* Past the last, and NULL out-parameters, are refused. */
    const char *name, *value;
    size_t name_len, value_len;
    out->ok &= mqlite_message_user_property(message, count, &name, &name_len, &value,
                                            &value_len) == MQLITE_NOT_FOUND;
    out->ok &= mqlite_message_content_type(message, NULL, &len) == MQLITE_NULL_PARAMETER;
    out->ok &= mqlite_message_user_property_count(message, NULL) == MQLITE_NULL_PARAMETER;
}

static void on_local(void *userdata, const mqlite_message *message) {
    state *s = userdata;
    pthread_mutex_lock(&s->lock);
    if (s->local_count < 16) read_message(message, &s->local[s->local_count++]);
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}

static mqlite_message_decision on_message(void *userdata, const mqlite_client_info *origin,
                                          const mqlite_message *message,
                                          mqlite_message_rewrite *rewrite) {
    state *s = userdata;
    pthread_mutex_lock(&s->lock);
    if (s->hook_count < 16) {
        read_message(message, &s->hook[s->hook_count]);
        s->hook[s->hook_count++].from_client = origin != NULL;
    }
    pthread_mutex_unlock(&s->lock);
    if (equals(message->topic, message->topic_len, "v5/rewrite")) {
        /* The replacement carries its own properties: the response topic
         * of the original, and a new content type. */
        mqlite_properties *properties = mqlite_properties_new();
        const char *topic;
        size_t len;
        char copy[64];
        if (mqlite_message_response_topic(message, &topic, &len) == MQLITE_OK && topic &&
            len < sizeof copy) {
            memcpy(copy, topic, len);
            copy[len] = '\0';
            mqlite_properties_set_response_topic(properties, copy);
        }
        mqlite_properties_set_content_type(properties, "rewritten");
        mqlite_result rc = mqlite_message_rewrite_set_with(rewrite, "v5/rewritten", 12,
                                                           (const uint8_t *)"new", 3, 0, false,
                                                           properties);
        mqlite_properties_free(properties);
        return rc == MQLITE_OK ? MQLITE_MESSAGE_REWRITE : MQLITE_MESSAGE_DROP;
    }
    return MQLITE_MESSAGE_PASS;
}

static void on_event(void *userdata, const mqlite_event *event) {
    state *s = userdata;
    pthread_mutex_lock(&s->lock);
    if (event->kind == MQLITE_EVENT_SUBSCRIBED) s->subscribed++;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}

static mqlite_auth_decision on_auth(void *userdata, const mqlite_connect_info *info) {
    state *s = userdata;
    const char *method = NULL;
    const uint8_t *data = NULL;
    size_t method_len = 0, data_len = 0, count = 0;
    uint32_t step = 99;
    bool reauth = true;
    bool ok = mqlite_connect_info_authentication_method(info, &method, &method_len) ==
                  MQLITE_OK &&
              mqlite_connect_info_authentication_data(info, &data, &data_len) == MQLITE_OK &&
              mqlite_connect_info_auth_step(info, &step) == MQLITE_OK &&
              mqlite_connect_info_reauthentication(info, &reauth) == MQLITE_OK &&
              mqlite_connect_info_user_property_count(info, &count) == MQLITE_OK;
    pthread_mutex_lock(&s->lock);
    s->auth_calls++;
    s->kept_info = info;
    if (!ok) s->auth_protocol_ok = false;
    char method_text[64], data_text[64];
    copy_span(method_text, sizeof method_text, method, method_len);
    copy_span(data_text, sizeof data_text, data, data_len);
    append(s->auth_log, sizeof s->auth_log, "%.*s:%u:%d:%s:%s;", (int)info->client_id_len,
           info->client_id, (unsigned)step, (int)reauth, method_text, data_text);
    for (size_t i = 0; i < count; i++) {
        const char *name, *value;
        size_t name_len, value_len;
        if (mqlite_connect_info_user_property(info, i, &name, &name_len, &value, &value_len) ==
            MQLITE_OK)
            append(s->connect_user_properties, sizeof s->connect_user_properties, "%.*s=%.*s;",
                   (int)name_len, name, (int)value_len, value);
    }
    pthread_mutex_unlock(&s->lock);

    const char *user = info->username;
    size_t user_len = info->username_len;
    if (equals(info->client_id, info->client_id_len, "chal")) {
        if (info->protocol_level != 5) s->auth_protocol_ok = false;
        if (reauth) {
            /* Decided later, from another thread, with data. */
            pthread_mutex_lock(&s->lock);
            s->pending_token = info->token;
            pthread_cond_broadcast(&s->changed);
            pthread_mutex_unlock(&s->lock);
            return MQLITE_AUTH_PENDING;
        }
        if (step == 0 && data && equals((const char *)data, data_len, "hello")) {
            /* Set twice: the second replaces the first. */
            mqlite_connect_info_set_reply_data(info, (const uint8_t *)"first", 5);
            mqlite_connect_info_set_reply_data(info, (const uint8_t *)"challenge", 9);
            return MQLITE_AUTH_CONTINUE;
        }
        if (step == 1 && data && equals((const char *)data, data_len, "response")) {
            mqlite_connect_info_set_reply_data(info, (const uint8_t *)"welcome", 7);
            return MQLITE_AUTH_ACCEPT_WITH_DATA;
        }
        return MQLITE_AUTH_REFUSE_REASON | 0x86;
    }
    if (equals(info->client_id, info->client_id_len, "later")) {
        if (step == 0) {
            pthread_mutex_lock(&s->lock);
            s->pending_token = info->token;
            pthread_cond_broadcast(&s->changed);
            pthread_mutex_unlock(&s->lock);
            return MQLITE_AUTH_PENDING;
        }
        return data && equals((const char *)data, data_len, "answer") ? MQLITE_AUTH_ACCEPT
                                                                       : MQLITE_AUTH_NOT_AUTHORIZED;
    }
    if (method && equals(method, method_len, "UNKNOWN")) return MQLITE_AUTH_REFUSE_REASON | 0x8C;
    if (user && equals(user, user_len, "banned")) return MQLITE_AUTH_REFUSE_REASON | 0x8A;
    if (user && equals(user, user_len, "odd")) return MQLITE_AUTH_REFUSE_REASON | 0x10;
    /* CONTINUE for a client without a method: refused (0x87). */
    if (user && equals(user, user_len, "nomethod")) return MQLITE_AUTH_CONTINUE;
    return MQLITE_AUTH_ACCEPT;
}

/* --- waiting ------------------------------------------------------------ */

/* Waits (up to 10 s) until *counter >= value. */
static bool wait_count(int *counter, int value) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&S.lock);
    while (*counter < value) {
        if (pthread_cond_timedwait(&S.changed, &S.lock, &until) != 0) break;
    }
    bool ok = *counter >= value;
    pthread_mutex_unlock(&S.lock);
    return ok;
}

/* Waits (up to 10 s) for a pending token, takes it. */
static uint64_t take_token(void) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&S.lock);
    while (S.pending_token == 0) {
        if (pthread_cond_timedwait(&S.changed, &S.lock, &until) != 0) break;
    }
    uint64_t token = S.pending_token;
    S.pending_token = 0;
    pthread_mutex_unlock(&S.lock);
    return token;
}

static void *run_broker(void *arg) {
    mqlite_result rc = mqlite_broker_run(arg);
    if (rc != MQLITE_OK) fprintf(stderr, "run: %s\n", mqlite_result_text(rc));
    return NULL;
}

/* --- a minimal MQTT 5 client for the AUTH exchange ---------------------- */

#define V5_AUTH 0xF0

static size_t put_varint(unsigned char *out, size_t value) { return mc_put_length(out, value); }

/* Reads a variable byte integer at *at; 0 on success. */
static int get_varint(const unsigned char *buf, size_t len, size_t *at, size_t *value) {
    size_t v = 0, multiplier = 1;
    for (int i = 0; i < 4; i++) {
        if (*at >= len) return -1;
        unsigned char byte = buf[(*at)++];
        v += (size_t)(byte & 0x7f) * multiplier;
        multiplier *= 128;
        if (!(byte & 0x80)) {
            *value = v;
            return 0;
        }
    }
    return -1;
}

/* An authentication properties block: method, data (either may be NULL),
 * and one user property (NULL for none). */
static size_t auth_properties(unsigned char *out, const char *method, const char *data,
                              const char *user_name, const char *user_value) {
    unsigned char block[512];
    size_t n = 0;
    if (method) {
        block[n++] = 0x15;
        n += mc_put_string(block + n, method, strlen(method));
    }
    if (data) {
        block[n++] = 0x16;
        n += mc_put_string(block + n, data, strlen(data));
    }
    if (user_name) {
        block[n++] = 0x26;
        n += mc_put_string(block + n, user_name, strlen(user_name));
        n += mc_put_string(block + n, user_value, strlen(user_value));
    }
    size_t head = put_varint(out, n);
    memcpy(out + head, block, n);
    return head + n;
}

/* Opens a connection and sends an MQTT 5 CONNECT; returns the fd or -1. */
static int v5_send_connect(uint16_t port, const char *client_id, const char *username,
                           const char *method, const char *data) {
    int fd = mc_tcp_connect(port);
    if (fd < 0) return -1;
    unsigned char body[1024];
    size_t n = mc_put_string(body, "MQTT", 4);
    body[n++] = 5;
    body[n++] = (unsigned char)(0x02 | (username ? 0x80 : 0));
    body[n++] = 0;
    body[n++] = 60;
    n += auth_properties(body + n, method, data, "device", "v5-client");
    n += mc_put_string(body + n, client_id, strlen(client_id));
    if (username) n += mc_put_string(body + n, username, strlen(username));
    if (mc_send_packet(fd, MC_CONNECT, body, n) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int v5_send_auth(int fd, unsigned char reason, const char *method, const char *data) {
    unsigned char body[512];
    size_t n = 0;
    body[n++] = reason;
    n += auth_properties(body + n, method, data, NULL, NULL);
    return mc_send_packet(fd, V5_AUTH, body, n);
}

/* A CONNACK or AUTH read back: its reason code and Authentication Method
 * and Data ("-" when absent). */
typedef struct {
    unsigned char kind; /* MC_CONNACK, V5_AUTH, 0 on failure */
    unsigned char reason;
    char method[64];
    char data[64];
} v5_reply;

static v5_reply v5_read(int fd) {
    v5_reply reply;
    memset(&reply, 0, sizeof reply);
    strcpy(reply.method, "-");
    strcpy(reply.data, "-");
    unsigned char first, body[2048];
    size_t len = 0, at = 0, props_len = 0;
    if (mc_read_packet(fd, 10000, &first, body, sizeof body, &len) != 0) return reply;
    if (first == MC_CONNACK) {
        if (len < 2) return reply;
        reply.reason = body[1];
        at = 2;
    } else if (first == V5_AUTH) {
        reply.reason = len > 0 ? body[0] : 0;
        at = 1;
    } else {
        return reply;
    }
    reply.kind = first;
    if (at >= len) return reply;
    if (get_varint(body, len, &at, &props_len) != 0 || at + props_len > len) {
        reply.kind = 0;
        return reply;
    }
    size_t end = at + props_len;
    while (at < end) {
        unsigned char id = body[at++];
        size_t value_len;
        switch (id) {
        case 0x15: case 0x16: case 0x12: case 0x1A: case 0x1C: case 0x1F: /* string, binary */
            if (at + 2 > end) return reply;
            value_len = ((size_t)body[at] << 8) | body[at + 1];
            if (at + 2 + value_len > end) return reply;
            if (id == 0x15) copy_span(reply.method, sizeof reply.method, body + at + 2, value_len);
            if (id == 0x16) copy_span(reply.data, sizeof reply.data, body + at + 2, value_len);
            at += 2 + value_len;
            break;
        case 0x26: /* user property: two strings */
            for (int i = 0; i < 2; i++) {
                if (at + 2 > end) return reply;
                at += 2 + (((size_t)body[at] << 8) | body[at + 1]);
            }
            break;
        case 0x11: case 0x27: at += 4; break;
        case 0x13: case 0x21: case 0x22: at += 2; break;
        case 0x24: case 0x25: case 0x28: case 0x29: case 0x2A: at += 1; break;
        default: reply.kind = 0; return reply; /* not expected here */
        }
    }
    return reply;
}

/* --- mosquitto's clients ---------------------------------------------- */

static bool have_mosquitto(void) {
    if (system("command -v mosquitto_pub >/dev/null 2>&1 && "
               "command -v mosquitto_sub >/dev/null 2>&1") == 0)
        return true;
    const char *skip = getenv("MQLITE_SKIP_EXTERNAL");
    if (skip && strcmp(skip, "1") == 0) {
        printf("note: mosquitto_pub/mosquitto_sub not found; their part skipped "
               "(MQLITE_SKIP_EXTERNAL=1)\n");
        return false;
    }
    fprintf(stderr, "mosquitto_pub / mosquitto_sub not found in PATH: install Debian's "
                    "mosquitto-clients (scripts/test.sh does), or set MQLITE_SKIP_EXTERNAL=1\n");
    exit(2);
}

/* Reads one line of a mosquitto_sub, without its newline; false at the
 * end (mosquitto_sub's own -W timeout ends it). */
static bool read_line(FILE *from, char *line, size_t cap) {
    if (!fgets(line, (int)cap, from)) return false;
    line[strcspn(line, "\n")] = '\0';
    return true;
}

static void mosquitto_part(uint16_t port, mqlite_broker *broker) {
    (void)broker;
    char command[1024];
    /* A subscriber printing topic, payload and the MQTT 5 properties:
     * content type, response topic, correlation data, payload format,
     * expiry, user properties. Two messages, then it exits (10 s at most). */
    snprintf(command, sizeof command,
             "mosquitto_sub -V 5 -h 127.0.0.1 -p %u -i v5-sub -q 1 -t v5/retained -t v5/live "
             "-C 2 -W 10 -F '%%t|%%p|%%C|%%R|%%D|%%F|%%E|%%P'",
             (unsigned)port);
    FILE *sub = popen(command, "r");
    CHECK(sub != NULL);
    if (!sub) return;
    CHECK(wait_count(&S.subscribed, 1));
    char line[1024] = "";

    /* The retained message published on the broker's thread before it
     * ran: properties kept in the store, expiry counting down from 300. */
    CHECK(read_line(sub, line, sizeof line));
    printf("mosquitto_sub: %s\n", line);
    CHECK(strncmp(line, "v5/retained|kept|text/plain|v5/reply|corr-1|1|", 46) == 0);
    unsigned expiry = 0;
    char users[512] = "";
    CHECK(sscanf(line + 46, "%u|%511[^\n]", &expiry, users) == 2);
    CHECK(expiry > 0 && expiry <= 300);
    CHECK(strcmp(users, "unit:celsius sensor:t1") == 0);

    /* From a handle, live, with other properties (and no expiry). */
    mqlite_properties *properties = mqlite_properties_new();
    CHECK_RC(mqlite_properties_set_content_type(properties, "application/json"), MQLITE_OK);
    CHECK_RC(mqlite_properties_add_user_property(properties, "a", "1"), MQLITE_OK);
    CHECK_RC(mqlite_properties_add_user_property(properties, "a", "2"), MQLITE_OK);
    CHECK_RC(mqlite_handle_publish_with(S.handle, "v5/live", (const uint8_t *)"{}", 2, 1, false,
                                        properties),
             MQLITE_OK);
    mqlite_properties_free(properties);
    CHECK(read_line(sub, line, sizeof line));
    printf("mosquitto_sub: %s\n", line);
    CHECK(strcmp(line, "v5/live|{}|application/json|||||a:1 a:2") == 0);
    CHECK(pclose(sub) == 0);

    /* mosquitto_pub with every publish property and a CONNECT user
     * property: the local subscription and the message callback read them. */
    int local_before, hook_before;
    pthread_mutex_lock(&S.lock);
    local_before = S.local_count;
    hook_before = S.hook_count;
    pthread_mutex_unlock(&S.lock);
    snprintf(command, sizeof command,
             "mosquitto_pub -V 5 -h 127.0.0.1 -p %u -i v5-pub -q 1 -t v5/in -m payload "
             "-D connect user-property site north "
             "-D publish content-type text/csv -D publish response-topic v5/answer "
             "-D publish correlation-data req-7 -D publish payload-format-indicator 1 "
             "-D publish message-expiry-interval 60 "
             "-D publish user-property k1 v1 -D publish user-property k2 v2",
             (unsigned)port);
    CHECK(system(command) == 0);
    CHECK(wait_count(&S.local_count, local_before + 1));
    pthread_mutex_lock(&S.lock);
    seen_message *local = &S.local[local_before];
    seen_message *hook = &S.hook[hook_before];
    CHECK(S.hook_count > hook_before);
    pthread_mutex_unlock(&S.lock);
    for (int i = 0; i < 2; i++) {
        seen_message *m = i == 0 ? local : hook;
        CHECK(m->ok);
        CHECK(strcmp(m->topic, "v5/in") == 0 && strcmp(m->payload, "payload") == 0);
        CHECK(m->payload_format == 1);
        CHECK(strcmp(m->content_type, "text/csv") == 0);
        CHECK(strcmp(m->response_topic, "v5/answer") == 0);
        CHECK(strcmp(m->correlation, "req-7") == 0);
        CHECK(strcmp(m->user_properties, "k1=v1;k2=v2;") == 0);
        /* What is left of 60 s, rounded up. */
        CHECK(m->expiry_interval > 0 && m->expiry_interval <= 60);
    }
    CHECK(hook->from_client);
    pthread_mutex_lock(&S.lock);
    CHECK(strstr(S.connect_user_properties, "site=north;") != NULL);
    CHECK(strstr(S.auth_log, "v5-pub:0:0:-:-;") != NULL);
    pthread_mutex_unlock(&S.lock);
}

/* --- the test ----------------------------------------------------------- */

int main(void) {
    pthread_mutex_init(&S.lock, NULL);
    pthread_cond_init(&S.changed, NULL);
    S.auth_protocol_ok = true;

    uint16_t port = 0;
    mqlite_broker *broker = test_broker(&port);
    CHECK_RC(mqlite_broker_handle(broker, &S.handle), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_auth_callback(broker, on_auth, &S), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_message_callback(broker, on_message, &S), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_event_callback(broker, on_event, &S), MQLITE_OK);
    CHECK_RC(mqlite_broker_subscribe_local(broker, "v5/#", 2, on_local, &S, NULL), MQLITE_OK);

    /* On the broker's thread, before it runs: delivered to the local
     * subscription (and seen by the message callback) before returning. */
    mqlite_properties *properties = mqlite_properties_new();
    CHECK(properties != NULL);
    CHECK_RC(mqlite_properties_set_payload_format(properties, 1), MQLITE_OK);
    CHECK_RC(mqlite_properties_set_message_expiry_interval(properties, 300), MQLITE_OK);
    CHECK_RC(mqlite_properties_set_content_type(properties, "text/plain"), MQLITE_OK);
    CHECK_RC(mqlite_properties_set_response_topic(properties, "v5/reply"), MQLITE_OK);
    CHECK_RC(mqlite_properties_set_correlation_data(properties, (const uint8_t *)"corr-1", 6),
             MQLITE_OK);
    CHECK_RC(mqlite_properties_add_user_property(properties, "unit", "celsius"), MQLITE_OK);
    CHECK_RC(mqlite_properties_add_user_property(properties, "sensor", "t1"), MQLITE_OK);
    /* Refusals leave it as it was. */
    CHECK_RC(mqlite_properties_set_response_topic(properties, "v5/+"), MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_properties_set_payload_format(properties, 7), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_properties_set_message_expiry_interval(properties, -5),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_properties_add_user_property(properties, NULL, "x"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_properties_set_correlation_data(properties, NULL, 4), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_publish_with(broker, "v5/retained", (const uint8_t *)"kept", 4, 1,
                                        true, properties),
             MQLITE_OK);
    CHECK_RC(mqlite_broker_publish_with(broker, "v5/#", NULL, 0, 0, false, properties),
             MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_broker_publish_with(NULL, "v5/x", NULL, 0, 0, false, properties),
             MQLITE_NULL_PARAMETER);
    mqlite_properties_free(properties);
    CHECK(S.local_count == 1 && S.hook_count == 1);
    for (int i = 0; i < 2; i++) {
        seen_message *m = i == 0 ? &S.local[0] : &S.hook[0];
        CHECK(m->ok);
        CHECK(strcmp(m->topic, "v5/retained") == 0 && strcmp(m->payload, "kept") == 0);
        CHECK(m->payload_format == 1);
        CHECK(strcmp(m->content_type, "text/plain") == 0);
        CHECK(strcmp(m->response_topic, "v5/reply") == 0);
        CHECK(strcmp(m->correlation, "corr-1") == 0);
        CHECK(strcmp(m->user_properties, "unit=celsius;sensor=t1;") == 0);
        CHECK(m->expiry_interval > 0 && m->expiry_interval <= 300);
    }
    CHECK(!S.hook[0].from_client);
    /* NULL properties: a plain publish, with none. */
    CHECK_RC(mqlite_broker_publish_with(broker, "v5/plain", (const uint8_t *)"p", 1, 0, false,
                                        NULL),
             MQLITE_OK);
    CHECK(S.local_count == 2);
    CHECK(S.local[1].ok && S.local[1].payload_format == 0 && S.local[1].expiry_interval == -1);
    CHECK(strcmp(S.local[1].content_type, "-") == 0 && strcmp(S.local[1].correlation, "-") == 0);
    CHECK(strcmp(S.local[1].user_properties, "") == 0);

    pthread_t runner;
    pthread_create(&runner, NULL, run_broker, broker);

    /* An MQTT 3.1.1 subscriber gets messages without properties (its
     * parser would misread them otherwise). */
    int code = -1;
    int old = mc_connect(port, "v311-sub", NULL, NULL, &code);
    CHECK(old >= 0 && code == 0);
    if (old >= 0) {
        CHECK(mc_subscribe(old, "v5/retained", 1) == 1);
        mc_message message;
        CHECK(mc_read_publish(old, 5000, &message) == 0);
        CHECK(strcmp(message.topic, "v5/retained") == 0 && message.retain);
        CHECK(message.payload_len == 4 && memcmp(message.payload, "kept", 4) == 0);
    }
    CHECK(wait_count(&S.subscribed, 1));
    pthread_mutex_lock(&S.lock);
    S.subscribed = 0;
    pthread_mutex_unlock(&S.lock);

    if (have_mosquitto()) mosquitto_part(port, broker);

    /* A rewrite with properties: the local subscription sees the
     * replacement's. */
    int local_before;
    pthread_mutex_lock(&S.lock);
    local_before = S.local_count;
    pthread_mutex_unlock(&S.lock);
    properties = mqlite_properties_new();
    CHECK_RC(mqlite_properties_set_response_topic(properties, "v5/back"), MQLITE_OK);
    CHECK_RC(mqlite_properties_add_user_property(properties, "dropped", "yes"), MQLITE_OK);
    CHECK_RC(mqlite_handle_publish_with(S.handle, "v5/rewrite", (const uint8_t *)"old", 3, 0,
                                        false, properties),
             MQLITE_OK);
    mqlite_properties_free(properties);
    CHECK(wait_count(&S.local_count, local_before + 1));
    pthread_mutex_lock(&S.lock);
    seen_message *rewritten = &S.local[local_before];
    CHECK(rewritten->ok);
    CHECK(strcmp(rewritten->topic, "v5/rewritten") == 0 && strcmp(rewritten->payload, "new") == 0);
    CHECK(strcmp(rewritten->content_type, "rewritten") == 0);
    CHECK(strcmp(rewritten->response_topic, "v5/back") == 0);
    CHECK(strcmp(rewritten->user_properties, "") == 0);
    pthread_mutex_unlock(&S.lock);

    /* Enhanced authentication: CONNECT (method, "hello") -> CONTINUE
     * ("challenge") -> AUTH ("response") -> ACCEPT_WITH_DATA ("welcome"). */
    int fd = v5_send_connect(port, "chal", NULL, "X-CHAL", "hello");
    CHECK(fd >= 0);
    v5_reply reply = v5_read(fd);
    CHECK(reply.kind == V5_AUTH && reply.reason == 0x18);
    CHECK(strcmp(reply.method, "X-CHAL") == 0 && strcmp(reply.data, "challenge") == 0);
    CHECK(v5_send_auth(fd, 0x18, "X-CHAL", "response") == 0);
    reply = v5_read(fd);
    CHECK(reply.kind == MC_CONNACK && reply.reason == 0x00);
    CHECK(strcmp(reply.method, "X-CHAL") == 0 && strcmp(reply.data, "welcome") == 0);
    /* The view the callback was given is refused now. */
    pthread_mutex_lock(&S.lock);
    const mqlite_connect_info *kept = S.kept_info;
    pthread_mutex_unlock(&S.lock);
    uint32_t step;
    CHECK_RC(mqlite_connect_info_auth_step(kept, &step), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_connect_info_set_reply_data(kept, (const uint8_t *)"x", 1),
             MQLITE_INVALID_ARGUMENT);

    /* Re-authentication (AUTH 0x19), left pending, completed from this
     * thread with final data: AUTH 0x00 ("renewed"). */
    CHECK(v5_send_auth(fd, 0x19, "X-CHAL", "again") == 0);
    uint64_t token = take_token();
    CHECK(token != 0);
    CHECK_RC(mqlite_handle_complete_auth_with_data(S.handle, token, MQLITE_AUTH_ACCEPT_WITH_DATA,
                                                   (const uint8_t *)"renewed", 7),
             MQLITE_OK);
    reply = v5_read(fd);
    CHECK(reply.kind == V5_AUTH && reply.reason == 0x00);
    CHECK(strcmp(reply.data, "renewed") == 0);
    /* Re-authentication again, refused with a chosen code: disconnected. */
    CHECK(v5_send_auth(fd, 0x19, "X-CHAL", "again") == 0);
    token = take_token();
    CHECK_RC(mqlite_handle_complete_auth_with_data(S.handle, token,
                                                   MQLITE_AUTH_REFUSE_REASON | 0x87, NULL, 0),
             MQLITE_OK);
    CHECK(mc_wait_closed(fd, 10000));
    if (fd >= 0) close(fd);

    /* A pending CONNECT, completed with CONTINUE and a challenge; the
     * client's answer comes to the callback as step 1. */
    fd = v5_send_connect(port, "later", NULL, "X-LATER", NULL);
    token = take_token();
    CHECK(token != 0);
    CHECK_RC(mqlite_handle_complete_auth_with_data(S.handle, token, MQLITE_AUTH_CONTINUE,
                                                   (const uint8_t *)"chal2", 5),
             MQLITE_OK);
    reply = v5_read(fd);
    CHECK(reply.kind == V5_AUTH && reply.reason == 0x18 && strcmp(reply.data, "chal2") == 0);
    CHECK(v5_send_auth(fd, 0x18, "X-LATER", "answer") == 0);
    reply = v5_read(fd);
    CHECK(reply.kind == MC_CONNACK && reply.reason == 0x00);
    if (fd >= 0) mc_disconnect(fd);

    /* Refusals with chosen reason codes. */
    fd = v5_send_connect(port, "who", NULL, "UNKNOWN", NULL);
    reply = v5_read(fd);
    CHECK(reply.kind == MC_CONNACK && reply.reason == 0x8C);
    if (fd >= 0) close(fd);
    fd = v5_send_connect(port, "b5", "banned", NULL, NULL);
    reply = v5_read(fd);
    CHECK(reply.kind == MC_CONNACK && reply.reason == 0x8A);
    if (fd >= 0) close(fd);
    CHECK(mc_connect(port, "b4", "banned", NULL, &code) < 0 && code == 5);
    /* A "refusal" with a success code, and CONTINUE without a method: not
     * decisions the broker can carry out; refused as not authorized. */
    fd = v5_send_connect(port, "odd", "odd", NULL, NULL);
    reply = v5_read(fd);
    CHECK(reply.kind == MC_CONNACK && reply.reason == 0x87);
    if (fd >= 0) close(fd);
    fd = v5_send_connect(port, "nm", "nomethod", NULL, NULL);
    reply = v5_read(fd);
    CHECK(reply.kind == MC_CONNACK && reply.reason == 0x87);
    if (fd >= 0) close(fd);

    pthread_mutex_lock(&S.lock);
    printf("auth calls: %s\n", S.auth_log);
    CHECK(strstr(S.auth_log, "chal:0:0:X-CHAL:hello;chal:1:0:X-CHAL:response;") != NULL);
    CHECK(strstr(S.auth_log, "chal:0:1:X-CHAL:again;chal:0:1:X-CHAL:again;") != NULL);
    CHECK(strstr(S.auth_log, "later:0:0:X-LATER:-;later:1:0:X-LATER:answer;") != NULL);
    CHECK(strstr(S.auth_log, "who:0:0:UNKNOWN:-;") != NULL);
    CHECK(strstr(S.connect_user_properties, "device=v5-client;") != NULL);
    CHECK(S.auth_protocol_ok);
    pthread_mutex_unlock(&S.lock);

    if (old >= 0) mc_disconnect(old);
    CHECK_RC(mqlite_handle_stop(S.handle), MQLITE_OK);
    pthread_join(runner, NULL);
    mqlite_handle_free(S.handle);
    mqlite_broker_free(broker);
    pthread_mutex_destroy(&S.lock);
    pthread_cond_destroy(&S.changed);
    return test_done("test_mqtt5");
}
