/*
 * The MQTT-SN gateway's settings from C: every setter's answer, the
 * refusals (gateway off, bad addresses, reserved topic ids, out-of-range
 * values, NULL), and the bound UDP port read back after asking for port 0.
 */
#include "check.h"

static const char BAD_UTF8[] = {'u', (char)0xff, 0};

static void off_until_set(void) {
    mqlite_config *config = mqlite_config_new();
    CHECK(config != NULL);
    /* Off: settings are refused, naming the call that turns it on. */
    CHECK_RC(mqlite_config_set_mqttsn_gateway_id(config, 3), MQLITE_INVALID_CONFIG);
    char detail[256] = "";
    mqlite_last_error_text(detail, sizeof detail);
    CHECK(strstr(detail, "mqlite_config_set_mqttsn()") != NULL);
    CHECK_RC(mqlite_config_add_mqttsn_address(config, "0.0.0.0:1884"), MQLITE_INVALID_CONFIG);
    CHECK_RC(mqlite_config_set_mqttsn_advertise_interval_s(config, 10), MQLITE_INVALID_CONFIG);
    CHECK_RC(mqlite_config_add_mqttsn_advertise_to(config, "224.0.0.1:1884"),
             MQLITE_INVALID_CONFIG);
    CHECK_RC(mqlite_config_add_mqttsn_predefined_topic(config, 1, "a"), MQLITE_INVALID_CONFIG);
    CHECK_RC(mqlite_config_set_mqttsn_credentials(config, "u", "p"), MQLITE_INVALID_CONFIG);
    CHECK_RC(mqlite_config_set_mqttsn_retry(config, 1000, 3), MQLITE_INVALID_CONFIG);
    CHECK_RC(mqlite_config_set_mqttsn_max_registered_topics(config, 10), MQLITE_INVALID_CONFIG);
    CHECK_RC(mqlite_config_set_mqttsn_max_clients(config, 10), MQLITE_INVALID_CONFIG);
    /* Turning it on refuses what is not IP:PORT, and NULL. */
    CHECK_RC(mqlite_config_set_mqttsn(NULL, "0.0.0.0:1884"), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_mqttsn(config, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_mqttsn(config, "localhost:1884"), MQLITE_INVALID_ADDRESS);
    CHECK_RC(mqlite_config_set_mqttsn(config, "1884"), MQLITE_INVALID_ADDRESS);
    CHECK_RC(mqlite_config_set_mqttsn(config, BAD_UTF8), MQLITE_INVALID_UTF8);
    /* Still off: a broker from it has no gateway. */
    CHECK_RC(mqlite_config_add_listener(config, "127.0.0.1:0"), MQLITE_OK);
    mqlite_broker *broker = NULL;
    CHECK_RC(mqlite_broker_new(config, &broker), MQLITE_OK);
    uint16_t port = 77;
    CHECK_RC(mqlite_broker_mqttsn_port(broker, 0, &port), MQLITE_NOT_FOUND);
    CHECK(port == 77);
    CHECK_RC(mqlite_broker_mqttsn_port(NULL, 0, &port), MQLITE_NULL_PARAMETER);
    mqlite_broker_free(broker);
    mqlite_config_free(config);
}

static void setters_and_refusals(void) {
    mqlite_config *config = mqlite_config_new();
    CHECK_RC(mqlite_config_add_listener(config, "127.0.0.1:0"), MQLITE_OK);
    CHECK_RC(mqlite_config_set_sys_interval_s(config, 0), MQLITE_OK);
    CHECK_RC(mqlite_config_set_mqttsn(config, "127.0.0.1:0"), MQLITE_OK);
    CHECK_RC(mqlite_config_add_mqttsn_address(config, "[::1]:0"), MQLITE_OK);
    CHECK_RC(mqlite_config_add_mqttsn_address(config, "nowhere"), MQLITE_INVALID_ADDRESS);
    CHECK_RC(mqlite_config_add_mqttsn_address(config, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_mqttsn_gateway_id(config, 42), MQLITE_OK);
    CHECK_RC(mqlite_config_set_mqttsn_gateway_id(NULL, 42), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_set_mqttsn_advertise_interval_s(config, 65535), MQLITE_OK);
    CHECK_RC(mqlite_config_set_mqttsn_advertise_interval_s(config, 65536),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_config_set_mqttsn_advertise_interval_s(config, 0), MQLITE_OK);
    CHECK_RC(mqlite_config_add_mqttsn_advertise_to(config, "127.0.0.1:1884"), MQLITE_OK);
    CHECK_RC(mqlite_config_add_mqttsn_advertise_to(config, "broadcast"), MQLITE_INVALID_ADDRESS);
    CHECK_RC(mqlite_config_add_mqttsn_predefined_topic(config, 1, "sensors/temp"), MQLITE_OK);
    CHECK_RC(mqlite_config_add_mqttsn_predefined_topic(config, 2, "sensors/hum"), MQLITE_OK);
    CHECK_RC(mqlite_config_add_mqttsn_predefined_topic(config, 2, "again"),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_config_add_mqttsn_predefined_topic(config, 0, "a"), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_config_add_mqttsn_predefined_topic(config, 0xFFFF, "a"),
             MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_config_add_mqttsn_predefined_topic(config, 3, "a/+"), MQLITE_INVALID_TOPIC);
    CHECK_RC(mqlite_config_add_mqttsn_predefined_topic(config, 3, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_config_add_mqttsn_predefined_topic(config, 3, BAD_UTF8), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_config_set_mqttsn_credentials(config, NULL, "p"), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_config_set_mqttsn_credentials(config, BAD_UTF8, NULL), MQLITE_INVALID_UTF8);
    CHECK_RC(mqlite_config_set_mqttsn_credentials(config, "sn", "secret"), MQLITE_OK);
    CHECK_RC(mqlite_config_set_mqttsn_credentials(config, NULL, NULL), MQLITE_OK);
    CHECK_RC(mqlite_config_set_mqttsn_retry(config, 0, 3), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_config_set_mqttsn_retry(config, 2000, 0), MQLITE_OK);
    CHECK_RC(mqlite_config_set_mqttsn_max_registered_topics(config, 0), MQLITE_OK);
    CHECK_RC(mqlite_config_set_mqttsn_max_registered_topics(config, 100), MQLITE_OK);
    CHECK_RC(mqlite_config_set_mqttsn_max_clients(config, 0), MQLITE_INVALID_ARGUMENT);
    CHECK_RC(mqlite_config_set_mqttsn_max_clients(config, 50), MQLITE_OK);

    mqlite_broker *broker = NULL;
    mqlite_result made = mqlite_broker_new(config, &broker);
    mqlite_config_free(config);
    if (made != MQLITE_OK) {
        char detail[256] = "";
        mqlite_last_error_text(detail, sizeof detail);
        fprintf(stderr, "mqlite_broker_new: %s\n", detail);
        check_failures++;
        return;
    }
    uint16_t port = 0;
    /* Both addresses bound, on ports of their own. */
    CHECK_RC(mqlite_broker_mqttsn_port(broker, 0, &port), MQLITE_OK);
    CHECK(port != 0);
    CHECK_RC(mqlite_broker_mqttsn_port(broker, 1, &port), MQLITE_OK);
    CHECK(port != 0);
    CHECK_RC(mqlite_broker_mqttsn_port(broker, 0, NULL), MQLITE_NULL_PARAMETER);
    CHECK_RC(mqlite_broker_mqttsn_port(broker, 2, &port), MQLITE_NOT_FOUND);
    mqlite_broker_free(broker);
}

int main(void) {
    off_until_set();
    setters_and_refusals();
    return test_done("test_mqttsn");
}
