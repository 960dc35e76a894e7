//! The other steps: the clock and timers, writing output as a reactor
//! would, closing and releasing connections, publishing from the host.

use std::time::Duration;

use mqlite::codec::ReasonCode;
use mqlite::topic::is_valid_topic_name;
use mqlite::CloseReason;

use super::client_model::{Client, Phase};
use super::{Script, CLIENT_IDS, CONNECT_TIMEOUT, TOPICS};

impl Script<'_> {
    pub(super) fn advance_clock(&mut self, run_timers: bool) {
        let b = self.input.byte();
        let deadline = self.core.next_deadline();
        let step = match b % 6 {
            0 => Duration::from_millis(u64::from(b)),
            1 => Duration::from_millis(u64::from(self.input.u16())),
            2 => Duration::from_secs(u64::from(b / 6)),
            3 | 4 => match deadline {
                // Exactly to the next deadline, or just before it.
                Some(at) => at
                    .saturating_duration_since(self.now)
                    .saturating_sub(Duration::from_millis(u64::from(b % 6 == 4))),
                None => Duration::from_secs(1),
            },
            _ => Duration::from_secs(u64::from(self.input.u16())),
        };
        self.now += step;
        if !run_timers {
            return;
        }
        let now = self.now;
        self.core.handle_timeout(now);
        self.timed_out = true;
        let allow_timeout = |c: &Client| match c.phase {
            Phase::AwaitingConnect => now >= c.accepted_at + CONNECT_TIMEOUT,
            Phase::Connected => {
                c.keep_alive > 0
                    && now
                        >= c.last_packet_at + Duration::from_millis(u64::from(c.keep_alive) * 1500)
            }
            Phase::Closed => false,
        };
        for client in &mut self.clients {
            if allow_timeout(client) {
                client.close_with(ReasonCode::KEEP_ALIVE_TIMEOUT);
            }
        }
    }

    /// What a reactor does after a pass: write each dirty connection's
    /// output, all or part of it.
    pub(super) fn reactor_pass(&mut self) {
        let mut dirty = std::mem::take(&mut self.scratch);
        self.core.poll_dirty(&mut dirty);
        for id in &dirty {
            if let Some(client) = self.clients.iter_mut().find(|c| c.id == *id) {
                client.write_pending = true;
            }
        }
        // No lost wake-up: whatever has output is known to the driver.
        for client in &self.clients {
            if client.open() && !self.core.output(client.id).is_empty() {
                assert!(
                    client.write_pending,
                    "{:?} has {} bytes of output but was never listed dirty",
                    client.id,
                    self.core.output(client.id).len()
                );
            }
        }
        for id in &dirty {
            let Some(i) = self.clients.iter().position(|c| c.id == *id) else {
                continue;
            };
            let b = self.input.byte();
            let amount = match b % 4 {
                0 | 1 => usize::MAX,
                2 => usize::from(b),
                _ => 0,
            };
            self.consume(i, amount);
        }
        self.scratch = dirty;
    }

    /// Reports `amount` bytes of client `i`'s output written.
    pub(super) fn consume(&mut self, i: usize, amount: usize) {
        // What is about to be written must have been parsed.
        self.parse_output(i);
        let id = self.clients[i].id;
        let pending = self.core.output(id).len();
        // What the driver writes (slices, large payloads spliced from their
        // message) is the same byte stream as the contiguous view.
        let mut slices = [std::io::IoSlice::new(&[]); 8];
        let count = self.core.output_slices(id, &mut slices);
        let mut joined = Vec::new();
        for slice in &slices[..count] {
            joined.extend_from_slice(slice);
        }
        let whole = self.core.output(id);
        assert!(
            whole.starts_with(&joined),
            "output slices differ from the output"
        );
        if count < slices.len() {
            assert_eq!(joined.len(), whole.len(), "output slices stop short");
        }
        let written = amount.min(pending);
        self.core.handle_written(self.now, id, written);
        let client = &mut self.clients[i];
        client.consumed += written;
        if written == pending {
            client.write_pending = false;
        }
    }

    pub(super) fn close_something(&mut self) {
        let b = self.input.byte();
        match b % 4 {
            0 | 1 => {
                if let Some(i) = self.pick() {
                    let id = self.clients[i].id;
                    if b & 3 == 0 {
                        self.core.handle_closed(self.now, id);
                        self.clients[i].close();
                    } else {
                        self.core
                            .close_connection(self.now, id, CloseReason::ProtocolError);
                        self.clients[i].close_with(ReasonCode::PROTOCOL_ERROR);
                    }
                }
            }
            2 => {
                let client_id = self.input.word(&CLIENT_IDS);
                let kicked = self.core.handle_kick(self.now, &client_id);
                let mut expected = false;
                for client in &mut self.clients {
                    if client.phase == Phase::Connected
                        && client.client_id.as_deref() == Some(client_id.as_str())
                    {
                        client.close_with(ReasonCode::ADMINISTRATIVE_ACTION);
                        expected = true;
                    }
                }
                assert_eq!(kicked, expected, "kick({client_id:?})");
            }
            _ => {
                // Releasing an open connection is ignored.
                if let Some(i) = self.pick() {
                    if self.clients[i].open() {
                        let id = self.clients[i].id;
                        self.core.handle_released(id);
                    }
                }
            }
        }
    }

    /// `take_closing` then `release`, as a reactor does.
    pub(super) fn release_closing(&mut self, all: bool) {
        let mut closing = std::mem::take(&mut self.scratch);
        self.core.poll_closing(&mut closing);
        for id in &closing {
            let client = self
                .clients
                .iter_mut()
                .find(|c| c.id == *id)
                .unwrap_or_else(|| panic!("take_closing listed unknown {id:?}"));
            assert!(!client.open(), "take_closing listed open {id:?}");
            assert!(!client.closing_listed, "take_closing listed {id:?} twice");
            client.closing_listed = true;
        }
        let release = all || self.input.byte() & 3 != 0;
        if release {
            for client in &self.clients {
                if client.closing_listed {
                    self.core.handle_released(client.id);
                    assert!(self.core.output(client.id).is_empty());
                }
            }
            self.clients.retain(|c| !c.closing_listed);
        }
        self.scratch = closing;
        if all {
            assert!(
                self.clients.is_empty(),
                "connections closed but never listed by take_closing"
            );
        }
    }

    pub(super) fn host_publish(&mut self) {
        let topic = self.input.word(&TOPICS);
        let payload = self.input.payload();
        let payload = &payload[..payload.len().min(2048)];
        let qos = self.input.qos();
        let retain = self.input.flag();
        let result = self
            .core
            .handle_host_publish(self.now, &topic, payload, qos, retain);
        assert_eq!(
            result.is_ok(),
            is_valid_topic_name(&topic),
            "host publish to {topic:?}: {result:?}"
        );
    }

    pub(super) fn misc(&mut self) {
        let b = self.input.byte();
        match b % 8 {
            0 => {
                if b == 0 {
                    self.core.handle_shutdown(self.now);
                    for client in &mut self.clients {
                        client.close_with(ReasonCode::SERVER_SHUTTING_DOWN);
                    }
                }
            }
            _ => {
                if let Some(i) = self.pick() {
                    self.core.mark_dirty(self.clients[i].id);
                }
            }
        }
    }
}
