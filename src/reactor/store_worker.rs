//! The store's own thread: where the core's store operations are applied,
//! so that the reactor goes on reading and routing while a commit waits
//! for the disk.
//!
//! A commit with `synchronous = FULL` waits for an fsync, a quarter of a
//! millisecond on a good disk and much more on a busy one. Done on the
//! reactor thread, that wait stops every connection, QoS 0 and clean
//! sessions included, once per pass. Here the reactor hands each pass's
//! [`StoreBatch`] over and goes on; the thread applies it and wakes the
//! reactor, which then reports it applied to the core, and only then
//! writes the acknowledgements the core held back for it (see
//! `core::store_log`): the guarantee that nothing is acknowledged before it
//! is on disk does not depend on when the store runs. Batches that queue
//! up while a commit waits are applied together, with one commit.
//!
//! A batch that asks for queue pages ends a group: its pages are read
//! right after its own operations, before any later batch's.
//!
//! The batches travel back to the reactor with their operations, which the
//! reactor drops and reuses: what one thread allocated is freed by the same
//! thread.

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::inbox::Shared;
use crate::core::{Core, StoreBatch};
use crate::store::{SessionStore, StoredMessage};
use crate::Error;

/// At most this many batches share one commit.
const MAX_GROUP: usize = 64;

/// The reactor's end of the store thread.
pub(super) struct StoreWorker {
    jobs: Option<Sender<StoreBatch>>,
    done: Receiver<Applied>,
    thread: Option<JoinHandle<()>>,
    /// Batches handed over and not yet back.
    outstanding: usize,
    /// How many of them ask for queue pages.
    paging: usize,
    /// Emptied batches, for reuse.
    spare: Vec<StoreBatch>,
}

/// A batch back from the store thread, with the pages it asked for.
struct Applied {
    batch: StoreBatch,
    pages: Result<Vec<Vec<StoredMessage>>, Error>,
}

impl StoreWorker {
    /// Starts the thread, which owns `store` from now on; it wakes the
    /// reactor through `shared` whenever batches come back.
    pub(super) fn start(
        store: Box<dyn SessionStore + Send>,
        shared: Arc<Shared>,
    ) -> Result<StoreWorker, Error> {
        let (jobs, job_rx) = crossbeam_channel::unbounded();
        let (done_tx, done) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("mqlite-store".into())
            .spawn(move || run(store, &job_rx, &done_tx, &shared))?;
        Ok(StoreWorker {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
            outstanding: 0,
            paging: 0,
            spare: Vec::new(),
        })
    }

    /// Hands the core's recorded store work to the thread, and reports to
    /// the core what came back applied (releasing the output held for it,
    /// and handing it the pages it asked for); until the core has nothing
    /// new. With `wait`, also waits until the thread has nothing left.
    ///
    /// # Errors
    /// What the store failed with: the broker must stop.
    pub(super) fn exchange(&mut self, core: &mut Core, wait: bool) -> Result<(), Error> {
        loop {
            loop {
                let mut batch = self.spare.pop().unwrap_or_default();
                if !core.poll_store(&mut batch) {
                    self.spare.push(batch);
                    break;
                }
                self.hand_over(batch)?;
            }
            // A page is waited for, as if the core read it itself: the
            // client whose queue it is gets its messages in this pass.
            let waiting = wait || self.paging > 0;
            if waiting && self.outstanding > 0 {
                let applied = self.done.recv().map_err(|_| gone())?;
                self.report(core, applied)?;
            }
            let mut received = false;
            while let Ok(applied) = self.done.try_recv() {
                self.report(core, applied)?;
                received = true;
            }
            if !received && (!waiting || self.outstanding == 0) && !core.has_store_work() {
                return Ok(());
            }
        }
    }

    fn hand_over(&mut self, batch: StoreBatch) -> Result<(), Error> {
        let jobs = self.jobs.as_ref().ok_or_else(gone)?;
        self.paging += usize::from(!batch.pages.is_empty());
        jobs.send(batch).map_err(|_| gone())?;
        self.outstanding += 1;
        Ok(())
    }

    fn report(&mut self, core: &mut Core, applied: Applied) -> Result<(), Error> {
        self.outstanding -= 1;
        self.paging -= usize::from(!applied.batch.pages.is_empty());
        let pages = applied.pages?;
        let batch = applied.batch;
        core.handle_store_applied(&batch);
        for (request, page) in batch.pages.iter().zip(pages) {
            core.handle_queue_page(request, page);
        }
        self.spare.push(batch);
        Ok(())
    }
}

/// The store thread has gone: it only ends when its channel closes, so it
/// panicked.
fn gone() -> Error {
    Error::Store {
        path: "(store thread)".to_string(),
        reason: "the store's thread stopped unexpectedly".to_string(),
    }
}

impl Drop for StoreWorker {
    /// Lets the thread apply what it still has, then closes the store.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                log::error!("the store's thread panicked");
            }
        }
    }
}

/// The store thread: applies groups of batches until the reactor's end
/// closes. After a failure it applies nothing more, answering every batch
/// with the error.
fn run(
    mut store: Box<dyn SessionStore + Send>,
    jobs: &Receiver<StoreBatch>,
    done: &Sender<Applied>,
    shared: &Shared,
) {
    // `Error` is not `Clone`: a failure is kept as the store error it is.
    let mut failed: Option<(String, String)> = None;
    let mut group: Vec<StoreBatch> = Vec::new();
    while let Ok(first) = jobs.recv() {
        group.push(first);
        while group.len() < MAX_GROUP && group.last().is_some_and(|b| b.pages.is_empty()) {
            match jobs.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let mut pages = None;
        if failed.is_none() {
            match apply_group(&mut *store, &group) {
                Ok(read) => pages = Some(read),
                Err(error) => failed = Some(parts(error)),
            }
        }
        let last = group.len() - 1;
        for (index, batch) in group.drain(..).enumerate() {
            let pages = match &failed {
                Some((path, reason)) => Err(Error::Store {
                    path: path.clone(),
                    reason: reason.clone(),
                }),
                None if index == last => Ok(pages.take().unwrap_or_default()),
                None => Ok(Vec::new()),
            };
            if done.send(Applied { batch, pages }).is_err() {
                return;
            }
        }
        shared.wake();
        // After the acknowledgements are on their way.
        if failed.is_none() {
            if let Err(error) = store.maintain() {
                failed = Some(parts(error));
            }
        }
    }
}

/// A store error as the file and the reason it names.
fn parts(error: Error) -> (String, String) {
    match error {
        Error::Store { path, reason } => (path, reason),
        other => ("(store)".to_string(), other.to_string()),
    }
}

/// Applies the operations of `group` in one commit, then reads the pages
/// its last batch asked for (the only one that may ask).
fn apply_group(
    store: &mut dyn SessionStore,
    group: &[StoreBatch],
) -> Result<Vec<Vec<StoredMessage>>, Error> {
    let batches: Vec<&[crate::store::StoreOp]> = group
        .iter()
        .map(|batch| batch.ops.as_slice())
        .filter(|ops| !ops.is_empty())
        .collect();
    if !batches.is_empty() {
        store.apply_all(&batches)?;
    }
    let mut pages = Vec::new();
    if let Some(batch) = group.last() {
        for request in &batch.pages {
            pages.push(store.load_queued(
                &request.client_id,
                request.after_seq,
                request.max_messages,
                request.max_bytes,
            )?);
        }
    }
    Ok(pages)
}
