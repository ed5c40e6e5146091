//! Checkpoints off the detector's thread. The detector's thread stores the alerts decided up
//! to a journal position, then begins a snapshot there (it copies only the small parts; the
//! analytics write theirs on their own thread, into the compressor); this thread finishes it
//! and saves it with that position, in a transaction of its own, while the detector goes on.
//! At most one is in flight: the saved position only moves forward.
//!
//! A crash before the save loses nothing: the previous checkpoint stays, the journal is read
//! again from its position, and the alerts stored meanwhile are recognised by their ids.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::thread::JoinHandle;
use std::time::Instant;

use stormwatch_core::Timestamp;
use stormwatch_detect::PendingSnapshot;
use stormwatch_store::{DetectorCheckpoint, Store};

use crate::ServeError;

/// A checkpoint begun on the detector's thread.
pub(crate) struct Job {
    pub(crate) snapshot: PendingSnapshot,
    /// The last journal batch the snapshot holds.
    pub(crate) position: i64,
    /// The newest record time seen up to there (ns).
    pub(crate) max_event: Option<i64>,
    pub(crate) fingerprint: String,
    /// When it was begun.
    pub(crate) begun: Instant,
}

/// A checkpoint saved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Saved {
    pub(crate) position: i64,
    pub(crate) bytes: u64,
    /// From its beginning to its save (ms).
    pub(crate) ms: u64,
}

/// The checkpoint thread, and whether it has a checkpoint in flight.
pub(crate) struct Checkpointer {
    tx: Option<SyncSender<Job>>,
    done: Receiver<Result<Saved, String>>,
    handle: Option<JoinHandle<()>>,
    in_flight: Option<i64>,
}

impl Checkpointer {
    /// Start the thread; it saves with `store`.
    pub(crate) fn start(mut store: Store) -> Result<Checkpointer, ServeError> {
        let (tx, rx) = sync_channel::<Job>(1);
        let (done_tx, done) = sync_channel(1);
        let handle = std::thread::Builder::new()
            .name("stormwatch-checkpoint".to_owned())
            .spawn(move || {
                for job in rx {
                    let r = save(&mut store, job);
                    if done_tx.send(r).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| ServeError::Io {
                what: "starting the checkpoint thread".to_owned(),
                source: e,
            })?;
        Ok(Checkpointer {
            tx: Some(tx),
            done,
            handle: Some(handle),
            in_flight: None,
        })
    }

    /// The position of the checkpoint in flight, if one is.
    pub(crate) fn in_flight(&self) -> Option<i64> {
        self.in_flight
    }

    /// Hand over a checkpoint to finish and save. Only when none is in flight.
    pub(crate) fn send(&mut self, job: Job) -> Result<(), ServeError> {
        debug_assert!(self.in_flight.is_none());
        let position = job.position;
        self.tx
            .as_ref()
            .and_then(|tx| tx.send(job).ok())
            .ok_or(ServeError::Stopped("checkpoint thread"))?;
        self.in_flight = Some(position);
        Ok(())
    }

    /// What became of the checkpoint in flight: `None` while it is still under way (or none
    /// is), unless `wait`, which waits for it.
    pub(crate) fn poll(&mut self, wait: bool) -> Option<Result<Saved, String>> {
        self.in_flight?;
        let r = if wait {
            self.done
                .recv()
                .unwrap_or_else(|_| Err("the checkpoint thread stopped".to_owned()))
        } else {
            match self.done.try_recv() {
                Ok(r) => r,
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => Err("the checkpoint thread stopped".to_owned()),
            }
        };
        self.in_flight = None;
        Some(r)
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn save(store: &mut Store, job: Job) -> Result<Saved, String> {
    let Job {
        snapshot,
        position,
        max_event,
        fingerprint,
        begun,
    } = job;
    let bytes = snapshot.finish().map_err(|e| e.to_string())?;
    let finished = Instant::now();
    let size = bytes.len() as u64;
    let cp = DetectorCheckpoint {
        position,
        max_event: max_event.map(Timestamp::from_nanos),
        fingerprint,
        saved_at: Timestamp::EPOCH,
        snapshot: Some(bytes),
    };
    store
        .write(|tx| tx.save_checkpoint(&cp))
        .map_err(|e| e.to_string())?;
    drop(cp);
    tracing::debug!(
        message = "Detector checkpoint saved.",
        position,
        bytes = size,
        snapshot_ms = crate::journal::millis_since(begun)
            .saturating_sub(crate::journal::millis_since(finished)),
        save_ms = crate::journal::millis_since(finished)
    );
    Ok(Saved {
        position,
        bytes: size,
        ms: crate::journal::millis_since(begun),
    })
}
