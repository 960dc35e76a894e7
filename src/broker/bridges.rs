//! Adding and removing bridges while the broker runs, and reading their
//! state.

use std::time::{Duration, Instant};

use super::{Broker, BrokerHandle};
use crate::core::BridgeStats;
use crate::reactor::Command;
use crate::{Bridge, Error};

impl Broker {
    /// Adds a bridge to an upstream broker (see [`Bridge`]); it connects at
    /// the next pass. Its local queue is the one kept in the persistence
    /// file under its name, if any (unless `local_clean_session`).
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid bridge, one whose name is taken, or
    /// one asking for what mqlite does not support yet (TLS).
    pub fn add_bridge(&mut self, bridge: Bridge) -> Result<(), Error> {
        let now = Instant::now();
        self.reactor.add_bridge(now, bridge)?;
        self.reactor.core_with_work();
        Ok(())
    }

    /// Removes the bridge `name`: its link closes and what it still had
    /// queued for the upstream is dropped. Also drops the queue kept in
    /// the store for a bridge no longer configured (restored at start,
    /// never added again; its messages go on queueing until then). False
    /// if there is neither.
    pub fn remove_bridge(&mut self, name: &str) -> bool {
        let removed = self.reactor.remove_bridge(Instant::now(), name);
        self.reactor.core_with_work();
        removed
    }

    /// Every bridge's state and counters.
    pub fn bridge_stats(&self) -> Vec<BridgeStats> {
        self.reactor.core().bridge_stats()
    }
}

impl BrokerHandle {
    /// [`Broker::add_bridge`] from any thread, waiting up to `timeout` for
    /// the broker thread.
    ///
    /// # Errors
    /// As for [`Broker::add_bridge`]; otherwise as for
    /// [`BrokerHandle::stats`].
    pub fn add_bridge(&self, bridge: Bridge, timeout: Duration) -> Result<(), Error> {
        if self.shared.busy_on_this_thread() {
            return Err(Error::OnBrokerThread);
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send(Command::AddBridge(Box::new(bridge), reply))?;
        answer.recv_timeout(timeout).map_err(|_| Error::Stopped)?
    }

    /// [`Broker::remove_bridge`] from any thread, waiting up to `timeout`.
    ///
    /// # Errors
    /// As for [`BrokerHandle::stats`].
    pub fn remove_bridge(&self, name: &str, timeout: Duration) -> Result<bool, Error> {
        if self.shared.busy_on_this_thread() {
            return Err(Error::OnBrokerThread);
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send(Command::RemoveBridge(name.to_string(), reply))?;
        answer.recv_timeout(timeout).map_err(|_| Error::Stopped)
    }

    /// [`Broker::bridge_stats`] from any thread, waiting up to `timeout`.
    ///
    /// # Errors
    /// As for [`BrokerHandle::stats`].
    pub fn bridge_stats(&self, timeout: Duration) -> Result<Vec<BridgeStats>, Error> {
        if self.shared.busy_on_this_thread() {
            return Err(Error::OnBrokerThread);
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send(Command::BridgeStats(reply))?;
        answer.recv_timeout(timeout).map_err(|_| Error::Stopped)
    }
}
