/*
 * Built by CMake against an installed mqlite (CMakeLists.txt beside it):
 * checks that the package's version, the header's and the library's agree,
 * then takes one message through a broker and prints it.
 */
#include <stdio.h>
#include <string.h>

#include "mqlite.h"

static int received = 0;

static void on_message(void *userdata, const mqlite_message *message) {
    (void)userdata;
    printf("cmake-package (%s): received %.*s = %.*s\n", MQLITE_VARIANT, (int)message->topic_len,
           message->topic, (int)message->payload_len, (const char *)message->payload);
    received++;
}

int main(void) {
    printf("cmake-package (%s): find_package gave %s, header %s, library %s\n", MQLITE_VARIANT,
           MQLITE_CMAKE_VERSION, MQLITE_VERSION, mqlite_version());
    if (strcmp(MQLITE_CMAKE_VERSION, MQLITE_VERSION) != 0 ||
        strcmp(MQLITE_VERSION, mqlite_version()) != 0) {
        fprintf(stderr, "cmake-package: the versions differ\n");
        return 1;
    }
    mqlite_config *config = mqlite_config_new();
    mqlite_broker *broker = NULL;
    if (!config || mqlite_config_add_listener(config, "127.0.0.1:0") != MQLITE_OK ||
        mqlite_broker_new(config, &broker) != MQLITE_OK) {
        char detail[256] = "";
        mqlite_last_error_text(detail, sizeof detail);
        fprintf(stderr, "cmake-package: no broker: %s\n", detail);
        mqlite_config_free(config);
        return 1;
    }
    mqlite_config_free(config);
    uint64_t subscription = 0;
    mqlite_result rc =
        mqlite_broker_subscribe_local(broker, "cmake/#", 1, on_message, NULL, &subscription);
    if (rc == MQLITE_OK)
        rc = mqlite_broker_publish(broker, "cmake/hello", (const uint8_t *)"found", 5, 1, false);
    bool running = true;
    for (int pass = 0; rc == MQLITE_OK && running && received == 0 && pass < 50; pass++)
        rc = mqlite_broker_run_once(broker, 100, &running);
    mqlite_broker_free(broker);
    if (rc != MQLITE_OK || received != 1) {
        fprintf(stderr, "cmake-package: %s, %d message(s)\n", mqlite_result_text(rc), received);
        return 1;
    }
    return 0;
}
