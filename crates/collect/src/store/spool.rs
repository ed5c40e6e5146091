//! A window's records before they are committed: a temporary file of lines and, in memory,
//! where each line is and which day it belongs to.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::CollectError;

#[derive(Debug, Clone, Copy)]
struct Slot {
    day: i64,
    offset: u64,
    len: u32,
}

/// The records of one window, in the order they were taken.
#[derive(Debug)]
pub(crate) struct Spool {
    path: PathBuf,
    file: BufWriter<File>,
    slots: Vec<Slot>,
    pos: u64,
    /// Keys of the records in the spool (moved to the committed set on commit).
    pub(crate) keys: Vec<u128>,
}

impl Spool {
    pub(crate) fn create(path: PathBuf) -> Result<Self, CollectError> {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| CollectError::io(&path, e))?;
        Ok(Spool {
            path,
            file: BufWriter::new(file),
            slots: Vec::new(),
            pos: 0,
            keys: Vec::new(),
        })
    }

    /// Add one record line of `day` (days since the epoch).
    pub(crate) fn push(&mut self, day: i64, line: &[u8]) -> Result<(), CollectError> {
        let len = u32::try_from(line.len()).map_err(|_| {
            CollectError::io(
                &self.path,
                std::io::Error::other("record larger than 4 GiB"),
            )
        })?;
        self.file
            .write_all(line)
            .map_err(|e| CollectError::io(&self.path, e))?;
        self.slots.push(Slot {
            day,
            offset: self.pos,
            len,
        });
        self.pos += u64::from(len);
        Ok(())
    }

    /// Records held.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Hand the records to `each`, one day at a time (days in order, each day's lines in the
    /// order they were taken), then remove the spool.
    pub(crate) fn by_day(
        self,
        mut each: impl FnMut(i64, &mut DayLines<'_>) -> Result<(), CollectError>,
    ) -> Result<(), CollectError> {
        let path = self.path.clone();
        let mut file = self
            .file
            .into_inner()
            .map_err(|e| CollectError::io(&path, e.into_error()))?;
        let mut slots = self.slots;
        slots.sort_by_key(|s| s.day);
        let mut buf = Vec::new();
        let mut i = 0;
        while i < slots.len() {
            let day = slots[i].day;
            let end = slots[i..]
                .iter()
                .position(|s| s.day != day)
                .map_or(slots.len(), |p| i + p);
            let mut lines = DayLines {
                path: &path,
                file: &mut file,
                slots: &slots[i..end],
                next: 0,
                buf: &mut buf,
            };
            each(day, &mut lines)?;
            i = end;
        }
        drop(file);
        remove(&path);
        Ok(())
    }
}

fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// The lines of one day of a spool.
pub(crate) struct DayLines<'a> {
    path: &'a Path,
    file: &'a mut File,
    slots: &'a [Slot],
    next: usize,
    buf: &'a mut Vec<u8>,
}

impl DayLines<'_> {
    /// The next line, or `None` after the last.
    pub(crate) fn next_line(&mut self) -> Result<Option<&[u8]>, CollectError> {
        let Some(s) = self.slots.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        self.buf.clear();
        self.buf.resize(s.len as usize, 0);
        self.file
            .seek(SeekFrom::Start(s.offset))
            .and_then(|_| self.file.read_exact(self.buf))
            .map_err(|e| CollectError::io(self.path, e))?;
        Ok(Some(self.buf.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_back_grouped_by_day_in_taken_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.spool");
        let mut s = Spool::create(p.clone()).unwrap();
        s.push(2, b"b1").unwrap();
        s.push(1, b"a1").unwrap();
        s.push(2, b"b2").unwrap();
        assert_eq!(s.len(), 3);
        let mut seen = Vec::new();
        s.by_day(|day, lines| {
            while let Some(l) = lines.next_line()? {
                seen.push((day, String::from_utf8(l.to_vec()).unwrap()));
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                (1, "a1".to_owned()),
                (2, "b1".to_owned()),
                (2, "b2".to_owned())
            ]
        );
        assert!(!p.exists());
    }
}
