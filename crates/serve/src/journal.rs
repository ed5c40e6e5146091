//! The journal writer: one thread that makes accepted records durable. Requests that arrive
//! together are committed in one transaction (one sync of the write-ahead log); each is
//! answered only after that commit, and its new records go on to the detector.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// One body or file chunk to make durable.
#[derive(Debug)]
pub(crate) struct Append {
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
    /// Good records (body lines).
    pub(crate) events: Vec<Event>,
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
    /// Commit what came before, then stop (what comes after is refused).
    Close,
}

/// The sending side, for HTTP handlers and the folder watcher.
pub(crate) type JournalTx = mpsc::Sender<JournalMsg>;

/// What the writer hands on.
pub(crate) struct Writer {
    pub(crate) store: Store,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) detector: SyncSender<Msg>,
    pub(crate) in_flight: Arc<AtomicU64>,
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
    keep: Vec<bool>,
    duplicates: u64,
    new: u64,
    batch: Option<(i64, String)>,
}

impl Writer {
    /// Run until every sender is gone.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<JournalMsg>) {
        while let Some(JournalMsg::Append(first)) = rx.blocking_recv() {
            let mut group = vec![*first];
            let mut bytes: usize = group[0].stored.len();
            let mut closing = false;
            while group.len() < GROUP && bytes < GROUP_BYTES {
                match rx.try_recv() {
                    Ok(JournalMsg::Append(a)) => {
                        bytes += a.stored.len();
                        group.push(*a);
                    }
                    Ok(JournalMsg::Close) => {
                        closing = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            self.commit(group);
            if closing {
                break;
            }
        }
        // Anything sent after the close is refused: its sender hears the records were not
        // made durable.
        rx.close();
    }

    fn commit(&mut self, group: Vec<Append>) {
        let today = day_of(now_ns());
        let t0 = Instant::now();
        let n_group = group.len();
        let mut t_locked = None;
        let mut t_body = None;
        let result = self.store.write(|tx| {
            t_locked = Some(t0.elapsed());
            tx.seen_day(today)?;
            let mut out = Vec::with_capacity(group.len());
            for a in group {
                let mut keep = Vec::with_capacity(a.events.len());
                let mut dup_lines = Vec::new();
                let mut duplicates = 0;
                for e in &a.events {
                    let fresh = match crate::ingest::record_key(e) {
                        Some(k) => tx.mark_seen(&k)?,
                        None => true,
                    };
                    if !fresh {
                        duplicates += 1;
                        dup_lines.push(e.loc.line);
                    }
                    keep.push(fresh);
                }
                let new = a.events.len() as u64 - duplicates;
                let batch = if new > 0 {
                    Some(tx.append_batch(&NewBatch {
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
                    keep,
                    duplicates,
                    new,
                    batch,
                });
            }
            Ok(out)
        });
        let prepared = match result {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(message = "Records could not be made durable.", error = %e);
                // Nothing of the group was kept: every sender hears so (HTTP answers 503).
                // The group's appends are gone with this error; their senders retry.
                return;
            }
        };
        tracing::debug!(
            message = "Journal commit.",
            appends = n_group,
            locked_ms = t_locked.map(|d| d.as_millis()),
            written_ms = t_body.map(|d| d.as_millis()),
            ms = millis_since(t0)
        );
        let committed_at = now_ns();
        for p in prepared {
            self.hand_on(p, committed_at);
        }
    }

    fn hand_on(&mut self, p: Prepared, committed_at: i64) {
        let Prepared {
            mut append,
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
        let events = take_new(
            std::mem::take(&mut append.events),
            &keep,
            &name,
            append.first_line,
        );
        let bytes: u64 = events.iter().map(|e| e.raw.len() as u64 + 256).sum();
        if self.in_flight.load(Ordering::Relaxed) + bytes > IN_FLIGHT_BYTES {
            // The detector is behind: it reads this batch back from the journal.
            let _ = self.detector.try_send(Msg::Wake);
            return;
        }
        self.in_flight.fetch_add(bytes, Ordering::Relaxed);
        match self.detector.try_send(Msg::Batch {
            id,
            committed_at,
            events,
            bytes,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(Msg::Batch { bytes, .. }))
            | Err(TrySendError::Disconnected(Msg::Batch { bytes, .. })) => {
                self.in_flight.fetch_sub(bytes, Ordering::Relaxed);
            }
            Err(_) => {}
        }
    }
}

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
