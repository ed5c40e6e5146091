//! The analytics on a thread of their own: batches are folded there while the caller goes on
//! matching the next records, and every other use of the analytics is a call made on that
//! thread, in order with the batches sent before it.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use stormwatch_analytics::{Analytics, Observed, Observer};

use crate::DetectError;

/// Batches (a few hundred events each) waiting to be folded.
const QUEUE: usize = 16;

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
        })
    }

    /// Fold a batch (waits while the queue is full).
    pub(crate) fn fold(&self, batch: Observed) -> Result<(), DetectError> {
        self.send(Msg::Fold(batch))
    }

    fn send(&self, msg: Msg) -> Result<(), DetectError> {
        self.tx
            .as_ref()
            .and_then(|tx| tx.send(msg).ok())
            .ok_or_else(stopped)
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

fn stopped() -> DetectError {
    DetectError::AnalyticsThread {
        reason: "the built-in analytics stopped on an internal error".to_owned(),
    }
}
