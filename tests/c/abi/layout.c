/*
 * Prints the layout of every struct of the mqlite 0.1 header: the offset
 * and size of each 0.1 field, and the size of the structs that never grow.
 * run.sh builds it against the frozen 0.1 header and against the current
 * one and compares the two outputs: a field moved, resized or removed
 * breaks every program built against 0.1. (mqlite_stats may grow at its
 * end, so only its fields are compared, not its size.)
 */
#include <stddef.h>
#include <stdio.h>

#include "mqlite.h"

#define FIELD(type, field)                                                         \
    printf("%s.%s offset %zu size %zu\n", #type, #field, offsetof(type, field),    \
           sizeof(((type *)0)->field))
#define SIZE(type) printf("%s size %zu align %zu\n", #type, sizeof(type), _Alignof(type))

int main(void) {
    SIZE(mqlite_connect_info);
    FIELD(mqlite_connect_info, client_id);
    FIELD(mqlite_connect_info, client_id_len);
    FIELD(mqlite_connect_info, username);
    FIELD(mqlite_connect_info, username_len);
    FIELD(mqlite_connect_info, password);
    FIELD(mqlite_connect_info, password_len);
    FIELD(mqlite_connect_info, peer);
    FIELD(mqlite_connect_info, peer_len);
    FIELD(mqlite_connect_info, token);
    FIELD(mqlite_connect_info, protocol_level);
    FIELD(mqlite_connect_info, clean_session);

    SIZE(mqlite_client_info);
    FIELD(mqlite_client_info, client_id);
    FIELD(mqlite_client_info, client_id_len);
    FIELD(mqlite_client_info, username);
    FIELD(mqlite_client_info, username_len);
    FIELD(mqlite_client_info, peer);
    FIELD(mqlite_client_info, peer_len);

    SIZE(mqlite_message);
    FIELD(mqlite_message, topic);
    FIELD(mqlite_message, topic_len);
    FIELD(mqlite_message, payload);
    FIELD(mqlite_message, payload_len);
    FIELD(mqlite_message, qos);
    FIELD(mqlite_message, retain);

    SIZE(mqlite_event);
    FIELD(mqlite_event, kind);
    FIELD(mqlite_event, client);
    FIELD(mqlite_event, protocol_level);
    FIELD(mqlite_event, clean_session);
    FIELD(mqlite_event, session_present);
    FIELD(mqlite_event, qos);
    FIELD(mqlite_event, reason);
    FIELD(mqlite_event, filter);
    FIELD(mqlite_event, filter_len);

    FIELD(mqlite_stats, connections);
    FIELD(mqlite_stats, connections_total);
    FIELD(mqlite_stats, connections_refused);
    FIELD(mqlite_stats, clients_connected);
    FIELD(mqlite_stats, sessions);
    FIELD(mqlite_stats, subscriptions);
    FIELD(mqlite_stats, retained_messages);
    FIELD(mqlite_stats, messages_received);
    FIELD(mqlite_stats, messages_sent);
    FIELD(mqlite_stats, messages_dropped);
    FIELD(mqlite_stats, bytes_received);
    FIELD(mqlite_stats, bytes_sent);
    printf("mqlite_stats align %zu\n", _Alignof(mqlite_stats));
    return 0;
}
