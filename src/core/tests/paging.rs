//! Offline queues kept in the store: nothing of them in RAM while the
//! client is away, read back a page at a time, in order, on return.

use super::*;
use crate::core::paging::{RAM_QUEUE_BYTES, RAM_QUEUE_MESSAGES};
use crate::core::StoreBatch;
use crate::store::{MemoryStore, SessionStore, StoreOp, StoredMessage};

/// The store the simulator applies the core's operations to: the real
/// [`MemoryStore`], counting the pages it serves.
pub(super) struct ModelStore {
    pub(super) memory: MemoryStore,
    pub(super) pages_served: usize,
}

impl ModelStore {
    /// An empty store (on the process's clock, as the cores).
    fn new() -> ModelStore {
        ModelStore {
            memory: MemoryStore::new(),
            pages_served: 0,
        }
    }

    fn apply(&mut self, op: StoreOp) {
        self.memory.apply(&[op]).expect("a memory store applies");
    }

    fn load_queued(&mut self, request: &QueuePageRequest) -> Vec<StoredMessage> {
        self.pages_served += 1;
        self.memory
            .load_queued(
                &request.client_id,
                request.after_seq,
                request.max_messages,
                request.max_bytes,
            )
            .expect("a memory store reads")
    }
}

impl Sim {
    /// A simulator whose core records store operations into a model store.
    pub(super) fn persistent(config: Config) -> Sim {
        let mut sim = Sim::with_config(config);
        sim.core.enable_persistence();
        sim.store = Some(ModelStore::new());
        sim
    }

    /// The broker restarted `down` after now on the same store: a new
    /// core restored from what the store gives it then (expiry deadlines
    /// kept running meanwhile). Connections are gone.
    pub(super) fn restart(&mut self, config: Config, down: Duration) {
        self.save();
        let store = self.store.take().expect("a persistent simulator");
        let now = self.now + down;
        let snapshot = store.memory.snapshot();
        let mut core = Core::new(config, now);
        core.restore(now, snapshot);
        core.enable_persistence();
        self.core = core;
        self.now = now;
        self.store = Some(store);
        self.protocols.clear();
        self.connack_properties.clear();
    }

    /// What the reactor does before writing: apply the operations, serve
    /// the page requests, until neither is left.
    pub(super) fn save(&mut self) {
        let Some(store) = &mut self.store else {
            return;
        };
        let mut batch = StoreBatch::default();
        while self.core.poll_store(&mut batch) {
            for op in batch.ops.drain(..) {
                store.apply(op);
            }
            self.core.handle_store_applied(&batch);
            for request in &batch.pages {
                let page = store.load_queued(request);
                self.core.handle_queue_page(request, page);
            }
        }
    }

    pub(super) fn session(&self, client_id: &str) -> &session::Session {
        let key = self.core.sessions.key_of(client_id).expect("a session");
        self.core.sessions.get(key).expect("a session")
    }

    pub(super) fn session_mut(&mut self, client_id: &str) -> &mut session::Session {
        let key = self.core.sessions.key_of(client_id).expect("a session");
        self.core.sessions.get_mut(key).expect("a session")
    }

    /// Receives every publish on `id`, acknowledging each QoS 1 one.
    fn receive_and_ack(&mut self, id: ConnId) -> Vec<Vec<u8>> {
        let mut payloads = Vec::new();
        loop {
            let got = self.recv(id);
            if got.is_empty() {
                return payloads;
            }
            for g in got {
                if let Got::Publish {
                    payload, packet_id, ..
                } = g
                {
                    payloads.push(payload);
                    self.send(id, Packet::PubAck(crate::codec::Ack::new(packet_id)));
                }
            }
        }
    }
}

fn numbered(n: u32) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

#[test]
fn offline_queue_lives_in_the_store_and_comes_back_in_order() {
    let total = 3 * RAM_QUEUE_MESSAGES as u32 + 7;
    let mut sim = Sim::persistent(Config {
        max_queued_messages: 10_000,
        ..test_config()
    });
    let sub = sim.connect("dev", false);
    sim.subscribe(sub, "q", QoS::AtLeastOnce);
    // Two queued in RAM while online (window of 1 full), then offline.
    sim.session_mut("dev").window = 1;
    for n in 0..3 {
        sim.core
            .handle_host_publish(sim.now, "q", &numbered(n), QoS::AtLeastOnce, false)
            .unwrap();
    }
    assert_eq!(sim.session("dev").queue.len(), 2);
    sim.core.handle_closed(sim.now, sub);
    sim.reap();
    sim.save();
    assert!(sim.session("dev").queue.is_empty());
    for n in 3..total {
        sim.core
            .handle_host_publish(sim.now, "q", &numbered(n), QoS::AtLeastOnce, false)
            .unwrap();
    }
    sim.save();
    let session = sim.session("dev");
    assert!(session.queue.is_empty(), "nothing queued in RAM offline");
    assert_eq!(session.stored_only.messages, total as usize - 1);
    assert_eq!(session.inflight.len(), 1);

    sim.core.config.max_inflight = 20;
    let (back, got) = sim.connect_with(connect("dev", false));
    assert_eq!(got[0], Got::ConnAck(true, ReasonCode::SUCCESS));
    let mut payloads: Vec<Vec<u8>> = got[1..]
        .iter()
        .filter_map(|g| match g {
            Got::Publish { payload, .. } => Some(payload.clone()),
            _ => None,
        })
        .collect();
    let acks: Vec<u16> = got[1..]
        .iter()
        .filter_map(|g| match g {
            Got::Publish { packet_id, .. } => Some(*packet_id),
            _ => None,
        })
        .collect();
    for packet_id in acks {
        sim.send(back, Packet::PubAck(crate::codec::Ack::new(packet_id)));
    }
    payloads.extend(sim.receive_and_ack(back));
    let expected: Vec<Vec<u8>> = (0..total).map(numbered).collect();
    assert_eq!(payloads, expected);
    assert!(sim.store.as_ref().unwrap().pages_served >= 4);
    let session = sim.session("dev");
    assert_eq!(session.stored_only.messages, 0);
    assert_eq!(session.stored_only.bytes, 0);
    assert!(session.queue.is_empty());
}

#[test]
fn connected_slow_reader_keeps_only_a_page_in_ram() {
    let mut sim = Sim::persistent(Config {
        max_inflight: 20,
        max_queued_messages: 10_000,
        max_queued_bytes: usize::MAX,
        ..test_config()
    });
    let sub = sim.connect("dev", false);
    sim.subscribe(sub, "q", QoS::AtLeastOnce);
    let big = vec![7u8; 64 * 1024];
    // The window fills, then the queue: RAM keeps about RAM_QUEUE_BYTES.
    for _ in 0..100 {
        sim.core
            .handle_host_publish(sim.now, "q", &big, QoS::AtLeastOnce, false)
            .unwrap();
    }
    let session = sim.session("dev");
    assert!(session.queued_bytes <= RAM_QUEUE_BYTES);
    assert!(session.stored_only.messages > 0);
    assert_eq!(session.queued_messages() + session.inflight.len(), 100);
    // New messages go behind the stored ones, never ahead of them.
    sim.core
        .handle_host_publish(sim.now, "q", b"last", QoS::AtLeastOnce, false)
        .unwrap();
    let payloads = sim.receive_and_ack(sub);
    assert_eq!(payloads.len(), 101);
    assert_eq!(payloads.last().map(Vec::as_slice), Some(&b"last"[..]));
}

#[test]
fn a_stale_page_delivers_nothing_to_a_new_session() {
    let mut sim = Sim::persistent(test_config());
    let sub = sim.connect("dev", false);
    sim.subscribe(sub, "q", QoS::AtLeastOnce);
    sim.core.handle_closed(sim.now, sub);
    sim.reap();
    sim.core
        .handle_host_publish(sim.now, "q", b"x", QoS::AtLeastOnce, false)
        .unwrap();
    sim.save();
    // Reconnect without serving the page, then come back with clean
    // session: the old request's page must not reach the new session.
    let store = sim.store.take();
    let back = sim.accept();
    sim.send(back, Packet::Connect(Box::new(connect("dev", false))));
    let mut batch = StoreBatch::default();
    sim.core.poll_store(&mut batch);
    let requests = batch.pages;
    assert_eq!(requests.len(), 1);
    sim.core.handle_closed(sim.now, back);
    sim.reap();
    sim.store = store;
    // The page as the store had it then: one message.
    let page = sim
        .store
        .as_mut()
        .map(|store| store.load_queued(&requests[0]))
        .unwrap_or_default();
    assert_eq!(page.len(), 1);
    let (fresh, got) = sim.connect_with(connect("dev", true));
    assert_eq!(got, vec![Got::ConnAck(false, ReasonCode::SUCCESS)]);
    sim.subscribe(fresh, "q", QoS::AtLeastOnce);
    sim.core.handle_queue_page(&requests[0], page);
    assert!(sim.recv(fresh).is_empty());
}

/// The driver contract is enforced by the core: an acknowledgement whose
/// message is recorded for the store cannot be written until the driver
/// reports the operations applied; bytes that depend on nothing stored go
/// out at once.
#[test]
fn acknowledgements_wait_for_the_store() {
    let mut sim = Sim::persistent(test_config());
    let sub = sim.connect("dev", false);
    sim.subscribe(sub, "q", QoS::AtLeastOnce);
    let publisher = sim.connect("pub", true);
    sim.send(publisher, Packet::PingReq);
    assert_eq!(sim.core.output(publisher).as_ref(), &[0xD0, 0x00]);
    sim.core.handle_written(sim.now, publisher, 2);
    sim.publish(publisher, "q", b"kept", QoS::AtLeastOnce, false, 7);
    // PUBACK to the publisher and PUBLISH to the persistent subscriber:
    // both wait for the operations that store the message.
    assert!(sim.core.output(publisher).is_empty());
    assert!(sim.core.output(sub).is_empty());
    let mut slices = [std::io::IoSlice::new(&[]); 4];
    assert_eq!(sim.core.output_slices(publisher, &mut slices), 0);
    let mut batch = StoreBatch::default();
    assert!(sim.core.poll_store(&mut batch));
    assert!(batch
        .ops
        .iter()
        .any(|op| matches!(op, StoreOp::SessionMessageAdd { .. })));
    let mut dirty = Vec::new();
    sim.core.poll_dirty(&mut dirty);
    sim.core.handle_store_applied(&batch);
    sim.core.poll_dirty(&mut dirty);
    assert!(
        dirty.contains(&publisher) && dirty.contains(&sub),
        "{dirty:?}"
    );
    assert_eq!(sim.recv(publisher), vec![Got::PubAck(7)]);
    assert_eq!(sim.publishes(sub).len(), 1);
}
