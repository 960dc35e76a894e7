/*
 * Listeners through the C API (mqlite_listener, docs/LISTENERS.md), with
 * real clients on the wire:
 *
 * - a TLS listener, with certificates made by this test with the openssl
 *   command-line tool (a CA, a server and a client certificate, in a
 *   temporary directory; no key is kept): mosquitto_pub --cafile connects,
 *   a client trusting another CA does not, and mosquitto_pub --cert/--key
 *   shows its certificate's subject and Common Name to the auth callback
 *   (mqlite_connect_info_certificate_subject/_common_name);
 * - a Unix socket listener (mosquitto_pub --unix), with its file mode, its
 *   clients' transport and peer, and the file removed at the stop;
 * - a WebSocket listener, with a hand-written upgrade and masked frames;
 * - the listener number in the auth and ACL callbacks
 *   (mqlite_connect_info_listener, mqlite_client_info_listener) and the
 *   custom listeners' ports (mqlite_broker_custom_port);
 * - reload (mqlite_broker_reload between passes, mqlite_handle_reload from
 *   another thread): a renewed server certificate taken for new
 *   connections, an unusable key refused with MQLITE_LISTENER_FAILED and
 *   nothing changed, and the refusals from a callback;
 * - per-listener settings on a broker without callbacks: a password file,
 *   anonymous clients refused, an ACL file and max_connections of one
 *   listener, while the plain listener keeps the broker-wide ones;
 * - the refusals: NULL, bad addresses and values, TLS options without a
 *   certificate, files that cannot be read (MQLITE_LISTENER_FAILED with a
 *   detail naming the listener and the file).
 *
 * openssl and mosquitto_pub (Debian's mosquitto-clients) must be on the
 * PATH; without them the test fails, unless MQLITE_SKIP_EXTERNAL=1, which
 * skips the parts that need them.
 */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "check.h"
#include "mini_client.h"

static char dir[64];

/* --- helpers ------------------------------------------------------------ */

/* Runs a shell command made with printf; true when it exits 0. */
static bool sh(const char *format, ...) {
    char command[4096];
    va_list args;
    va_start(args, format);
    vsnprintf(command, sizeof command, format, args);
    va_end(args);
    int status = system(command);
    return status == 0;
}

/* DIR/name in buf. */
static const char *in_dir(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", dir, name);
    return buf;
}

static bool have_tools(void) {
    if (sh("command -v openssl >/dev/null 2>&1 && command -v mosquitto_pub >/dev/null 2>&1"))
        return true;
    const char *skip = getenv("MQLITE_SKIP_EXTERNAL");
    if (skip && strcmp(skip, "1") == 0) {
        printf("note: openssl or mosquitto_pub not found; their parts skipped "
               "(MQLITE_SKIP_EXTERNAL=1)\n");
        return false;
    }
    fprintf(stderr, "openssl / mosquitto_pub not found in PATH: install openssl and Debian's "
                    "mosquitto-clients (scripts/test.sh does), or set MQLITE_SKIP_EXTERNAL=1\n");
    exit(2);
}

/* A CA (NAME-ca.pem), a server certificate for localhost and 127.0.0.1
 * (NAME-server.pem, .key) and a client certificate with the subject
 * CN=dev1,O=Acme (NAME-client.pem, .key), all P-256, valid two days. */
static bool make_pki(const char *name) {
    return sh("set -e; cd '%s'; N=%s; "
              "EC='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'; "
              "openssl req -x509 $EC -days 2 -subj \"/CN=mqlite test CA $N\" "
              "  -addext basicConstraints=critical,CA:TRUE "
              "  -addext keyUsage=critical,keyCertSign,cRLSign "
              "  -keyout $N-ca.key -out $N-ca.pem 2>/dev/null; "
              "openssl req -new $EC -subj /CN=localhost -keyout $N-server.key "
              "  -out $N-server.csr 2>/dev/null; "
              "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n"
              "keyUsage=critical,digitalSignature\\nextendedKeyUsage=serverAuth\\n' "
              "  >$N-server.ext; "
              "openssl x509 -req -in $N-server.csr -CA $N-ca.pem -CAkey $N-ca.key -set_serial 2 "
              "  -days 2 -extfile $N-server.ext -out $N-server.pem 2>/dev/null; "
              "openssl req -new $EC -subj /O=Acme/CN=dev1 -keyout $N-client.key "
              "  -out $N-client.csr 2>/dev/null; "
              "printf 'basicConstraints=CA:FALSE\\nkeyUsage=critical,digitalSignature\\n"
              "extendedKeyUsage=clientAuth\\n' >$N-client.ext; "
              "openssl x509 -req -in $N-client.csr -CA $N-ca.pem -CAkey $N-ca.key -set_serial 3 "
              "  -days 2 -extfile $N-client.ext -out $N-client.pem 2>/dev/null",
              dir, name);
}

/* The detail of this thread's last failure. */
static const char *last_error(void) {
    static char detail[512];
    detail[0] = '\0';
    mqlite_last_error_text(detail, sizeof detail);
    return detail;
}

/* mosquitto_pub, QoS 1 (so it returns after the PUBACK: the callbacks have
 * run), with `args` after the connection options. */
static bool publish(const char *connection, const char *client_id) {
    return sh("timeout 20 mosquitto_pub %s -i %s -t t/%s -m hello -q 1 2>/dev/null", connection,
              client_id, client_id);
}

/* --- what the callbacks saw --------------------------------------------- */

typedef struct {
    char client_id[64];
    size_t listener;        /* mqlite_connect_info_listener */
    size_t client_listener; /* mqlite_client_info_listener on the connect view */
    char subject[128];      /* "-" when absent */
    char common_name[64];   /* "-" when absent */
    char username[64];      /* "-" when absent */
    char peer[160];
    mqlite_transport transport;
    bool ok; /* every accessor answered as documented */
} seen_connect;

typedef struct {
    pthread_mutex_t lock;
    mqlite_handle *handle;
    mqlite_broker *broker;
    int connects;
    seen_connect connect[32];
    char acl_log[1024]; /* "client:listener;" per publish */
    mqlite_result reload_in_callback;
    mqlite_result broker_reload_in_callback;
    const mqlite_connect_info *kept;
} state;

static state S;

static void copy_span(char *out, size_t cap, const char *ptr, size_t len) {
    if (!ptr)
        snprintf(out, cap, "-");
    else
        snprintf(out, cap, "%.*s", (int)len, ptr);
}

static mqlite_auth_decision on_auth(void *userdata, const mqlite_connect_info *info) {
    state *s = userdata;
    pthread_mutex_lock(&s->lock);
    if (s->connects < 32) {
        seen_connect *c = &s->connect[s->connects++];
        memset(c, 0, sizeof *c);
        c->ok = true;
        copy_span(c->client_id, sizeof c->client_id, info->client_id, info->client_id_len);
        copy_span(c->username, sizeof c->username, info->username, info->username_len);
        copy_span(c->peer, sizeof c->peer, info->peer, info->peer_len);
        c->ok &= mqlite_connect_info_listener(info, &c->listener) == MQLITE_OK;
        const mqlite_client_info *client = NULL;
        c->ok &= mqlite_connect_info_client(info, &client) == MQLITE_OK;
        c->ok &= mqlite_client_info_listener(client, &c->client_listener) == MQLITE_OK;
        c->ok &= mqlite_client_info_transport(client, &c->transport) == MQLITE_OK;
        const char *text = (const char *)1;
        size_t len = 99;
        c->ok &= mqlite_connect_info_certificate_subject(info, &text, &len) == MQLITE_OK;
        c->ok &= text ? true : len == 0;
        copy_span(c->subject, sizeof c->subject, text, len);
        text = (const char *)1;
        c->ok &= mqlite_connect_info_certificate_common_name(info, &text, &len) == MQLITE_OK;
        c->ok &= text ? true : len == 0;
        copy_span(c->common_name, sizeof c->common_name, text, len);
        /* NULL out-parameters are refused. */
        c->ok &= mqlite_connect_info_listener(info, NULL) == MQLITE_NULL_PARAMETER;
        c->ok &= mqlite_connect_info_certificate_subject(info, NULL, &len) ==
                 MQLITE_NULL_PARAMETER;
        c->ok &= mqlite_connect_info_certificate_common_name(info, &text, NULL) ==
                 MQLITE_NULL_PARAMETER;
        if (strcmp(c->client_id, "reload-in-cb") == 0) {
            /* From a callback: the handle cannot wait for the broker, and
             * the broker is in use. */
            s->reload_in_callback = mqlite_handle_reload(s->handle, 1000);
            s->broker_reload_in_callback = mqlite_broker_reload(s->broker);
        }
        s->kept = info;
    }
    pthread_mutex_unlock(&s->lock);
    return MQLITE_AUTH_ACCEPT;
}

static bool on_acl(void *userdata, const mqlite_client_info *client, mqlite_acl_access access,
                   const char *topic, size_t topic_len) {
    state *s = userdata;
    (void)topic;
    (void)topic_len;
    if (access != MQLITE_ACL_PUBLISH) return true;
    size_t listener = 99;
    mqlite_result rc = mqlite_client_info_listener(client, &listener);
    pthread_mutex_lock(&s->lock);
    size_t used = strlen(s->acl_log);
    snprintf(s->acl_log + used, sizeof s->acl_log - used, "%.*s:%d;", (int)client->client_id_len,
             client->client_id, rc == MQLITE_OK ? (int)listener : -1);
    pthread_mutex_unlock(&s->lock);
    return true;
}

/* The last connect seen for `client_id` (a copy), or an empty one. */
static seen_connect find_connect(const char *client_id) {
    seen_connect found;
    memset(&found, 0, sizeof found);
    pthread_mutex_lock(&S.lock);
    for (int i = 0; i < S.connects; i++)
        if (strcmp(S.connect[i].client_id, client_id) == 0) found = S.connect[i];
    pthread_mutex_unlock(&S.lock);
    return found;
}

static void *run_broker(void *broker) {
    mqlite_result rc = mqlite_broker_run(broker);
    if (rc != MQLITE_OK) fprintf(stderr, "mqlite_broker_run: %u\n", (unsigned)rc);
    return NULL;
}

/* --- refusals ------------------------------------------------------------ */

static void refusals(bool external) {
    mqlite_listener *listener = (mqlite_listener *)1;
    CHECK_RC(mqlite_listener_new_tcp(NULL, &listener), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_new_tcp("localhost:1883", &listener), MQLITE_INVALID_ADDRESS);
    CHECK(strstr(last_error(), "localhost:1883") != NULL);
    CHECK_RC(mqlite_listener_new_tcp("\xff:1", &listener), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_listener_new_tcp("127.0.0.1:0", NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_new_unix(NULL, &listener), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_new_unix("", &listener), MQLITE_INVALID_ARGUMENT);
    CHECK(listener == (mqlite_listener *)1); /* untouched on error */
    mqlite_listener_free(NULL);

    /* Setters: NULL, values out of range, Unix settings on TCP. */
    CHECK_RC(mqlite_listener_set_websocket(NULL, true), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_tls(NULL, "c", "k"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_tls_min_version(NULL, MQLITE_TLS_VERSION_1_3),
             MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_password_file(NULL, NULL), MQLITE_NULL_PARAMETER);
    mqlite_listener *tcp = NULL;
    CHECK_RC(mqlite_listener_new_tcp("127.0.0.1:0", &tcp), MQLITE_OK);
    CHECK_RC(mqlite_listener_set_tls(tcp, "cert.pem", NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_tls(tcp, NULL, "key.pem"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_tls(tcp, NULL, NULL), MQLITE_OK);
    CHECK_RC(mqlite_listener_set_tls_min_version(tcp, 11), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_listener_set_allow_anonymous(tcp, 2), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_listener_set_unix_mode(tcp, 0600), MQLITE_INVALID_ARGUMENT);
    CHECK(strstr(last_error(), "Unix socket") != NULL);
    CHECK_RC(mqlite_listener_set_unix_owner(tcp, "root"), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_listener_set_unix_group(tcp, NULL), MQLITE_INVALID_ARGUMENT);
    mqlite_listener *unix_listener = NULL;
    CHECK_RC(mqlite_listener_new_unix("/tmp/x.sock", &unix_listener), MQLITE_OK);
    CHECK_RC(mqlite_listener_set_unix_mode(unix_listener, 010000), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_listener_set_unix_mode(unix_listener, -2), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_listener_set_unix_mode(unix_listener, -1), MQLITE_OK);
    CHECK_RC(mqlite_listener_set_unix_owner(unix_listener, "\xff"), MQLITE_INVALID_UTF8);
    mqlite_listener_free(unix_listener);

    /* TLS options without a certificate: refused when added. */
    mqlite_config *config = mqlite_config_new();
    CHECK_RC(mqlite_config_add_custom_listener(NULL, tcp), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_add_custom_listener(config, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_listener_set_tls_ca_file(tcp, "ca.pem"), MQLITE_OK);
    CHECK_RC(mqlite_config_add_custom_listener(config, tcp), MQLITE_INVALID_CONFIG);
    CHECK(strstr(last_error(), "mqlite_listener_set_tls") != NULL);

    /* require_certificate without CAs: refused by mqlite_broker_new. */
    CHECK_RC(mqlite_listener_set_tls_ca_file(tcp, NULL), MQLITE_OK);
    CHECK_RC(mqlite_listener_set_tls(tcp, "/nonexistent/cert.pem", "/nonexistent/key.pem"),
             MQLITE_OK);
    CHECK_RC(mqlite_listener_set_tls_require_certificate(tcp, true), MQLITE_OK);
    CHECK_RC(mqlite_config_add_custom_listener(config, tcp), MQLITE_OK);
    mqlite_broker *broker = (mqlite_broker *)1;
    CHECK_RC(mqlite_broker_new(config, &broker), MQLITE_INVALID_CONFIG);
    CHECK(strstr(last_error(), "require_certificate") != NULL);
    CHECK(broker == (mqlite_broker *)1);
    mqlite_config_free(config);

    /* A certificate that cannot be read: MQLITE_LISTENER_FAILED, naming
     * the listener and the file. */
    config = mqlite_config_new();
    CHECK_RC(mqlite_listener_set_tls_require_certificate(tcp, false), MQLITE_OK);
    CHECK_RC(mqlite_config_add_custom_listener(config, tcp), MQLITE_OK);
    CHECK_RC(mqlite_broker_new(config, &broker), MQLITE_LISTENER_FAILED);
    printf("missing certificate: %s\n", last_error());
    CHECK(strstr(last_error(), "mqtts://127.0.0.1:0") != NULL);
    CHECK(strstr(last_error(), "/nonexistent/cert.pem") != NULL);
    CHECK(strcmp(mqlite_result_text(MQLITE_LISTENER_FAILED), "unknown result code") != 0);
    mqlite_config_free(config);
    mqlite_listener_free(tcp);

    /* A Unix socket in a missing directory. */
    config = mqlite_config_new();
    CHECK_RC(mqlite_listener_new_unix("/nonexistent-dir/mqlite.sock", &unix_listener),
             MQLITE_OK);
    CHECK_RC(mqlite_config_add_custom_listener(config, unix_listener), MQLITE_OK);
    mqlite_listener_free(unix_listener);
    CHECK_RC(mqlite_broker_new(config, &broker), MQLITE_LISTENER_FAILED);
    CHECK(strstr(last_error(), "unix:/nonexistent-dir/mqlite.sock") != NULL);
    mqlite_config_free(config);

    /* With a key that is not the certificate's. */
    if (external) {
        char cert[128], key[128];
        config = mqlite_config_new();
        CHECK_RC(mqlite_listener_new_tcp("127.0.0.1:0", &tcp), MQLITE_OK);
        CHECK_RC(mqlite_listener_set_tls(tcp, in_dir(cert, sizeof cert, "a-server.pem"),
                                         in_dir(key, sizeof key, "a-client.key")),
                 MQLITE_OK);
        CHECK_RC(mqlite_config_add_custom_listener(config, tcp), MQLITE_OK);
        mqlite_listener_free(tcp);
        CHECK_RC(mqlite_broker_new(config, &broker), MQLITE_LISTENER_FAILED);
        printf("mismatched key: %s\n", last_error());
        mqlite_config_free(config);
    }

    /* The broker and handle functions refuse NULL. */
    uint16_t port = 7;
    CHECK_RC(mqlite_broker_custom_port(NULL, 0, &port), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_reload(NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_handle_reload(NULL, 10), MQLITE_NULL_PARAMETER);
    CHECK(port == 7);
    /* The accessors refuse what no callback was given. */
    mqlite_connect_info fake;
    memset(&fake, 0, sizeof fake);
    size_t index;
    const char *text;
    size_t len;
    CHECK_RC(mqlite_connect_info_listener(NULL, &index), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_connect_info_listener(&fake, &index), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_connect_info_certificate_subject(&fake, &text, &len),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_connect_info_certificate_common_name(&fake, &text, &len),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_client_info_listener(NULL, &index), MQLITE_NULL_PARAMETER);

    /* Only custom listeners: the default 127.0.0.1:1883 is not bound, and a
     * plain listener added later is listener 0 all the same. */
    config = mqlite_config_new();
    CHECK_RC(mqlite_config_set_sys_interval_s(config, 0), MQLITE_OK);
    CHECK_RC(mqlite_listener_new_tcp("127.0.0.1:0", &tcp), MQLITE_OK);
    CHECK_RC(mqlite_config_add_custom_listener(config, tcp), MQLITE_OK);
    CHECK_RC(mqlite_broker_new(config, &broker), MQLITE_OK);
    CHECK_RC(mqlite_broker_local_port(broker, 0, &port), MQLITE_NOT_FOUND);
    CHECK_RC(mqlite_broker_custom_port(broker, 0, &port), MQLITE_OK);
    CHECK(port != 0 && port != 1883);
    CHECK_RC(mqlite_broker_custom_port(broker, 1, &port), MQLITE_NOT_FOUND);
    CHECK_RC(mqlite_broker_custom_port(broker, 0, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_reload(broker), MQLITE_OK);
    mqlite_broker_free(broker);
    mqlite_config_free(config);
    mqlite_listener_free(tcp);
}

/* --- TLS, Unix socket, WebSocket, reload ----------------------------------- */

/* A WebSocket client: the upgrade, a masked CONNECT, the CONNACK frame. */
static void websocket_client(uint16_t port, const char *client_id) {
    int fd = mc_tcp_connect(port);
    CHECK(fd >= 0);
    if (fd < 0) return;
    const char *request = "GET /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
    CHECK(mc_write_all(fd, (const unsigned char *)request, strlen(request)) == 0);
    char response[1024] = "";
    size_t used = 0;
    while (used + 1 < sizeof response && !strstr(response, "\r\n\r\n")) {
        if (mc_read_exact(fd, (unsigned char *)response + used, 1, 5000) != 0) break;
        response[++used] = '\0';
    }
    CHECK(strncmp(response, "HTTP/1.1 101", 12) == 0);
    CHECK(strstr(response, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != NULL);
    CHECK(strstr(response, "Sec-WebSocket-Protocol: mqtt") != NULL ||
          strstr(response, "sec-websocket-protocol: mqtt") != NULL);
    /* CONNECT (MQTT 3.1.1, clean session), in one masked binary frame. */
    unsigned char packet[64];
    size_t id_len = strlen(client_id);
    size_t n = 0;
    packet[n++] = MC_CONNECT;
    packet[n++] = (unsigned char)(12 + id_len);
    n += mc_put_string(packet + n, "MQTT", 4);
    packet[n++] = 4;
    packet[n++] = 0x02;
    packet[n++] = 0;
    packet[n++] = 60;
    n += mc_put_string(packet + n, client_id, id_len);
    unsigned char frame[80];
    const unsigned char mask[4] = {0x11, 0x22, 0x33, 0x44};
    frame[0] = 0x82;
    frame[1] = (unsigned char)(0x80 | n);
    memcpy(frame + 2, mask, 4);
    for (size_t i = 0; i < n; i++) frame[6 + i] = packet[i] ^ mask[i % 4];
    CHECK(mc_write_all(fd, frame, 6 + n) == 0);
    unsigned char reply[6] = {0};
    CHECK(mc_read_exact(fd, reply, 6, 5000) == 0);
    CHECK(reply[0] == 0x82 && reply[1] == 4);
    CHECK(reply[2] == MC_CONNACK && reply[3] == 2 && reply[5] == 0);
    /* DISCONNECT, masked. */
    const unsigned char bye[] = {0x82, 0x82, 0, 0, 0, 0, MC_DISCONNECT, 0};
    CHECK(mc_write_all(fd, bye, sizeof bye) == 0);
    close(fd);
}

static void listeners_part(void) {
    char path[128], path2[128], sock[128], connection[512];
    /* The TLS listener's files, which a reload reads again. */
    CHECK(sh("cp '%s/a-server.pem' '%s/server.pem' && cp '%s/a-server.key' '%s/server.key'",
             dir, dir, dir, dir));
    in_dir(sock, sizeof sock, "mqlite.sock");

    mqlite_config *config = mqlite_config_new();
    CHECK_RC(mqlite_config_set_sys_interval_s(config, 0), MQLITE_OK);
    CHECK_RC(mqlite_config_add_listener(config, "127.0.0.1:0"), MQLITE_OK); /* listener 0 */
    /* 1: TLS, client certificates verified when given. */
    mqlite_listener *tls = NULL;
    CHECK_RC(mqlite_listener_new_tcp("127.0.0.1:0", &tls), MQLITE_OK);
    CHECK_RC(mqlite_listener_set_tls_ca_file(tls, in_dir(path, sizeof path, "a-ca.pem")),
             MQLITE_OK);
    CHECK_RC(mqlite_listener_set_tls_min_version(tls, MQLITE_TLS_VERSION_1_2), MQLITE_OK);
    CHECK_RC(mqlite_listener_set_tls(tls, in_dir(path, sizeof path, "server.pem"),
                                     in_dir(path2, sizeof path2, "server.key")),
             MQLITE_OK);
    CHECK_RC(mqlite_config_add_custom_listener(config, tls), MQLITE_OK);
    mqlite_listener_free(tls); /* the config has its copy */
    /* 2: a Unix socket, mode 0600. */
    mqlite_listener *unix_listener = NULL;
    CHECK_RC(mqlite_listener_new_unix(sock, &unix_listener), MQLITE_OK);
    CHECK_RC(mqlite_listener_set_unix_mode(unix_listener, 0600), MQLITE_OK);
    CHECK_RC(mqlite_config_add_custom_listener(config, unix_listener), MQLITE_OK);
    mqlite_listener_free(unix_listener);
    /* 3: WebSocket. */
    mqlite_listener *ws = NULL;
    CHECK_RC(mqlite_listener_new_tcp("127.0.0.1:0", &ws), MQLITE_OK);
    CHECK_RC(mqlite_listener_set_websocket(ws, true), MQLITE_OK);
    CHECK_RC(mqlite_config_add_custom_listener(config, ws), MQLITE_OK);
    mqlite_listener_free(ws);

    mqlite_broker *broker = NULL;
    CHECK_RC(mqlite_broker_new(config, &broker), MQLITE_OK);
    if (!broker) {
        fprintf(stderr, "mqlite_broker_new: %s\n", last_error());
        mqlite_config_free(config);
        return;
    }
    mqlite_config_free(config);
    uint16_t plain_port = 0, tls_port = 0, unix_port = 7, ws_port = 0, none = 7;
    CHECK_RC(mqlite_broker_local_port(broker, 0, &plain_port), MQLITE_OK);
    CHECK_RC(mqlite_broker_local_port(broker, 1, &none), MQLITE_NOT_FOUND);
    CHECK_RC(mqlite_broker_custom_port(broker, 0, &tls_port), MQLITE_OK);
    CHECK_RC(mqlite_broker_custom_port(broker, 1, &unix_port), MQLITE_OK);
    CHECK_RC(mqlite_broker_custom_port(broker, 2, &ws_port), MQLITE_OK);
    CHECK_RC(mqlite_broker_custom_port(broker, 3, &none), MQLITE_NOT_FOUND);
    CHECK(strstr(last_error(), "there are 3") != NULL);
    CHECK(plain_port && tls_port && ws_port && unix_port == 0 && none == 7);
    CHECK(tls_port != plain_port && ws_port != tls_port);
    /* The socket file exists from mqlite_broker_new on, with its mode. */
    struct stat st;
    CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
    /* Reload between passes, on this thread. */
    CHECK_RC(mqlite_broker_reload(broker), MQLITE_OK);

    S.broker = broker;
    CHECK_RC(mqlite_broker_handle(broker, &S.handle), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_auth_callback(broker, on_auth, &S), MQLITE_OK);
    CHECK_RC(mqlite_broker_set_acl_callback(broker, on_acl, &S), MQLITE_OK);
    pthread_t runner;
    pthread_create(&runner, NULL, run_broker, broker);

    /* TLS, server certificate only. */
    snprintf(connection, sizeof connection, "-h localhost -p %u --cafile '%s/a-ca.pem'",
             (unsigned)tls_port, dir);
    CHECK(publish(connection, "tls-anon"));
    seen_connect c = find_connect("tls-anon");
    CHECK(c.ok && c.listener == 1 && c.client_listener == 1);
    CHECK(c.transport == MQLITE_TRANSPORT_TCP);
    CHECK(strcmp(c.subject, "-") == 0 && strcmp(c.common_name, "-") == 0);
    /* With a client certificate: its subject and Common Name. */
    snprintf(connection, sizeof connection,
             "-h localhost -p %u --cafile '%s/a-ca.pem' --cert '%s/a-client.pem' "
             "--key '%s/a-client.key' -u someone",
             (unsigned)tls_port, dir, dir, dir);
    CHECK(publish(connection, "tls-cert"));
    c = find_connect("tls-cert");
    printf("certificate: subject %s, common name %s\n", c.subject, c.common_name);
    CHECK(c.ok && c.listener == 1);
    CHECK(strcmp(c.subject, "CN=dev1,O=Acme") == 0);
    CHECK(strcmp(c.common_name, "dev1") == 0);
    CHECK(strcmp(c.username, "someone") == 0); /* no use_identity_as_username */
    /* A client trusting another CA gives up. */
    snprintf(connection, sizeof connection, "-h localhost -p %u --cafile '%s/b-ca.pem'",
             (unsigned)tls_port, dir);
    CHECK(!publish(connection, "tls-other-ca"));
    /* Plain MQTT on the TLS listener does not get in. */
    int code = -1;
    int fd = mc_connect(tls_port, "plain-on-tls", NULL, NULL, &code);
    CHECK(fd < 0 && code == -1);
    if (fd >= 0) close(fd);

    /* Unix socket. */
    snprintf(connection, sizeof connection, "--unix '%s'", sock);
    CHECK(publish(connection, "unix-pub"));
    c = find_connect("unix-pub");
    CHECK(c.ok && c.listener == 2 && c.client_listener == 2);
    CHECK(c.transport == MQLITE_TRANSPORT_UNIX);
    char expected_peer[160];
    snprintf(expected_peer, sizeof expected_peer, "unix:%s", sock);
    CHECK(strcmp(c.peer, expected_peer) == 0);
    CHECK(strcmp(c.subject, "-") == 0);

    /* WebSocket. */
    websocket_client(ws_port, "ws-raw");
    c = find_connect("ws-raw");
    CHECK(c.ok && c.listener == 3 && c.client_listener == 3);
    CHECK(c.transport == MQLITE_TRANSPORT_TCP);

    /* Plain. */
    snprintf(connection, sizeof connection, "-h 127.0.0.1 -p %u", (unsigned)plain_port);
    CHECK(publish(connection, "plain-pub"));
    c = find_connect("plain-pub");
    CHECK(c.ok && c.listener == 0 && c.client_listener == 0);

    /* The ACL callback saw each publisher's listener. */
    pthread_mutex_lock(&S.lock);
    printf("acl: %s\n", S.acl_log);
    CHECK(strstr(S.acl_log, "tls-anon:1;") != NULL);
    CHECK(strstr(S.acl_log, "tls-cert:1;") != NULL);
    CHECK(strstr(S.acl_log, "unix-pub:2;") != NULL);
    CHECK(strstr(S.acl_log, "plain-pub:0;") != NULL);
    /* The view kept from a callback is refused now. */
    const mqlite_connect_info *kept = S.kept;
    pthread_mutex_unlock(&S.lock);
    size_t index;
    CHECK_RC(mqlite_connect_info_listener(kept, &index), MQLITE_INVALID_ARGUMENT);

    /* Reload from this thread: a renewed server certificate (from another
     * CA) serves new connections. */
    CHECK(sh("cp '%s/b-server.pem' '%s/server.pem' && cp '%s/b-server.key' '%s/server.key'", dir,
             dir, dir, dir));
    CHECK_RC(mqlite_handle_reload(S.handle, 10000), MQLITE_OK);
    snprintf(connection, sizeof connection, "-h localhost -p %u --cafile '%s/b-ca.pem'",
             (unsigned)tls_port, dir);
    CHECK(publish(connection, "tls-renewed"));
    snprintf(connection, sizeof connection, "-h localhost -p %u --cafile '%s/a-ca.pem'",
             (unsigned)tls_port, dir);
    CHECK(!publish(connection, "tls-old-ca"));
    /* A key that cannot be read: refused, naming it; nothing changes. */
    CHECK(sh("echo 'not a key' >'%s/server.key'", dir));
    CHECK_RC(mqlite_handle_reload(S.handle, 10000), MQLITE_LISTENER_FAILED);
    printf("bad key at reload: %s\n", last_error());
    CHECK(strstr(last_error(), "server.key") != NULL);
    CHECK(strstr(last_error(), "mqtts://127.0.0.1:") != NULL);
    snprintf(connection, sizeof connection, "-h localhost -p %u --cafile '%s/b-ca.pem'",
             (unsigned)tls_port, dir);
    CHECK(publish(connection, "tls-still"));

    /* From a callback, reload is refused at once. */
    snprintf(connection, sizeof connection, "-h 127.0.0.1 -p %u", (unsigned)plain_port);
    CHECK(publish(connection, "reload-in-cb"));
    pthread_mutex_lock(&S.lock);
    CHECK(S.reload_in_callback == MQLITE_ON_BROKER_THREAD);
    CHECK(S.broker_reload_in_callback == MQLITE_BUSY);
    pthread_mutex_unlock(&S.lock);

    CHECK_RC(mqlite_handle_stop(S.handle), MQLITE_OK);
    pthread_join(runner, NULL);
    /* The socket file goes with the stop. */
    CHECK(stat(sock, &st) != 0);
    CHECK_RC(mqlite_handle_reload(S.handle, 100), MQLITE_STOPPED);
    mqlite_handle_free(S.handle);
    S.handle = NULL;
    mqlite_broker_free(broker);
}

/* --- per-listener settings, without callbacks ------------------------------ */

static void per_listener_part(void) {
    char path[128];
    /* `hand` / `made by hand` (tests/fixtures/README.md), and an ACL
     * (mosquitto grants a SUBSCRIBE unless a deny line covers its filter,
     * docs/ACCESS.md). */
    CHECK(sh("printf '%%s\\n' 'hand:$6$bXFsaXRlLXNhbHQh$aYcTGw+miCOoGjnbJu1TacN4pCv9LXLEMN1ho9s1g"
             "cPsQETYOzX+XGSimCq8ka/6NSPrzPBacUk6ZTgtz2NAgQ==' >'%s/passwd' && "
             "printf 'topic readwrite allowed/#\\ntopic deny denied/#\\n' >'%s/acl'",
             dir, dir));
    mqlite_config *config = mqlite_config_new();
    CHECK_RC(mqlite_config_set_sys_interval_s(config, 0), MQLITE_OK);
    /* Custom listener 0 (listener 0: no plain one): its own password file. */
    mqlite_listener *listener = NULL;
    CHECK_RC(mqlite_listener_new_tcp("127.0.0.1:0", &listener), MQLITE_OK);
    CHECK_RC(mqlite_listener_set_password_file(listener, in_dir(path, sizeof path, "passwd")),
             MQLITE_OK);
    CHECK_RC(mqlite_config_add_custom_listener(config, listener), MQLITE_OK);
    /* Custom listener 1: the same object, changed after the copy: no
     * password file, an ACL file, one connection at most. */
    CHECK_RC(mqlite_listener_set_password_file(listener, NULL), MQLITE_OK);
    CHECK_RC(mqlite_listener_set_acl_file(listener, in_dir(path, sizeof path, "acl")),
             MQLITE_OK);
    CHECK_RC(mqlite_listener_set_max_connections(listener, 1), MQLITE_OK);
    CHECK_RC(mqlite_config_add_custom_listener(config, listener), MQLITE_OK);
    /* Custom listener 2: anonymous clients refused. */
    CHECK_RC(mqlite_listener_set_acl_file(listener, NULL), MQLITE_OK);
    CHECK_RC(mqlite_listener_set_max_connections(listener, 0), MQLITE_OK);
    CHECK_RC(mqlite_listener_set_allow_anonymous(listener, 0), MQLITE_OK);
    CHECK_RC(mqlite_config_add_custom_listener(config, listener), MQLITE_OK);
    mqlite_listener_free(listener);
    /* A plain listener, added last, is listener 0 all the same. */
    CHECK_RC(mqlite_config_add_listener(config, "127.0.0.1:0"), MQLITE_OK);
    mqlite_broker *broker = NULL;
    CHECK_RC(mqlite_broker_new(config, &broker), MQLITE_OK);
    mqlite_config_free(config);
    if (!broker) {
        fprintf(stderr, "mqlite_broker_new: %s\n", last_error());
        return;
    }
    uint16_t plain = 0, passwd = 0, acl = 0, closed = 0;
    CHECK_RC(mqlite_broker_local_port(broker, 0, &plain), MQLITE_OK);
    CHECK_RC(mqlite_broker_custom_port(broker, 0, &passwd), MQLITE_OK);
    CHECK_RC(mqlite_broker_custom_port(broker, 1, &acl), MQLITE_OK);
    CHECK_RC(mqlite_broker_custom_port(broker, 2, &closed), MQLITE_OK);
    mqlite_handle *handle = NULL;
    CHECK_RC(mqlite_broker_handle(broker, &handle), MQLITE_OK);
    pthread_t runner;
    pthread_create(&runner, NULL, run_broker, broker);

    int code = -1;
    /* The password file's listener: its users only. */
    int fd = mc_connect(passwd, "p-anon", NULL, NULL, &code);
    CHECK(fd < 0 && code == 5);
    fd = mc_connect(passwd, "p-wrong", "hand", "wrong", &code);
    CHECK(fd < 0 && (code == 4 || code == 5));
    fd = mc_connect(passwd, "p-hand", "hand", "made by hand", &code);
    CHECK(fd >= 0 && code == 0);
    if (fd >= 0) mc_disconnect(fd);
    /* Anonymous refused on listener 3, allowed on the plain one. */
    fd = mc_connect(closed, "c-anon", NULL, NULL, &code);
    CHECK(fd < 0 && code == 5);
    fd = mc_connect(plain, "plain-anon", NULL, NULL, &code);
    CHECK(fd >= 0 && code == 0);
    if (fd >= 0) {
        CHECK(mc_subscribe(fd, "denied/x", 0) == 0); /* no ACL here */
        mc_disconnect(fd);
    }
    /* The ACL file's listener: its topics only, one connection. */
    fd = mc_connect(acl, "a-1", NULL, NULL, &code);
    CHECK(fd >= 0 && code == 0);
    if (fd >= 0) {
        CHECK(mc_subscribe(fd, "allowed/x", 0) == 0);
        CHECK(mc_subscribe(fd, "denied/x", 0) == 0x80);
        int second = mc_connect(acl, "a-2", NULL, NULL, &code);
        CHECK(second < 0);
        if (second >= 0) close(second);
        mc_disconnect(fd);
        /* Its place is free again once the broker has seen the close. */
        int again = -1;
        for (int i = 0; i < 100 && again < 0; i++) {
            again = mc_connect(acl, "a-3", NULL, NULL, &code);
            if (again < 0) usleep(20000);
        }
        CHECK(again >= 0);
        if (again >= 0) mc_disconnect(again);
    }
    /* Reload reads the per-listener files again: a new user. */
    CHECK(sh("printf '%%s\\n' 'other:$6$bXFsaXRlLXNhbHQh$aYcTGw+miCOoGjnbJu1TacN4pCv9LXLEMN1ho9s1g"
             "cPsQETYOzX+XGSimCq8ka/6NSPrzPBacUk6ZTgtz2NAgQ==' >'%s/passwd'",
             dir));
    CHECK_RC(mqlite_handle_reload(handle, 10000), MQLITE_OK);
    fd = mc_connect(passwd, "p-hand2", "hand", "made by hand", &code);
    CHECK(fd < 0 && (code == 4 || code == 5));
    fd = mc_connect(passwd, "p-other", "other", "made by hand", &code);
    CHECK(fd >= 0 && code == 0);
    if (fd >= 0) mc_disconnect(fd);
    /* A password file that cannot be read: MQLITE_INVALID_CONFIG. */
    CHECK(sh("rm '%s/passwd'", dir));
    CHECK_RC(mqlite_handle_reload(handle, 10000), MQLITE_INVALID_CONFIG);
    CHECK(strstr(last_error(), "passwd") != NULL);

    CHECK_RC(mqlite_handle_stop(handle), MQLITE_OK);
    pthread_join(runner, NULL);
    mqlite_handle_free(handle);
    mqlite_broker_free(broker);
}

int main(void) {
    pthread_mutex_init(&S.lock, NULL);
    snprintf(dir, sizeof dir, "/tmp/mqlite-listeners-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    bool external = have_tools();
    if (external) {
        CHECK(make_pki("a"));
        CHECK(make_pki("b"));
    }
    refusals(external);
    if (external) listeners_part();
    per_listener_part();
    sh("rm -rf '%s'", dir);
    pthread_mutex_destroy(&S.lock);
    return test_done("test_listeners");
}
