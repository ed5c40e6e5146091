//! The journal: one JSON line per committed fact (a run's request, a window's outcome with the
//! lengths its data files and id file reached, a subscription started, a Purview query made).
//! A line is committed once it and its newline are on disk; a torn last line is what a kill
//! leaves and is dropped.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stormwatch_core::Timestamp;

use crate::error::CollectError;
use crate::manifest::WindowRecord;

/// One committed fact.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Entry {
    Run(RunEntry),
    Window(Box<WindowEntry>),
    Subscription(SubscriptionEntry),
    Query(QueryEntry),
}

/// What a run was asked for, as planned ranges per tenant and source.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunEntry {
    pub(crate) run: u32,
    pub(crate) started_at: Timestamp,
    pub(crate) since: Timestamp,
    pub(crate) until: Timestamp,
    pub(crate) window_secs: i64,
    pub(crate) query_window_secs: i64,
    pub(crate) tenants: Vec<RunTenant>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunTenant {
    pub(crate) tenant: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    pub(crate) cloud: String,
    pub(crate) sources: Vec<RunSource>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunSource {
    pub(crate) source: String,
    pub(crate) ranges: Vec<(Timestamp, Timestamp)>,
}

/// A window's outcome and the lengths it brought its files to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WindowEntry {
    #[serde(flatten)]
    pub(crate) record: WindowRecord,
    /// Data files (relative to the output folder) and their lengths after this window.
    #[serde(default)]
    pub(crate) files: Vec<(String, u64)>,
    /// Length of the source's id file after this window.
    #[serde(default)]
    pub(crate) ids_len: u64,
}

/// A subscription this collector started (content from before it may not exist).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SubscriptionEntry {
    pub(crate) tenant: String,
    pub(crate) source: String,
    pub(crate) started_at: Timestamp,
}

/// A Purview query made for a window, so a later run polls it instead of starting another;
/// `query_id: null` forgets it (it failed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct QueryEntry {
    pub(crate) tenant: String,
    pub(crate) from: Timestamp,
    pub(crate) to: Timestamp,
    pub(crate) query_id: Option<String>,
}

/// The open journal.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Open (or create) the journal and read what it holds, dropping a torn last line.
    pub(crate) fn open(path: &Path) -> Result<(Journal, Vec<Entry>), CollectError> {
        let io = |e| CollectError::io(path, e);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let mut entries = Vec::new();
        let mut good_end = 0u64;
        let mut torn = None;
        {
            let mut r = BufReader::new(&file);
            let mut line = Vec::new();
            let mut n = 0usize;
            loop {
                line.clear();
                let got = r.read_until(b'\n', &mut line).map_err(io)?;
                if got == 0 {
                    break;
                }
                n += 1;
                let complete = line.last() == Some(&b'\n');
                let damaged = |(line, reason): (usize, String)| CollectError::State {
                    path: path.to_path_buf(),
                    line,
                    reason,
                };
                match serde_json::from_slice::<Entry>(&line) {
                    Ok(e) if complete => {
                        // Damage followed by more lines is not what a kill leaves.
                        if let Some(t) = torn.take() {
                            return Err(damaged(t));
                        }
                        entries.push(e);
                        good_end += got as u64;
                    }
                    res => {
                        if let Some(t) = torn.take() {
                            return Err(damaged(t));
                        }
                        let reason = match res {
                            Err(e) => e.to_string(),
                            Ok(_) => "line without its end".to_owned(),
                        };
                        torn = Some((n, reason));
                    }
                }
            }
        }
        if torn.is_some() {
            file.set_len(good_end).map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        file.seek(SeekFrom::End(0)).map_err(io)?;
        Ok((
            Journal {
                path: path.to_path_buf(),
                file,
            },
            entries,
        ))
    }

    /// Append one entry and make it durable.
    pub(crate) fn append(&mut self, entry: &Entry) -> Result<(), CollectError> {
        let mut line = serde_json::to_vec(entry)
            .map_err(|e| CollectError::io(&self.path, std::io::Error::other(e)))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| CollectError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(n: i64) -> Entry {
        Entry::Subscription(SubscriptionEntry {
            tenant: "t".into(),
            source: "Audit.Exchange".into(),
            started_at: Timestamp::from_unix_seconds(n),
        })
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_earlier_damage_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.ndjson");
        {
            let (mut j, e) = Journal::open(&p).unwrap();
            assert!(e.is_empty());
            j.append(&sub(1)).unwrap();
            j.append(&sub(2)).unwrap();
        }
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"kind\":\"subscr").unwrap();
        drop(f);
        let (mut j, e) = Journal::open(&p).unwrap();
        assert_eq!(e.len(), 2);
        j.append(&sub(3)).unwrap();
        drop(j);
        let (_, e) = Journal::open(&p).unwrap();
        assert_eq!(e.len(), 3);

        let text = std::fs::read_to_string(&p).unwrap();
        let damaged = text.replacen("subscription", "subscr!ption", 1);
        std::fs::write(&p, damaged).unwrap();
        let err = Journal::open(&p).unwrap_err().to_string();
        assert!(err.contains("journal.ndjson:1:"), "{err}");
    }
}
