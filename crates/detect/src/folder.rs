//! The analytics on a thread of their own: batches are folded there while the caller goes on
//! matching the next records, and every other use of the analytics is a call made on that
//! thread, in order with the batches sent before it.
//!
//! While the analytics write a snapshot or decide (seconds for a large state) the queue
//! fills; the batches that follow are then held here, up to [`HELD`], instead of making the
//! caller wait, and are passed on in order as the queue takes them again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use stormwatch_analytics::{Analytics, Observed, Observer};

use crate::DetectError;

/// Batches (a few hundred events each) waiting to be folded.
const QUEUE: usize = 16;
/// Batches held while a snapshot is being written or a decision made (at most about as
/// many records as a minute of a few thousand records a second).
const HELD: usize = 512;

type Call = Box<dyn FnOnce(&mut Analytics) + Send>;

enum Msg {
    Fold(Observed),
    Call(Call),
}

/// The analytics, folding on their own thread.
#[derive(Debug)]
pub(crate) struct Folder {
    tx: Option<SyncSender<Msg>>,
    handle: Option<JoinHandle<Analytics>>,
    /// Batches not yet in the queue, oldest first: everything sent later waits behind them.
    held: Mutex<VecDeque<Observed>>,
    /// Calls made without waiting ([`Folder::call_later`]: snapshots, decisions) queued or
    /// running on the thread.
    writing: Arc<AtomicUsize>,
}

/// Counts a call as under way until it is done or dropped unrun.
struct Writing(Arc<AtomicUsize>);

impl Drop for Writing {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Msg::Fold(_) => "Fold",
            Msg::Call(_) => "Call",
        })
    }
}

fn run(mut a: Analytics, observer: Observer, rx: Receiver<Msg>) -> Analytics {
    for msg in rx {
        match msg {
            Msg::Fold(batch) => {
                a.fold(&batch);
                observer.recycle(batch);
            }
            Msg::Call(f) => f(&mut a),
        }
    }
    a
}

impl Folder {
    /// Start the thread. `observer` takes back the folded batches for reuse.
    pub(crate) fn start(a: Analytics, observer: Observer) -> Result<Folder, DetectError> {
        let (tx, rx) = sync_channel(QUEUE);
        let handle = std::thread::Builder::new()
            .name("stormwatch-analytics".to_owned())
            .spawn(move || run(a, observer, rx))
            .map_err(|e| DetectError::AnalyticsThread {
                reason: e.to_string(),
            })?;
        Ok(Folder {
            tx: Some(tx),
            handle: Some(handle),
            held: Mutex::default(),
            writing: Arc::default(),
        })
    }

    /// Fold a batch. Waits while the queue is full, unless a call is under way and
    /// at most [`HELD`] batches are held. Once it is written, the batches held meanwhile go
    /// into the queue as it takes them, at least one each time (so that they do not grow):
    /// the caller waits for one batch to be folded, not for all of them.
    pub(crate) fn fold(&self, batch: Observed) -> Result<(), DetectError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.push_back(batch);
        self.pass(&mut held, false)?;
        if held.is_empty() || (held.len() <= HELD && self.writing()) {
            return Ok(());
        }
        if held.len() <= HELD {
            let tx = self.tx.as_ref().ok_or_else(stopped)?;
            if let Some(b) = held.pop_front() {
                tx.send(Msg::Fold(b)).map_err(|_| stopped())?;
            }
            return Ok(());
        }
        self.pass(&mut held, true)
    }

    /// A call made without waiting (a snapshot, a decision) is queued or running on the
    /// thread: a call now would wait for it.
    pub(crate) fn writing(&self) -> bool {
        self.writing.load(Ordering::Acquire) > 0
    }

    /// Move held batches into the queue: all of them (waiting for room), or as many as it
    /// takes now.
    fn pass(&self, held: &mut VecDeque<Observed>, wait: bool) -> Result<(), DetectError> {
        let tx = self.tx.as_ref().ok_or_else(stopped)?;
        while let Some(b) = held.pop_front() {
            if wait {
                tx.send(Msg::Fold(b)).map_err(|_| stopped())?;
                continue;
            }
            match tx.try_send(Msg::Fold(b)) {
                Ok(()) => {}
                Err(TrySendError::Full(m)) => {
                    if let Msg::Fold(b) = m {
                        held.push_front(b);
                    }
                    break;
                }
                Err(TrySendError::Disconnected(_)) => return Err(stopped()),
            }
        }
        Ok(())
    }

    /// Send a call behind every batch sent or held before it.
    fn send(&self, msg: Msg) -> Result<(), DetectError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        self.pass(&mut held, true)?;
        self.tx
            .as_ref()
            .and_then(|tx| tx.send(msg).ok())
            .ok_or_else(stopped)
    }

    /// Run `f` (writing a snapshot, deciding) on the analytics once every batch sent before
    /// is folded, without waiting for it: its result comes on the receiver. Until it is done,
    /// [`Folder::writing`] says so.
    pub(crate) fn call_later<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Analytics) -> R + Send + 'static,
    ) -> Result<Receiver<R>, DetectError> {
        let (rtx, rrx) = sync_channel(1);
        self.writing.fetch_add(1, Ordering::AcqRel);
        let guard = Writing(Arc::clone(&self.writing));
        self.send(Msg::Call(Box::new(move |a| {
            let r = f(a);
            drop(guard);
            let _ = rtx.send(r);
        })))?;
        Ok(rrx)
    }

    /// Run `f` on the analytics once every batch sent before is folded, and wait for it.
    pub(crate) fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Analytics) -> R + Send + 'static,
    ) -> Result<R, DetectError> {
        let (rtx, rrx) = sync_channel(1);
        self.send(Msg::Call(Box::new(move |a| {
            let _ = rtx.send(f(a));
        })))?;
        rrx.recv().map_err(|_| stopped())
    }

    /// Stop the thread once every batch is folded, and take the analytics back.
    pub(crate) fn into_inner(mut self) -> Result<Analytics, DetectError> {
        {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            self.pass(&mut held, true)?;
        }
        drop(self.tx.take());
        self.handle
            .take()
            .ok_or_else(stopped)?
            .join()
            .map_err(|_| stopped())
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

pub(crate) fn stopped() -> DetectError {
    DetectError::AnalyticsThread {
        reason: "the built-in analytics stopped on an internal error".to_owned(),
    }
}
