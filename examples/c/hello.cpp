// hello.cpp: mqlite from C++, with RAII owners for the C objects.
//
// Makes a broker on a free port, subscribes locally with a lambda, publishes
// through a handle, drives the broker with run_once until the message has
// arrived, stops it, and exits 0 if the message came through intact (it
// runs as a test).
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "mqlite.h"

namespace {

struct ConfigFree {
    void operator()(mqlite_config *config) const { mqlite_config_free(config); }
};
struct BrokerFree {
    void operator()(mqlite_broker *broker) const { mqlite_broker_free(broker); }
};
struct HandleFree {
    void operator()(mqlite_handle *handle) const { mqlite_handle_free(handle); }
};

using Config = std::unique_ptr<mqlite_config, ConfigFree>;
using Broker = std::unique_ptr<mqlite_broker, BrokerFree>;
using Handle = std::unique_ptr<mqlite_handle, HandleFree>;

// Turns an error code into an exception carrying the library's words.
void check(mqlite_result rc, const char *what) {
    if (rc != MQLITE_OK) {
        char detail[256] = "";
        mqlite_last_error_text(detail, sizeof detail);
        throw std::runtime_error(std::string(what) + ": " + mqlite_result_text(rc) + " (" +
                                 detail + ")");
    }
}

}  // namespace

int main() {
    try {
        Config config(mqlite_config_new());
        check(mqlite_config_add_listener(config.get(), "127.0.0.1:0"), "add_listener");

        mqlite_broker *raw = nullptr;
        check(mqlite_broker_new(config.get(), &raw), "broker_new");
        Broker broker(raw);

        mqlite_handle *raw_handle = nullptr;
        check(mqlite_broker_handle(broker.get(), &raw_handle), "handle");
        Handle handle(raw_handle);

        // A capture-less lambda converts to the C function pointer; the
        // state travels through userdata.
        std::vector<std::string> received;
        uint64_t subscription = 0;
        check(mqlite_broker_subscribe_local(
                  broker.get(), "hello/#", 0,
                  [](void *userdata, const mqlite_message *message) {
                      auto *out = static_cast<std::vector<std::string> *>(userdata);
                      out->emplace_back(reinterpret_cast<const char *>(message->payload),
                                        message->payload_len);
                  },
                  &received, &subscription),
              "subscribe_local");

        const std::string text = "hello from C++";
        check(mqlite_handle_publish(handle.get(), "hello/world",
                                    reinterpret_cast<const uint8_t *>(text.data()), text.size(),
                                    0, false),
              "publish");

        bool running = true;
        for (int pass = 0; pass < 100 && received.empty(); pass++) {
            check(mqlite_broker_run_once(broker.get(), 10, &running), "run_once");
        }
        check(mqlite_handle_stop(handle.get()), "stop");
        while (running) check(mqlite_broker_run_once(broker.get(), -1, &running), "run_once");

        if (received.size() != 1 || received[0] != text) {
            std::fprintf(stderr, "hello: expected one \"%s\", got %zu message(s)\n",
                         text.c_str(), received.size());
            return 1;
        }
        std::printf("hello: ok (mqlite %s, header %s)\n", mqlite_version(), MQLITE_VERSION);
        return 0;
    } catch (const std::exception &error) {
        std::fprintf(stderr, "hello: %s\n", error.what());
        return 1;
    }
}
