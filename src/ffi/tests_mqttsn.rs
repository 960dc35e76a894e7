//! The MQTT-SN gateway's settings through the C API, from Rust: what the
//! setters build, the refusals, and the port accessor. The C side is
//! tests/c/test_mqttsn.c.

use std::ptr;
use std::time::Duration;

use super::broker::*;
use super::broker_listeners::*;
use super::config::*;
use super::config_mqttsn::*;
use super::result::*;
use crate::MqttSnGateway;

#[test]
fn the_setters_build_the_rust_gateway() {
    // SAFETY: NUL-terminated literals, a config made here and freed once.
    unsafe {
        let config = mqlite_config_new();
        assert_eq!((*config).config.mqttsn, None);
        assert_eq!(
            mqlite_config_set_mqttsn(config, c"127.0.0.1:0".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            (*config).config.mqttsn,
            Some(MqttSnGateway::on("127.0.0.1:0".parse().unwrap()))
        );
        assert_eq!(
            mqlite_config_add_mqttsn_address(config, c"[::1]:0".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(mqlite_config_set_mqttsn_gateway_id(config, 7), MQLITE_OK);
        assert_eq!(
            mqlite_config_set_mqttsn_advertise_interval_s(config, 60),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_config_add_mqttsn_advertise_to(config, c"224.0.0.1:1884".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_config_add_mqttsn_advertise_to(config, c"10.0.0.255:1884".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_config_add_mqttsn_predefined_topic(config, 1, c"a/b".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_config_set_mqttsn_credentials(config, c"sn".as_ptr(), c"pw".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(mqlite_config_set_mqttsn_retry(config, 2500, 2), MQLITE_OK);
        assert_eq!(
            mqlite_config_set_mqttsn_max_registered_topics(config, 50),
            MQLITE_OK
        );
        assert_eq!(mqlite_config_set_mqttsn_max_clients(config, 20), MQLITE_OK);
        let expected = MqttSnGateway {
            listen: vec!["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()],
            gateway_id: 7,
            advertise_interval: Some(Duration::from_secs(60)),
            advertise_to: vec![
                "224.0.0.1:1884".parse().unwrap(),
                "10.0.0.255:1884".parse().unwrap(),
            ],
            predefined_topics: vec![(1, "a/b".into())],
            username: Some("sn".into()),
            password: Some("pw".into()),
            retry_interval: Duration::from_millis(2500),
            max_retries: 2,
            max_registered_topics: 50,
            max_clients: 20,
        };
        assert_eq!((*config).config.mqttsn.as_ref(), Some(&expected));
        // Setting the address again replaces the listen addresses only;
        // 0 advertises nothing; NULL credentials are none.
        assert_eq!(
            mqlite_config_set_mqttsn(config, c"0.0.0.0:1884".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_config_set_mqttsn_advertise_interval_s(config, 0),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_config_set_mqttsn_credentials(config, ptr::null(), ptr::null()),
            MQLITE_OK
        );
        let gateway = (*config).config.mqttsn.clone().unwrap();
        assert_eq!(gateway.listen, vec!["0.0.0.0:1884".parse().unwrap()]);
        assert_eq!(gateway.advertise_interval, None);
        assert_eq!((gateway.username, gateway.password), (None, None));
        assert_eq!(gateway.gateway_id, 7);
        mqlite_config_free(config);
    }
}

#[test]
fn refusals_leave_the_config_as_it_was() {
    // SAFETY: as above; NULL where the test means it.
    unsafe {
        let config = mqlite_config_new();
        // Off: every setting is refused, naming the function to call.
        assert_eq!(
            mqlite_config_set_mqttsn_gateway_id(config, 2),
            MQLITE_INVALID_CONFIG
        );
        assert_eq!(
            mqlite_config_add_mqttsn_address(config, c"0.0.0.0:1".as_ptr()),
            MQLITE_INVALID_CONFIG
        );
        assert_eq!(
            mqlite_config_add_mqttsn_advertise_to(config, c"0.0.0.0:1".as_ptr()),
            MQLITE_INVALID_CONFIG
        );
        assert_eq!(
            mqlite_config_set_mqttsn_max_clients(config, 3),
            MQLITE_INVALID_CONFIG
        );
        let mut buf = [0 as std::ffi::c_char; 200];
        mqlite_last_error_text(buf.as_mut_ptr(), buf.len());
        let text = std::ffi::CStr::from_ptr(buf.as_ptr()).to_string_lossy();
        assert!(text.contains("mqlite_config_set_mqttsn()"), "{text}");
        assert_eq!(
            mqlite_config_set_mqttsn(config, c"localhost:1884".as_ptr()),
            MQLITE_INVALID_ADDRESS
        );
        assert_eq!(
            mqlite_config_set_mqttsn(config, ptr::null()),
            MQLITE_NULL_PARAMETER
        );
        assert_eq!(
            mqlite_config_set_mqttsn(ptr::null_mut(), c"0.0.0.0:1".as_ptr()),
            MQLITE_NULL_PARAMETER
        );
        assert_eq!((*config).config.mqttsn, None);

        assert_eq!(
            mqlite_config_set_mqttsn(config, c"127.0.0.1:0".as_ptr()),
            MQLITE_OK
        );
        let before = (*config).config.mqttsn.clone();
        assert_eq!(
            mqlite_config_add_mqttsn_address(config, c"1884".as_ptr()),
            MQLITE_INVALID_ADDRESS
        );
        assert_eq!(
            mqlite_config_add_mqttsn_advertise_to(config, ptr::null()),
            MQLITE_NULL_PARAMETER
        );
        assert_eq!(
            mqlite_config_set_mqttsn_advertise_interval_s(config, 65_536),
            MQLITE_INVALID_ARGUMENT
        );
        for id in [0, 0xFFFF] {
            assert_eq!(
                mqlite_config_add_mqttsn_predefined_topic(config, id, c"a".as_ptr()),
                MQLITE_INVALID_ARGUMENT
            );
        }
        assert_eq!(
            mqlite_config_add_mqttsn_predefined_topic(config, 3, c"a/#".as_ptr()),
            MQLITE_INVALID_TOPIC
        );
        assert_eq!(
            mqlite_config_add_mqttsn_predefined_topic(config, 3, ptr::null()),
            MQLITE_NULL_PARAMETER
        );
        assert_eq!(
            mqlite_config_set_mqttsn_credentials(config, ptr::null(), c"pw".as_ptr()),
            MQLITE_INVALID_ARGUMENT
        );
        assert_eq!(
            mqlite_config_set_mqttsn_credentials(config, c"\xff".as_ptr(), ptr::null()),
            MQLITE_INVALID_UTF8
        );
        assert_eq!(
            mqlite_config_set_mqttsn_retry(config, 0, 4),
            MQLITE_INVALID_ARGUMENT
        );
        assert_eq!(
            mqlite_config_set_mqttsn_max_clients(config, 0),
            MQLITE_INVALID_ARGUMENT
        );
        assert_eq!((*config).config.mqttsn, before);
        assert_eq!(
            mqlite_config_add_mqttsn_predefined_topic(config, 3, c"a".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_config_add_mqttsn_predefined_topic(config, 3, c"b".as_ptr()),
            MQLITE_INVALID_ARGUMENT
        );
        mqlite_config_free(config);
    }
}

#[test]
fn the_port_accessor_reads_the_gateways_addresses() {
    // SAFETY: as above.
    unsafe {
        let config = mqlite_config_new();
        assert_eq!(
            mqlite_config_add_listener(config, c"127.0.0.1:0".as_ptr()),
            MQLITE_OK
        );
        let mut broker = ptr::null_mut();
        assert_eq!(mqlite_broker_new(config, &mut broker), MQLITE_OK);
        let mut port = 7u16;
        // No gateway: nothing to read, and the out-parameter is untouched.
        assert_eq!(
            mqlite_broker_mqttsn_port(broker, 0, &mut port),
            MQLITE_NOT_FOUND
        );
        assert_eq!(port, 7);
        assert_eq!(
            mqlite_broker_mqttsn_port(ptr::null(), 0, &mut port),
            MQLITE_NULL_PARAMETER
        );
        mqlite_broker_free(broker);

        assert_eq!(
            mqlite_config_set_mqttsn(config, c"127.0.0.1:0".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(mqlite_broker_new(config, &mut broker), MQLITE_OK);
        let mut port = 0u16;
        let answer = mqlite_broker_mqttsn_port(broker, 0, &mut port);
        let bound = with_broker(broker, |broker| Ok(broker.mqttsn_addrs())).unwrap();
        if bound.is_empty() {
            // The gateway itself is not there yet: it binds nothing.
            assert_eq!(answer, MQLITE_NOT_FOUND);
        } else {
            assert_eq!(answer, MQLITE_OK);
            assert_ne!(port, 0);
            assert_eq!(port, bound[0].port());
        }
        assert_eq!(
            mqlite_broker_mqttsn_port(broker, 0, ptr::null_mut()),
            if bound.is_empty() {
                MQLITE_NOT_FOUND
            } else {
                MQLITE_NULL_PARAMETER
            }
        );
        mqlite_broker_free(broker);
        mqlite_config_free(config);
    }
}
