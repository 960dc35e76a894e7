//! The host publishing through the `BrokerHandle`: from four threads at
//! once (nothing lost, each thread's order kept, all counted), and in
//! batches with `publish_batch` (delivered in order, a batch with a bad
//! topic refused whole), small and large messages mixed with other
//! requests (the inbox copies small ones and passes large ones whole: the
//! order holds across both).
//!
//! A channel subscription receives. Every wait is bounded; no test asserts
//! on timing.

use crate::support;

use std::thread;

use mqlite::{Message, QoS};
use support::embedding::recv_local;
use support::{test_config, TestBroker, QUIET};

#[test]
fn handle_publish_from_four_threads_is_all_received() {
    const THREADS: usize = 4;
    const EACH: usize = 250;
    let broker = TestBroker::start_setup(test_config(), |_| {});
    let receiver = broker
        .handle
        .subscribe_channel("load/#", QoS::AtLeastOnce, 64)
        .unwrap();
    let before = broker.stats();

    let barrier = std::sync::Arc::new(std::sync::Barrier::new(THREADS));
    let publishers: Vec<_> = (0..THREADS)
        .map(|t| {
            let handle = broker.handle.clone();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                for i in 0..EACH {
                    handle
                        .publish(
                            &format!("load/{t}"),
                            i.to_string().as_bytes(),
                            QoS::AtLeastOnce,
                            false,
                        )
                        .unwrap();
                }
            })
        })
        .collect();

    let mut next = [0usize; THREADS];
    for _ in 0..THREADS * EACH {
        let got = recv_local(&receiver, "published message");
        let t: usize = got.topic["load/".len()..].parse().unwrap();
        assert_eq!(got.payload, next[t].to_string(), "order of thread {t}");
        next[t] += 1;
    }
    for publisher in publishers {
        publisher.join().unwrap();
    }
    assert_eq!(next, [EACH; THREADS]);
    assert!(receiver.try_recv().is_none());
    let after = broker.stats();
    assert_eq!(
        after.messages_received,
        before.messages_received + (THREADS * EACH) as u64
    );
    assert_eq!(after.messages_dropped, before.messages_dropped);
}

#[test]
fn publish_batch_delivers_in_order_and_refuses_a_bad_topic_whole() {
    let broker = TestBroker::start_setup(test_config(), |_| {});
    let receiver = broker
        .handle
        .subscribe_channel("batch/#", QoS::ExactlyOnce, 64)
        .unwrap();
    let message = |topic: &str, payload: &str, qos| {
        Message::new(topic, payload.as_bytes(), qos, false).unwrap()
    };
    // One bad topic: nothing of the batch goes out.
    let refused = broker.handle.publish_batch(vec![
        message("batch/a", "never", QoS::AtMostOnce),
        message("batch/+", "wildcard", QoS::AtMostOnce),
    ]);
    assert!(matches!(refused, Err(mqlite::Error::InvalidTopic(t)) if t == "batch/+"));
    broker.handle.publish_batch(Vec::new()).unwrap();
    let batch: Vec<Message> = (0..10)
        .map(|i| {
            message(
                &format!("batch/{}", i % 3),
                &format!("b{i}"),
                QoS::AtLeastOnce,
            )
        })
        .collect();
    broker.handle.publish_batch(batch).unwrap();
    for i in 0..10 {
        let got = recv_local(&receiver, "batched message");
        assert_eq!(
            (got.topic.as_str(), got.payload.as_str(), got.qos),
            (
                format!("batch/{}", i % 3).as_str(),
                format!("b{i}").as_str(),
                QoS::AtLeastOnce
            )
        );
    }
    assert!(
        receiver.recv_timeout(QUIET).is_none(),
        "the refused batch leaked"
    );
}

/// A payload of `len` bytes that says which message it is.
fn sized_payload(index: usize, len: usize) -> String {
    let head = format!("m{index}:");
    let mut payload = head.clone();
    payload.extend(std::iter::repeat_n('.', len.saturating_sub(head.len())));
    payload
}

#[test]
fn small_and_large_publishes_keep_their_order_with_other_requests() {
    let broker = TestBroker::start_setup(test_config(), |_| {});
    let (tx, rx) = std::sync::mpsc::channel();
    let subscription = broker
        .handle
        .subscribe_local("mix/#", QoS::AtLeastOnce, support::embedding::forward(tx))
        .unwrap();
    // Around the 4 KiB where the inbox stops copying, and far above it.
    let sizes = [0, 16, 4089, 4090, 4091, 70_000, 10, 300_000, 1];
    let mut expected = Vec::new();
    for (index, &len) in sizes.iter().enumerate() {
        let payload = sized_payload(index, len);
        broker
            .handle
            .publish("mix/one", payload.as_bytes(), QoS::AtLeastOnce, false)
            .unwrap();
        expected.push(("mix/one".to_string(), payload));
    }
    let batch: Vec<Message> = sizes
        .iter()
        .enumerate()
        .map(|(index, &len)| {
            let payload = sized_payload(index + sizes.len(), len);
            expected.push(("mix/batch".to_string(), payload.clone()));
            Message::new("mix/batch", payload.as_bytes(), QoS::AtMostOnce, false).unwrap()
        })
        .collect();
    broker.handle.publish_batch(batch).unwrap();
    // Sent after the publishes: handled after them, so all of them arrive
    // and the next one does not.
    broker.handle.unsubscribe_local(subscription).unwrap();
    broker
        .handle
        .publish("mix/one", b"after the unsubscribe", QoS::AtMostOnce, false)
        .unwrap();
    for (topic, payload) in &expected {
        let got = support::embedding::recv(&rx, "mixed message");
        assert_eq!(&got.topic, topic);
        assert!(
            got.payload == *payload,
            "{} bytes instead of {} ({topic})",
            got.payload.len(),
            payload.len()
        );
    }
    assert!(
        rx.recv_timeout(QUIET).is_err(),
        "delivered after the unsubscribe"
    );
}
