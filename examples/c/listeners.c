/*
 * listeners.c: one broker, several listeners, each with its own transport
 * and settings (mqlite_listener, docs/LISTENERS.md):
 *
 * - listener 0: plain MQTT on 127.0.0.1 (a free port), for devices;
 * - listener 1: a Unix domain socket, mode 0600, for local tools only;
 * - listener 2: MQTT over WebSocket on 127.0.0.1, for browsers, at most
 *   100 connections;
 * - with a certificate and key given (`./listeners server.pem server.key`):
 *   listener 3, MQTT over TLS, clients' certificates shown to the auth
 *   callback when they present one signed by the CA of the third argument
 *   (`./listeners server.pem server.key ca.pem`).
 *
 * The authentication callback tells which listener each client came in
 * on; a tool on the Unix socket subscribes to what a device publishes over
 * TCP. At the end the certificates and access files are reloaded through a
 * handle, as a host would on SIGHUP, and the broker stops.
 *
 * It checks its own behaviour with a small client and exits 0 when
 * everything happened as expected (it runs as a test).
 */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mqlite.h"
#include "mini_client.h"

static int failures = 0;
#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                            \
        }                                                                          \
    } while (0)

static const char *const NAMES[] = {"plain TCP", "Unix socket", "WebSocket", "TLS"};

/* Authentication: says where each client came from, lets everyone in. */
static mqlite_auth_decision on_auth(void *userdata, const mqlite_connect_info *info) {
    int *seen = userdata;
    size_t listener = 0;
    if (mqlite_connect_info_listener(info, &listener) != MQLITE_OK)
        return MQLITE_AUTH_NOT_AUTHORIZED;
    const char *subject = NULL;
    size_t subject_len = 0;
    mqlite_connect_info_certificate_subject(info, &subject, &subject_len);
    printf("client %.*s from %.*s on listener %zu (%s)%s%.*s\n", (int)info->client_id_len,
           info->client_id, (int)info->peer_len, info->peer, listener,
           listener < 4 ? NAMES[listener] : "?", subject ? ", certificate " : "",
           (int)subject_len, subject ? subject : "");
    if (listener < 4) seen[listener]++;
    return MQLITE_AUTH_ACCEPT;
}

static void *run(void *broker) {
    mqlite_broker_run(broker);
    return NULL;
}

/* Adds a listener to the config and frees it (the config keeps a copy). */
static void add(mqlite_config *config, mqlite_listener *listener) {
    CHECK(mqlite_config_add_custom_listener(config, listener) == MQLITE_OK);
    mqlite_listener_free(listener);
}

int main(int argc, char **argv) {
    char dir[] = "/tmp/mqlite-listeners-example-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char sock[128];
    snprintf(sock, sizeof sock, "%s/mqlite.sock", dir);

    mqlite_config *config = mqlite_config_new();
    mqlite_config_set_sys_interval_s(config, 0);
    mqlite_config_add_listener(config, "127.0.0.1:0"); /* listener 0 */
    mqlite_listener *listener = NULL;
    mqlite_listener_new_unix(sock, &listener); /* listener 1 */
    mqlite_listener_set_unix_mode(listener, 0600);
    add(config, listener);
    mqlite_listener_new_tcp("127.0.0.1:0", &listener); /* listener 2 */
    mqlite_listener_set_websocket(listener, true);
    mqlite_listener_set_max_connections(listener, 100);
    add(config, listener);
    if (argc >= 3) { /* listener 3 */
        mqlite_listener_new_tcp("127.0.0.1:0", &listener);
        mqlite_listener_set_tls(listener, argv[1], argv[2]);
        if (argc >= 4) mqlite_listener_set_tls_ca_file(listener, argv[3]);
        add(config, listener);
    }
    mqlite_broker *broker = NULL;
    mqlite_result rc = mqlite_broker_new(config, &broker);
    mqlite_config_free(config);
    if (rc != MQLITE_OK) {
        char detail[512];
        mqlite_last_error_text(detail, sizeof detail);
        fprintf(stderr, "%s: %s\n", mqlite_result_text(rc), detail);
        rmdir(dir);
        return 1;
    }

    uint16_t tcp_port = 0, ws_port = 0, tls_port = 0;
    mqlite_broker_local_port(broker, 0, &tcp_port);
    mqlite_broker_custom_port(broker, 1, &ws_port);
    printf("listening on mqtt://127.0.0.1:%u, unix:%s and ws://127.0.0.1:%u/mqtt\n",
           (unsigned)tcp_port, sock, (unsigned)ws_port);
    if (argc >= 3 && mqlite_broker_custom_port(broker, 2, &tls_port) == MQLITE_OK)
        printf("and mqtts://127.0.0.1:%u\n", (unsigned)tls_port);
    struct stat st;
    CHECK(stat(sock, &st) == 0 && (st.st_mode & 0777) == 0600);

    int seen[4] = {0};
    mqlite_broker_set_auth_callback(broker, on_auth, seen);
    mqlite_handle *handle = NULL;
    mqlite_broker_handle(broker, &handle);
    pthread_t thread;
    pthread_create(&thread, NULL, run, broker);

    /* A local tool subscribes over the Unix socket; a device publishes
     * over TCP. */
    int code = -1;
    int tool = mc_connect_fd(mc_unix_connect(sock), "local-tool", NULL, NULL, &code);
    CHECK(tool >= 0 && code == 0);
    int device = mc_connect(tcp_port, "device-7", NULL, NULL, &code);
    CHECK(device >= 0 && code == 0);
    if (tool >= 0 && device >= 0) {
        CHECK(mc_subscribe(tool, "devices/#", 1) == 1);
        CHECK(mc_publish(device, "devices/7/temperature", "21.5", 4, 1, 0) == 0);
        mc_message message;
        CHECK(mc_read_publish(tool, 5000, &message) == 0);
        printf("local tool received %s: %.*s\n", message.topic, (int)message.payload_len,
               (const char *)message.payload);
        CHECK(strcmp(message.topic, "devices/7/temperature") == 0);
    }
    if (device >= 0) mc_disconnect(device);
    if (tool >= 0) mc_disconnect(tool);
    CHECK(seen[0] == 1 && seen[1] == 1);

    /* What a host does on SIGHUP: certificates and access files again. */
    rc = mqlite_handle_reload(handle, 5000);
    printf("reload: %s\n", mqlite_result_text(rc));
    CHECK(rc == MQLITE_OK);

    mqlite_handle_stop(handle);
    pthread_join(thread, NULL);
    mqlite_handle_free(handle);
    mqlite_broker_free(broker);
    CHECK(stat(sock, &st) != 0); /* the socket file went with the stop */
    rmdir(dir);
    if (failures) {
        fprintf(stderr, "listeners: %d check(s) failed\n", failures);
        return 1;
    }
    printf("listeners: ok\n");
    return 0;
}
