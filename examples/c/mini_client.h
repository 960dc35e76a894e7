/*
 * A tiny blocking MQTT 3.1.1 client over TCP or a Unix domain socket, just
 * enough for the examples and tests to check the broker from the outside:
 * CONNECT, SUBSCRIBE, PUBLISH (QoS 0 and 1), reading PUBLISH, DISCONNECT.
 * Header-only; every function is `static inline` so unused ones cost
 * nothing.
 *
 * Not a general client: one packet buffer per call, no retries, no
 * keepalive pings, fixed timeouts given by the caller.
 */
#ifndef MQLITE_MINI_CLIENT_H
#define MQLITE_MINI_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MC_CONNECT 0x10
#define MC_CONNACK 0x20
#define MC_PUBLISH 0x30
#define MC_PUBACK 0x40
#define MC_SUBSCRIBE 0x82
#define MC_SUBACK 0x90
#define MC_DISCONNECT 0xE0

/* A received PUBLISH, copied into fixed buffers. */
typedef struct {
    char topic[256];
    unsigned char payload[1024];
    size_t payload_len;
    int qos;
    int retain;
} mc_message;

/* Writes all of buf; 0 on success. */
static inline int mc_write_all(int fd, const unsigned char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads exactly len bytes, waiting up to timeout_ms for each chunk. 0 on
 * success, -1 on error or end of stream, -2 on timeout. */
static inline int mc_read_exact(int fd, unsigned char *buf, size_t len, int timeout_ms) {
    while (len > 0) {
        struct pollfd p;
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) return -2;
        if (r < 0) return -1;
        ssize_t n = recv(fd, buf, len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Appends the MQTT remaining length. Returns bytes written. */
static inline size_t mc_put_length(unsigned char *out, size_t value) {
    size_t n = 0;
    do {
        unsigned char byte = (unsigned char)(value % 128);
        value /= 128;
        if (value > 0) byte |= 0x80;
        out[n++] = byte;
    } while (value > 0);
    return n;
}

/* Appends a length-prefixed string. Returns bytes written. */
static inline size_t mc_put_string(unsigned char *out, const void *s, size_t len) {
    out[0] = (unsigned char)(len >> 8);
    out[1] = (unsigned char)(len & 0xff);
    memcpy(out + 2, s, len);
    return len + 2;
}

/* Sends a packet: first byte, then body of body_len bytes. */
static inline int mc_send_packet(int fd, unsigned char first, const unsigned char *body,
                                 size_t body_len) {
    unsigned char head[5];
    head[0] = first;
    size_t n = 1 + mc_put_length(head + 1, body_len);
    if (mc_write_all(fd, head, n) != 0) return -1;
    return body_len ? mc_write_all(fd, body, body_len) : 0;
}

/* Reads one packet into buf (cap bytes). Sets *first and *len. 0 on
 * success, -1 error/EOF, -2 timeout, -3 too big. */
static inline int mc_read_packet(int fd, int timeout_ms, unsigned char *first,
                                 unsigned char *buf, size_t cap, size_t *len) {
    int r = mc_read_exact(fd, first, 1, timeout_ms);
    if (r != 0) return r;
    size_t value = 0, multiplier = 1;
    for (int i = 0; i < 4; i++) {
        unsigned char byte;
        r = mc_read_exact(fd, &byte, 1, timeout_ms);
        if (r != 0) return r;
        value += (size_t)(byte & 0x7f) * multiplier;
        multiplier *= 128;
        if (!(byte & 0x80)) break;
    }
    if (value > cap) return -3;
    *len = value;
    return value ? mc_read_exact(fd, buf, value, timeout_ms) : 0;
}

/* Opens a TCP connection to 127.0.0.1:port. Returns the fd or -1. */
static inline int mc_tcp_connect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Opens a connection to the Unix domain socket at path. Returns the fd or
 * -1. */
static inline int mc_unix_connect(const char *path) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr.sun_path) return -1;
    memcpy(addr.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends CONNECT (clean session, keepalive 60 s) on an open connection fd;
 * username and password may be NULL. Returns fd and sets *connack_code (0
 * accepted, 4 bad credentials, 5 not authorized, ...), or returns -1. On a
 * refusal or an error fd is closed and -1 returned, with *connack_code set
 * when a CONNACK came. */
static inline int mc_connect_fd(int fd, const char *client_id, const char *username,
                                const char *password, int *connack_code) {
    *connack_code = -1;
    if (fd < 0) return -1;
    unsigned char body[1024];
    size_t n = 0;
    n += mc_put_string(body + n, "MQTT", 4);
    body[n++] = 4; /* MQTT 3.1.1 */
    unsigned char flags = 0x02;
    if (username) flags |= 0x80;
    if (password) flags |= 0x40;
    body[n++] = flags;
    body[n++] = 0;
    body[n++] = 60;
    n += mc_put_string(body + n, client_id, strlen(client_id));
    if (username) n += mc_put_string(body + n, username, strlen(username));
    if (password) n += mc_put_string(body + n, password, strlen(password));
    unsigned char first, reply[8];
    size_t len = 0;
    if (mc_send_packet(fd, MC_CONNECT, body, n) != 0 ||
        mc_read_packet(fd, 5000, &first, reply, sizeof reply, &len) != 0 ||
        first != MC_CONNACK || len != 2) {
        close(fd);
        return -1;
    }
    *connack_code = reply[1];
    if (reply[1] != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Connects to 127.0.0.1:port and sends CONNECT: mc_connect_fd() over TCP. */
static inline int mc_connect(uint16_t port, const char *client_id, const char *username,
                             const char *password, int *connack_code) {
    *connack_code = -1;
    int fd = mc_tcp_connect(port);
    if (fd < 0) return -1;
    return mc_connect_fd(fd, client_id, username, password, connack_code);
}

/* Subscribes to one filter; returns the SUBACK code (0-2 granted, 0x80
 * refused) or -1. PUBLISH packets arriving first are skipped. */
static inline int mc_subscribe(int fd, const char *filter, int qos) {
    unsigned char body[600];
    size_t n = 0;
    body[n++] = 0;
    body[n++] = 1; /* packet id 1 */
    n += mc_put_string(body + n, filter, strlen(filter));
    body[n++] = (unsigned char)qos;
    if (mc_send_packet(fd, MC_SUBSCRIBE, body, n) != 0) return -1;
    for (;;) {
        unsigned char first, reply[2048];
        size_t len = 0;
        if (mc_read_packet(fd, 5000, &first, reply, sizeof reply, &len) != 0) return -1;
        if ((first & 0xf0) == MC_SUBACK && len == 3) return reply[2];
    }
}

/* Publishes; QoS 1 waits for the PUBACK. 0 on success. */
static inline int mc_publish(int fd, const char *topic, const void *payload, size_t len,
                             int qos, int retain) {
    unsigned char body[2048];
    size_t topic_len = strlen(topic);
    if (topic_len + len + 4 > sizeof body) return -1;
    size_t n = mc_put_string(body, topic, topic_len);
    if (qos > 0) {
        body[n++] = 0;
        body[n++] = 7; /* packet id 7 */
    }
    memcpy(body + n, payload, len);
    n += len;
    unsigned char first = (unsigned char)(MC_PUBLISH | (qos << 1) | (retain ? 1 : 0));
    if (mc_send_packet(fd, first, body, n) != 0) return -1;
    if (qos == 1) {
        for (;;) {
            unsigned char kind, reply[2048];
            size_t rlen = 0;
            if (mc_read_packet(fd, 5000, &kind, reply, sizeof reply, &rlen) != 0) return -1;
            if ((kind & 0xf0) == MC_PUBACK) return 0;
        }
    }
    return 0;
}

/* Waits up to timeout_ms for a PUBLISH (acknowledging QoS 1). 0 on
 * success, -2 on timeout, -1 on error or end of stream. */
static inline int mc_read_publish(int fd, int timeout_ms, mc_message *out) {
    for (;;) {
        unsigned char first, body[2048];
        size_t len = 0;
        int r = mc_read_packet(fd, timeout_ms, &first, body, sizeof body, &len);
        if (r != 0) return r;
        if ((first & 0xf0) != MC_PUBLISH || len < 2) continue;
        size_t topic_len = ((size_t)body[0] << 8) | body[1];
        size_t at = 2 + topic_len;
        int qos = (first >> 1) & 3;
        if (at > len || topic_len >= sizeof out->topic) return -1;
        memcpy(out->topic, body + 2, topic_len);
        out->topic[topic_len] = '\0';
        if (qos > 0) {
            if (at + 2 > len) return -1;
            unsigned char ack[2];
            ack[0] = body[at];
            ack[1] = body[at + 1];
            at += 2;
            if (qos == 1 && mc_send_packet(fd, MC_PUBACK, ack, 2) != 0) return -1;
        }
        out->payload_len = len - at;
        if (out->payload_len > sizeof out->payload) return -1;
        memcpy(out->payload, body + at, out->payload_len);
        out->qos = qos;
        out->retain = first & 1;
        return 0;
    }
}

/* Sends DISCONNECT and closes. */
static inline void mc_disconnect(int fd) {
    mc_send_packet(fd, MC_DISCONNECT, NULL, 0);
    close(fd);
}

/* Whether the broker closed the connection within timeout_ms (reads and
 * discards what comes first). 1 closed, 0 still open. */
static inline int mc_wait_closed(int fd, int timeout_ms) {
    for (;;) {
        unsigned char first, body[2048];
        size_t len = 0;
        int r = mc_read_packet(fd, timeout_ms, &first, body, sizeof body, &len);
        if (r == -1) return 1;
        if (r == -2) return 0;
    }
}

#endif /* MQLITE_MINI_CLIENT_H */
