//! NDJSON: one record per line, cut with `memchr` in large chunks.

use super::feed::Feed;
use super::{BATCH_BYTES, Batch, FrameError, Framer, Item, Spares};
use crate::options::Limits;

pub(crate) struct NdjsonFramer {
    feed: Feed,
    limits: Limits,
    /// The start of an unfinished line, carried into the next batch.
    carry: Vec<u8>,
    /// Line number of the first byte of `carry`.
    next_line: u64,
    /// Inside an over-long line: drop bytes up to the next newline.
    discarding: bool,
    done: bool,
    spares: Spares,
}

impl NdjsonFramer {
    pub(crate) fn new(feed: Feed, limits: Limits) -> Self {
        NdjsonFramer {
            feed,
            limits,
            carry: Vec::new(),
            next_line: 1,
            discarding: false,
            done: false,
            spares: Spares::default(),
        }
    }

    fn too_long(&self) -> FrameError {
        FrameError::new(
            self.next_line,
            format!("line longer than {} bytes", self.limits.max_record_bytes),
        )
    }
}

impl Framer for NdjsonFramer {
    fn name(&self) -> &'static str {
        "ndjson"
    }

    fn recycle(&mut self, batch: Batch) {
        self.spares.put(batch);
    }

    fn next_batch(&mut self) -> Option<Batch> {
        if self.done {
            return None;
        }
        // The buffer is read into over the bytes of the batch it held before: `filled` bytes
        // of it are this batch's.
        let Batch {
            mut data,
            mut items,
        } = self.spares.take_dirty();
        let room = BATCH_BYTES.max(self.carry.len());
        if data.len() < room {
            data.resize(room, 0);
        }
        data[..self.carry.len()].copy_from_slice(&self.carry);
        let mut filled = self.carry.len();
        self.carry.clear();
        if self.carry.capacity() > BATCH_BYTES {
            // After an over-long line: do not keep its size.
            self.carry = Vec::new();
        }
        let cut = loop {
            while filled < BATCH_BYTES {
                let n = self.feed.read_to(&mut data[filled..BATCH_BYTES]);
                if n == 0 {
                    break;
                }
                filled += n;
            }
            let eof = self.feed.is_eof();
            if self.discarding {
                match memchr::memchr(b'\n', &data[..filled]) {
                    Some(i) => {
                        data.copy_within(i + 1..filled, 0);
                        filled -= i + 1;
                        self.discarding = false;
                        self.next_line += 1;
                    }
                    None => {
                        filled = 0;
                        if eof {
                            break 0;
                        }
                        continue;
                    }
                }
            }
            if eof {
                break filled;
            }
            if let Some(i) = memchr::memrchr(b'\n', &data[..filled]) {
                break i + 1;
            }
            if filled > self.limits.max_record_bytes {
                items.push(Item::Error(self.too_long()));
                self.discarding = true;
                filled = 0;
                continue;
            }
            // No newline yet: read on (bounded by the limit above).
            const MORE: usize = 1 << 20;
            if data.len() < filled + MORE {
                data.resize(filled + MORE, 0);
            }
            filled += self.feed.read_to(&mut data[filled..filled + MORE]);
        };
        data.truncate(filled);
        if cut < data.len() {
            self.carry.extend_from_slice(&data[cut..]);
            data.truncate(cut);
        }
        let mut start = 0;
        while start < data.len() {
            let nl = memchr::memchr(b'\n', &data[start..]).map(|i| start + i);
            let line_end = nl.unwrap_or(data.len());
            let mut end = line_end;
            if end > start && data[end - 1] == b'\r' {
                end -= 1;
            }
            let line = &data[start..end];
            if end - start > self.limits.max_record_bytes {
                items.push(Item::Error(self.too_long()));
            } else if line.iter().any(|b| !b.is_ascii_whitespace()) {
                items.push(Item::Record {
                    start,
                    end,
                    line: self.next_line,
                    file_line: self.next_line,
                });
            }
            if nl.is_some() {
                self.next_line += 1;
            }
            start = line_end + 1;
        }
        if self.feed.is_eof() && self.carry.is_empty() {
            self.done = true;
            if let Some(e) = self.feed.take_error() {
                let ends_mid_line = data.last().is_some_and(|&b| b != b'\n');
                match items.last_mut() {
                    Some(Item::Record { line, .. }) if ends_mid_line => {
                        let line = *line;
                        if let Some(last) = items.last_mut() {
                            *last = Item::Error(FrameError::new(
                                line,
                                format!("input ends inside this record: {e}"),
                            ));
                        }
                    }
                    _ => items.push(Item::Error(FrameError::new(
                        self.next_line,
                        format!("input ends early: {e}"),
                    ))),
                }
            }
        }
        if items.is_empty() && self.done {
            return None;
        }
        Some(Batch { data, items })
    }
}
