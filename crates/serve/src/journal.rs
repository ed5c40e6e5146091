//! The journal writer: one thread that makes accepted records durable. Requests that arrive
//! together are committed in one transaction (one sync of the write-ahead log); each is
//! answered only after that commit, and its new records go on to the detector.
//!
//! An HTTP body takes its place in the writer's order before it is parsed ([`reserve`]), and
//! with it the batch id it will get if every body before it makes a batch: its records are
//! named (`ingest/<id>`) and scanned by the detector's rules as they are parsed, on the
//! request's threads, as the journal will name them. The writer commits in that order (a body
//! still being parsed holds back those after it; one given up frees its place) and gives batch
//! ids densely, as before, so that the same bodies make the same batches however often they
//! are sent. When a body before it made no batch (all its records sent before, or none
//! readable) the id foreseen is not the one given: the detector then reads that batch back
//! from the journal, as it does after a restart.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::Instant;

use stormwatch_core::{Event, Timestamp};
use stormwatch_store::{NewBatch, SourceError, Store, WatchFile};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::pipeline::Msg;

/// Appends waiting for the writer.
pub(crate) const QUEUE: usize = 64;
/// Appends committed together at most.
const GROUP: usize = 64;
/// Record bytes committed together at most (more waits for the next commit).
const GROUP_BYTES: usize = 128 << 20;
/// Record bytes handed to the detector in memory at most; beyond, it reads them back from the
/// journal.
pub(crate) const IN_FLIGHT_BYTES: u64 = 256 << 20;

/// Where an append comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Http,
    File,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::File => "file",
        }
    }
}

/// The records of an append.
#[derive(Debug)]
pub(crate) enum Records {
    /// Good records (body lines), for the detector to scan.
    Events(Vec<Event>),
    /// Good records already scanned as they were read, under the name of the batch id
    /// foreseen for them.
    Scanned {
        /// What the detector's scanner made of them, in runs in body order.
        runs: Vec<stormwatch_detect::Scanned>,
        /// Each record's key ([`crate::ingest::record_key`]) and body line, in order.
        keys: Vec<(Option<[u8; 16]>, u64)>,
    },
}

impl Records {
    fn len(&self) -> usize {
        match self {
            Records::Events(e) => e.len(),
            Records::Scanned { keys, .. } => keys.len(),
        }
    }
}

/// One body or file chunk to make durable.
#[derive(Debug)]
pub(crate) struct Append {
    /// Its place in the writer's order and the batch id foreseen (HTTP); `None`: the next
    /// place when it reaches the writer.
    pub(crate) id: Option<Reservation>,
    pub(crate) source: String,
    pub(crate) kind: Kind,
    /// The records' location name: a watched file's path; empty for HTTP (the batch is named
    /// `ingest/<id>` when it is made).
    pub(crate) name: String,
    /// The line of `name` the body's first line is.
    pub(crate) first_line: u64,
    pub(crate) format: Option<stormwatch_read::InputFormat>,
    /// What the journal keeps.
    pub(crate) stored: Vec<u8>,
    /// Bytes received (for counts).
    pub(crate) bytes_received: u64,
    pub(crate) records: Records,
    pub(crate) skipped: u64,
    pub(crate) errors: Vec<stormwatch_core::RecordError>,
    pub(crate) last_line: u64,
    pub(crate) newest: Option<Timestamp>,
    /// The watched file's position to commit with it.
    pub(crate) file: Option<WatchFile>,
    pub(crate) reply: Option<oneshot::Sender<Result<Appended, String>>>,
}

/// What became of an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Appended {
    /// The journal batch made, when any record was new.
    pub(crate) batch: Option<i64>,
    /// Records new (durable now).
    pub(crate) new: u64,
    /// Records recognised as sent before.
    pub(crate) duplicates: u64,
}

/// What the writer is sent.
#[derive(Debug)]
pub(crate) enum JournalMsg {
    /// Make this durable.
    Append(Box<Append>),
    /// A place in the writer's order given up (its body was refused or its request dropped).
    Skip(i64),
    /// Commit what came before, then stop (what comes after is refused).
    Close,
}

/// The sending side, for HTTP handlers and the folder watcher.
pub(crate) type JournalTx = mpsc::Sender<JournalMsg>;

/// Places in the writer's order (shared by [`reserve`] and the writer).
#[derive(Debug, Default)]
pub(crate) struct Order {
    /// The first place (and the next batch id when the service started).
    first: i64,
    /// The next place to give out.
    next: AtomicI64,
    /// The batch id the writer will give the body at a place, minus the place, as of the
    /// places committed so far (it shrinks by one for each place that makes no batch).
    shift: AtomicI64,
}

/// The writer's order, shared.
pub(crate) type BatchIds = Arc<Order>;

impl Order {
    /// Places start at the next batch id (the shift is then zero).
    pub(crate) fn starting_at(next_batch_id: i64) -> Order {
        Order {
            first: next_batch_id,
            next: AtomicI64::new(next_batch_id),
            shift: AtomicI64::new(0),
        }
    }
}

/// A place in the writer's order taken before a body is parsed, with the batch id foreseen.
/// Dropped without being appended, it tells the writer the place is given up (so the
/// appends after it are not held back).
#[derive(Debug)]
pub(crate) struct Reservation {
    place: i64,
    id: i64,
    tx: Option<JournalTx>,
}

impl Reservation {
    /// The batch id foreseen.
    pub(crate) fn id(&self) -> i64 {
        self.id
    }

    /// The place and the id foreseen, the reservation kept (it is being appended).
    fn keep(mut self) -> (i64, i64) {
        self.tx = None;
        (self.place, self.id)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some(tx) = self.tx.take() else { return };
        match tx.try_send(JournalMsg::Skip(self.place)) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(m)) => {
                // The writer waits for this id: the skip must reach it.
                if let Ok(h) = tokio::runtime::Handle::try_current() {
                    h.spawn(async move {
                        let _ = tx.send(m).await;
                    });
                } else {
                    let _ = tx.blocking_send(m);
                }
            }
        }
    }
}

/// Take the next place in the writer's order for a body about to be parsed.
pub(crate) fn reserve(order: &BatchIds, tx: &JournalTx) -> Reservation {
    let place = order.next.fetch_add(1, Ordering::SeqCst);
    Reservation {
        place,
        id: place + order.shift.load(Ordering::SeqCst),
        tx: Some(tx.clone()),
    }
}

/// What the writer hands on.
pub(crate) struct Writer {
    pub(crate) store: Store,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) detector: SyncSender<Msg>,
    pub(crate) in_flight: Arc<AtomicU64>,
    /// Shared with [`reserve`]; its first place is the first the writer waits for, and the
    /// next batch id.
    pub(crate) ids: BatchIds,
}

/// Days since the epoch of `ns`.
pub(crate) fn day_of(ns: i64) -> i64 {
    ns.div_euclid(86_400_000_000_000)
}

fn now_ns() -> i64 {
    crate::now().nanos()
}

/// A prepared append: which of its records are new.
struct Prepared {
    append: Append,
    /// The batch id foreseen when its records were scanned.
    foreseen: Option<i64>,
    keep: Vec<bool>,
    duplicates: u64,
    new: u64,
    batch: Option<(i64, String)>,
}

/// Appends waiting for their turn, by place, with the batch id foreseen (`None`: the place
/// was given up).
type Waiting = BTreeMap<i64, Option<(Option<i64>, Append)>>;

impl Writer {
    /// Run until every sender is gone or the writer is closed.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<JournalMsg>) {
        let mut next = self.ids.first;
        let mut next_id = next;
        let mut waiting = Waiting::new();
        let mut closing = false;
        while !closing {
            let Some(msg) = rx.blocking_recv() else { break };
            closing = self.take(msg, &mut waiting);
            // What else has come, without waiting.
            while !closing && let Ok(m) = rx.try_recv() {
                closing = self.take(m, &mut waiting);
            }
            self.commit_ready(&mut waiting, &mut next, &mut next_id, closing);
        }
        // Anything sent after the close is refused: its sender hears the records were not
        // made durable.
        rx.close();
        self.commit_ready(&mut waiting, &mut next, &mut next_id, true);
    }

    /// Queue a message by its batch id; `true` on close.
    fn take(&self, msg: JournalMsg, waiting: &mut Waiting) -> bool {
        match msg {
            JournalMsg::Append(mut a) => {
                let (place, foreseen) = match a.id.take() {
                    Some(r) => {
                        let (place, id) = r.keep();
                        (place, Some(id))
                    }
                    None => (self.ids.next.fetch_add(1, Ordering::SeqCst), None),
                };
                waiting.insert(place, Some((foreseen, *a)));
                false
            }
            JournalMsg::Skip(id) => {
                waiting.insert(id, None);
                false
            }
            JournalMsg::Close => true,
        }
    }

    /// Commit the appends whose turn it is, in order, in groups; with `all`, every one
    /// waiting (the places missing will not come). `next` is the next place, `next_id` the
    /// next batch id.
    fn commit_ready(
        &mut self,
        waiting: &mut Waiting,
        next: &mut i64,
        next_id: &mut i64,
        all: bool,
    ) {
        loop {
            let mut group = Vec::new();
            let mut bytes = 0;
            while group.len() < GROUP && bytes < GROUP_BYTES {
                let Some(entry) = waiting.first_entry() else {
                    break;
                };
                let place = *entry.key();
                if place > *next && !all {
                    break;
                }
                *next = (*next).max(place + 1);
                if let Some((foreseen, a)) = entry.remove() {
                    bytes += a.stored.len();
                    group.push((foreseen, a));
                }
            }
            if !group.is_empty() {
                *next_id = self.commit(group, *next_id, *next);
            }
            // The places after these get the batch ids their place says, shifted by the
            // places that made no batch.
            self.ids.shift.store(*next_id - *next, Ordering::SeqCst);
            if waiting
                .first_key_value()
                .is_none_or(|(place, _)| *place > *next && !all)
            {
                return;
            }
        }
    }

    /// Commit a group, its batches taking ids from `next_id` on (`next_place` is the place
    /// after the group's); returns the next batch id.
    fn commit(&mut self, group: Vec<(Option<i64>, Append)>, next_id: i64, next_place: i64) -> i64 {
        let today = day_of(now_ns());
        let t0 = Instant::now();
        let n_group = group.len();
        let mut t_locked = None;
        let mut t_body = None;
        let result = self.store.write(|tx| {
            t_locked = Some(t0.elapsed());
            tx.seen_day(today)?;
            let mut out = Vec::with_capacity(group.len());
            let mut id = next_id;
            for (foreseen, a) in group {
                let mut keep = Vec::with_capacity(a.records.len());
                let mut dup_lines = Vec::new();
                let mut duplicates = 0;
                let mut check = |key: Option<[u8; 16]>, line: u64| {
                    let fresh = match key {
                        Some(k) => tx.mark_seen(&k)?,
                        None => true,
                    };
                    if !fresh {
                        duplicates += 1;
                        dup_lines.push(line);
                    }
                    keep.push(fresh);
                    Ok::<_, stormwatch_store::StoreError>(())
                };
                match &a.records {
                    Records::Events(events) => {
                        for e in events {
                            check(crate::ingest::record_key(e), e.loc.line)?;
                        }
                    }
                    Records::Scanned { keys, .. } => {
                        for (k, line) in keys {
                            check(*k, *line)?;
                        }
                    }
                }
                let new = a.records.len() as u64 - duplicates;
                let batch = if new > 0 {
                    id += 1;
                    Some(tx.append_batch(&NewBatch {
                        id: Some(id - 1),
                        source: &a.source,
                        kind: a.kind.as_str(),
                        name: &a.name,
                        first_line: a.first_line,
                        last_line: a.first_line + a.last_line.saturating_sub(1),
                        records: new,
                        skipped: a.skipped,
                        duplicates,
                        format: a.format.map(stormwatch_read::InputFormat::as_str),
                        newest_event: a.newest,
                        dup_lines: &dup_lines,
                        body: &a.stored,
                    })?)
                } else {
                    None
                };
                tx.count_source(
                    &a.source,
                    a.kind.as_str(),
                    u64::from(batch.is_some()),
                    new,
                    a.skipped,
                    duplicates,
                    a.bytes_received,
                    a.newest,
                )?;
                if !a.errors.is_empty() {
                    let file = batch.as_ref().map_or_else(
                        || match a.kind {
                            Kind::Http => "request".to_owned(),
                            Kind::File => a.name.clone(),
                        },
                        |(_, name)| name.clone(),
                    );
                    let errs: Vec<SourceError> = a
                        .errors
                        .iter()
                        .map(|e| SourceError {
                            at: Timestamp::EPOCH,
                            file: file.clone(),
                            line: e.loc.line + a.first_line.saturating_sub(1),
                            field: e.field.clone(),
                            reason: e.reason.clone(),
                        })
                        .collect();
                    tx.record_errors(&a.source, a.kind.as_str(), &errs)?;
                }
                if let Some(f) = &a.file {
                    tx.put_watch_file(f)?;
                }
                t_body = Some(t0.elapsed());
                out.push(Prepared {
                    append: a,
                    foreseen,
                    keep,
                    duplicates,
                    new,
                    batch,
                });
            }
            Ok((out, id))
        });
        let (prepared, next_id) = match result {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(message = "Records could not be made durable.", error = %e);
                // Nothing of the group was kept: every sender hears so (HTTP answers 503).
                // The group's appends are gone with this error; their senders retry.
                return next_id;
            }
        };
        tracing::debug!(
            message = "Journal commit.",
            appends = n_group,
            locked_ms = t_locked.map(|d| d.as_millis()),
            written_ms = t_body.map(|d| d.as_millis()),
            ms = millis_since(t0)
        );
        // Before anyone hears of this commit: the places taken from now on foresee their ids.
        self.ids.shift.store(next_id - next_place, Ordering::SeqCst);
        let committed_at = now_ns();
        for p in prepared {
            self.hand_on(p, committed_at);
        }
        next_id
    }

    fn hand_on(&mut self, p: Prepared, committed_at: i64) {
        let Prepared {
            mut append,
            foreseen,
            keep,
            duplicates,
            new,
            batch,
        } = p;
        let m = &self.metrics;
        m.count_source(&append.source, |c| {
            c.accepted += new;
            c.duplicates += duplicates;
            c.skipped += append.skipped;
            c.bytes += append.bytes_received;
            c.batches += u64::from(batch.is_some());
            if let Some(t) = append.newest {
                c.newest_event = Some(c.newest_event.map_or(t.nanos(), |n| n.max(t.nanos())));
            }
        });
        if let Some(reply) = append.reply.take() {
            let _ = reply.send(Ok(Appended {
                batch: batch.as_ref().map(|(id, _)| *id),
                new,
                duplicates,
            }));
        }
        let Some((id, name)) = batch else { return };
        m.committed_records.fetch_add(new, Ordering::Relaxed);
        m.journal_head.fetch_max(id, Ordering::Relaxed);
        let records = std::mem::replace(&mut append.records, Records::Events(Vec::new()));
        let (msg, bytes) = match records {
            Records::Events(events) => {
                let events = take_new(events, &keep, &name, append.first_line);
                let bytes: u64 = events.iter().map(|e| e.raw.len() as u64 + 256).sum();
                (
                    Msg::Batch {
                        id,
                        committed_at,
                        events,
                        bytes,
                    },
                    bytes,
                )
            }
            // Scanned with the records sent before, or under another batch id than the one
            // given: the detector reads the batch back from the journal (which keeps which
            // lines were left out).
            Records::Scanned { .. } if duplicates > 0 || foreseen != Some(id) => {
                let _ = self.detector.try_send(Msg::Wake);
                return;
            }
            Records::Scanned { runs, .. } => {
                let bytes = new * SCANNED_RECORD_BYTES;
                (
                    Msg::Scanned {
                        id,
                        committed_at,
                        runs,
                        records: new,
                        bytes,
                    },
                    bytes,
                )
            }
        };
        if self.in_flight.load(Ordering::Relaxed) + bytes > IN_FLIGHT_BYTES {
            // The detector is behind: it reads this batch back from the journal.
            let _ = self.detector.try_send(Msg::Wake);
            return;
        }
        self.in_flight.fetch_add(bytes, Ordering::Relaxed);
        match self.detector.try_send(msg) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.in_flight.fetch_sub(bytes, Ordering::Relaxed);
            }
        }
    }
}

/// What a scanned record is counted for in the in-memory budget (what the rules and the
/// analytics keep of it).
const SCANNED_RECORD_BYTES: u64 = 512;

/// The new records of a batch, located as the journal names them: `name` and lines counted
/// from `first_line`.
pub(crate) fn take_new(
    events: Vec<Event>,
    keep: &[bool],
    name: &str,
    first_line: u64,
) -> Vec<Event> {
    let file: Arc<str> = Arc::from(name);
    let shift = first_line.saturating_sub(1);
    events
        .into_iter()
        .zip(keep.iter().copied().chain(std::iter::repeat(true)))
        .filter(|(_, k)| *k)
        .map(|(mut e, _)| {
            e.loc.file = Arc::clone(&file);
            e.loc.line += shift;
            e
        })
        .collect()
}

/// The events of a journal batch, as the writer handed them on when it was made.
///
/// # Errors
/// The reader's threads cannot start.
pub(crate) fn replay(
    b: &stormwatch_store::StoredBatch,
    threads: usize,
) -> Result<Vec<Event>, stormwatch_read::ReadError> {
    let format = b.format.as_deref().and_then(|f| f.parse().ok());
    let parsed = crate::ingest::parse(&b.name, b.body.clone(), format, threads)?;
    let dups: std::collections::HashSet<u64> = b.dup_lines.iter().copied().collect();
    let keep: Vec<bool> = parsed
        .events
        .iter()
        .map(|e| !dups.contains(&e.loc.line))
        .collect();
    Ok(take_new(parsed.events, &keep, &b.name, b.first_line))
}

/// Send an append and wait for it to be durable.
pub(crate) async fn append(tx: &JournalTx, mut a: Append) -> Result<Appended, String> {
    let (reply, rx) = oneshot::channel();
    a.reply = Some(reply);
    tx.send(JournalMsg::Append(Box::new(a)))
        .await
        .map_err(|_| "the journal writer stopped".to_owned())?;
    rx.await
        .map_err(|_| "the records could not be made durable (see the server log)".to_owned())?
}

/// Elapsed since `t`, in milliseconds.
pub(crate) fn millis_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn body(
        r: Option<Reservation>,
        key: u8,
    ) -> (Box<Append>, oneshot::Receiver<Result<Appended, String>>) {
        let (reply, rx) = oneshot::channel();
        let a = Append {
            id: r,
            source: "http".into(),
            kind: Kind::Http,
            name: String::new(),
            first_line: 1,
            format: None,
            stored: b"{}\n".to_vec(),
            bytes_received: 3,
            records: Records::Scanned {
                runs: Vec::new(),
                keys: vec![(Some([key; 16]), 1)],
            },
            skipped: 0,
            errors: Vec::new(),
            last_line: 1,
            newest: None,
            file: None,
            reply: Some(reply),
        };
        (Box::new(a), rx)
    }

    /// What the detector is sent for a batch: `Some(id)` what was scanned, `None` a wake to
    /// read it back from the journal.
    fn handed(det: &std::sync::mpsc::Receiver<Msg>) -> Option<i64> {
        match det
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap()
        {
            Msg::Scanned { id, .. } => Some(id),
            Msg::Wake => None,
            _ => panic!("unexpected message"),
        }
    }

    #[test]
    fn batches_in_place_order_with_dense_ids_and_foreseen_ones_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let order = Arc::new(Order::starting_at(store.read().next_batch_id().unwrap()));
        let (det_tx, det) = std::sync::mpsc::sync_channel(16);
        let writer = Writer {
            store,
            metrics: Arc::new(Metrics::default()),
            detector: det_tx,
            in_flight: Arc::new(AtomicU64::new(0)),
            ids: Arc::clone(&order),
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        let thread = std::thread::spawn(move || writer.run(rx));

        // Two bodies take places 1 and 2; the second is parsed first and waits for the first,
        // which is given up: the second gets batch 1, not the 2 it foresaw, so the detector
        // reads it back from the journal.
        let (r1, r2) = (reserve(&order, &tx), reserve(&order, &tx));
        assert_eq!((r1.id(), r2.id()), (1, 2));
        let (a, b_reply) = body(Some(r2), 1);
        tx.blocking_send(JournalMsg::Append(a)).unwrap();
        drop(r1);
        assert_eq!(b_reply.blocking_recv().unwrap().unwrap().batch, Some(1));
        assert_eq!(handed(&det), None);

        // Places taken now foresee the ids the writer gives.
        let r3 = reserve(&order, &tx);
        assert_eq!(r3.id(), 2);
        let (a, reply) = body(Some(r3), 2);
        tx.blocking_send(JournalMsg::Append(a)).unwrap();
        assert_eq!(reply.blocking_recv().unwrap().unwrap().batch, Some(2));
        assert_eq!(handed(&det), Some(2));

        // A body of records sent before makes no batch and takes no id.
        let (a, reply) = body(Some(reserve(&order, &tx)), 1);
        tx.blocking_send(JournalMsg::Append(a)).unwrap();
        let got = reply.blocking_recv().unwrap().unwrap();
        assert_eq!((got.batch, got.duplicates), (None, 1));
        let (a, reply) = body(Some(reserve(&order, &tx)), 3);
        tx.blocking_send(JournalMsg::Append(a)).unwrap();
        assert_eq!(reply.blocking_recv().unwrap().unwrap().batch, Some(3));
        assert_eq!(handed(&det), Some(3));

        // An append without a place (a watched file) takes the next one.
        let (a, reply) = body(None, 4);
        tx.blocking_send(JournalMsg::Append(a)).unwrap();
        assert_eq!(reply.blocking_recv().unwrap().unwrap().batch, Some(4));
        assert_eq!(handed(&det), None);

        tx.blocking_send(JournalMsg::Close).unwrap();
        thread.join().unwrap();
    }
}
