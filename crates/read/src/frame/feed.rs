//! A growable read window over a byte stream: the framers keep the bytes of the record they
//! are cutting (from a mark) and drop everything before it.

use std::io::{self, Read};

const READ_STEP: usize = 1024 * 1024;

pub(crate) struct Feed {
    reader: Box<dyn Read + Send>,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[pos..end]`.
    pos: usize,
    end: usize,
    eof: bool,
    err: Option<io::Error>,
}

impl Feed {
    pub(crate) fn new(reader: Box<dyn Read + Send>) -> Self {
        Feed {
            reader,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            eof: false,
            err: None,
        }
    }

    /// Unconsumed bytes.
    pub(crate) fn available(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.end);
    }

    pub(crate) fn end(&self) -> usize {
        self.end
    }

    pub(crate) fn buf(&self) -> &[u8] {
        &self.buf[..self.end]
    }

    pub(crate) fn is_eof(&self) -> bool {
        self.eof
    }

    /// The read error that ended the stream, once (truncated gzip, bomb limit, …).
    pub(crate) fn take_error(&mut self) -> Option<io::Error> {
        self.err.take()
    }

    pub(crate) fn skip_bom(&mut self) {
        while self.end - self.pos < 3 && self.read_more(4096) > 0 {}
        if self.available().starts_with(&[0xef, 0xbb, 0xbf]) {
            self.pos += 3;
        }
    }

    /// Drop everything before `keep` (an index into the buffer); returns how far indices moved.
    pub(crate) fn compact(&mut self, keep: usize) -> usize {
        let keep = keep.min(self.pos);
        if keep == 0 {
            return 0;
        }
        self.buf.copy_within(keep..self.end, 0);
        self.end -= keep;
        self.pos -= keep;
        keep
    }

    /// Read more bytes, up to about `step`; returns how many arrived (0 at the end or on error).
    pub(crate) fn read_more(&mut self, step: usize) -> usize {
        if self.eof {
            return 0;
        }
        let step = step.clamp(4096, READ_STEP * 8);
        if self.buf.len() < self.end + step {
            self.buf.resize(self.end + step, 0);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..self.end + step]) {
                Ok(0) => {
                    self.eof = true;
                    return 0;
                }
                Ok(n) => {
                    self.end += n;
                    return n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    self.err = Some(e);
                    return 0;
                }
            }
        }
    }

    /// Read directly into `out`, overwriting what it holds (a recycled buffer is not zeroed
    /// again first); returns how many bytes arrived (0 at the end, on error, or for an empty
    /// `out`).
    pub(crate) fn read_to(&mut self, out: &mut [u8]) -> usize {
        if out.is_empty() {
            return 0;
        }
        // Serve buffered bytes first.
        if self.pos < self.end {
            let n = (self.end - self.pos).min(out.len());
            out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            if self.pos == self.end {
                self.pos = 0;
                self.end = 0;
            }
            return n;
        }
        if self.eof {
            return 0;
        }
        loop {
            match self.reader.read(out) {
                Ok(0) => {
                    self.eof = true;
                    return 0;
                }
                Ok(n) => return n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    self.err = Some(e);
                    return 0;
                }
            }
        }
    }
}
