//! The connections' sockets: reading MQTT bytes into the core, writing
//! its output, flushing the transports' layers, and handing closed
//! sockets to [`Lingering`](super::lingering::Lingering).

use std::io::{self, IoSlice};
use std::time::Instant;

use super::transport::Transport;
use super::{Reactor, READ_BUDGET, WRITE_SLICES};
use crate::core::{ConnId, Core};
use crate::Error;

impl Reactor {
    /// Reads one socket until `WouldBlock`, end-of-file, or its budget;
    /// unless `to_the_end`, a short read also ends it (the socket is then
    /// drained, and later bytes raise a new edge). When the bytes read fill
    /// some connection's output past half its limit, everything is saved
    /// and written at once instead of at the end of the pass.
    pub(super) fn read(&mut self, now: Instant, id: ConnId, to_the_end: bool) -> Result<(), Error> {
        let mut total = 0;
        loop {
            if !self.core.is_open(id) {
                return Ok(());
            }
            let Some(Some(socket)) = self.sockets.get_mut(id.0) else {
                return Ok(());
            };
            if total >= READ_BUDGET {
                self.read_backlog.push(id);
                return Ok(());
            }
            let result = socket.read(&mut self.read_buf);
            let plain = socket.is_plain();
            if let Some(certificate) = socket.take_certificate() {
                // Before the bytes that follow the handshake.
                self.core.handle_client_certificate(id, certificate);
            }
            match result {
                Ok(0) => {
                    self.core.handle_closed(now, id);
                    return Ok(());
                }
                Ok(n) => {
                    total += n;
                    self.core.handle_read(now, id, &self.read_buf[..n]);
                    if self.core.has_local_deliveries() {
                        self.locals.dispatch(&mut self.core);
                    }
                    if self.core.poll_output_pressure() {
                        self.flush(now)?;
                    }
                    // A short read drained the socket: bytes arriving later
                    // raise a new edge, so the `WouldBlock` read that would
                    // follow is a wasted system call. Not so under TLS or
                    // WebSocket, whose layers may hold what they read.
                    if n < self.read_buf.len() && !to_the_end && plain {
                        return Ok(());
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.log_transport_error(id, "read", &error);
                    self.core.handle_closed(now, id);
                    return Ok(());
                }
            }
        }
    }
    /// Sends what a connection's transport layers hold (handshake records,
    /// an upgrade answer, pongs).
    pub(super) fn flush_transport(&mut self, now: Instant, id: ConnId) {
        let Some(Some(socket)) = self.sockets.get_mut(id.0) else {
            return;
        };
        match socket.flush() {
            Ok(()) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(error) => {
                self.log_transport_error(id, "write", &error);
                self.core.handle_closed(now, id);
            }
        }
    }
    /// Says at `-v` why a connection's transport failed: a TLS alert, a
    /// refused upgrade, a bad frame name what was wrong.
    pub(super) fn log_transport_error(&self, id: ConnId, what: &str, error: &io::Error) {
        let peer = self
            .core
            .conn_peer(id)
            .map_or_else(|| "?".to_string(), |p| p.to_string());
        if error.kind() == io::ErrorKind::InvalidData {
            log::info!("connection from {peer} closed: {error}");
        } else {
            log::debug!("{what} error from {peer}: {error}");
        }
    }
    pub(super) fn write(&mut self, now: Instant, id: ConnId) {
        if let Some(gateway) = &mut self.mqttsn {
            if gateway.write(now, &mut self.core, id) {
                return;
            }
        }
        loop {
            let Some(Some(socket)) = self.sockets.get_mut(id.0) else {
                return;
            };
            let Some(result) = write_output(socket, &self.core, id) else {
                return;
            };
            match result {
                Ok(0) => {
                    self.core.handle_closed(now, id);
                    return;
                }
                // Room made for queued messages may record them as sent:
                // the core holds their bytes until that is saved, so the
                // loop ends at what may go out now.
                Ok(n) => self.core.handle_written(now, id, n),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.log_transport_error(id, "write", &error);
                    self.core.handle_closed(now, id);
                    return;
                }
            }
        }
    }
    /// Hands a socket the core closed to [`Lingering`], after one last try
    /// at its output.
    pub(super) fn close_socket(&mut self, id: ConnId) {
        if let Some(gateway) = &mut self.mqttsn {
            if gateway.release(self.pass_time, &mut self.core, id) {
                self.core.handle_released(id);
                return;
            }
        }
        if let Some(slot) = self.sockets.get_mut(id.0) {
            if let Some(mut socket) = slot.take() {
                let _ = write_output(&mut socket, &self.core, id);
                if let Some(stream) = socket.close() {
                    self.lingering.add(
                        self.poll.registry(),
                        stream,
                        self.pass_time,
                        &mut self.read_buf,
                    );
                }
            }
        }
        self.core.handle_released(id);
    }
}

/// Writes what `core` holds for `id` to `socket` in one system call (a
/// `writev` when large payloads are spliced in); `None` when there is
/// nothing to write.
fn write_output(socket: &mut Transport, core: &Core, id: ConnId) -> Option<io::Result<usize>> {
    let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
    let count = core.output_slices(id, &mut slices);
    match &slices[..count] {
        [] => None,
        some => Some(socket.write_vectored(some)),
    }
}
