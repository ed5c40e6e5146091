//! The output folder and its state.
//!
//! Data: `OUT/<tenant>/<source>/<YYYY-MM-DD>.ndjson.gz`, one gzip member appended per window
//! and day (gzip readers read the members as one stream). State, in the hidden
//! `OUT/.stormwatch-collect/` (directory walks skip it): the journal, one id file per tenant and
//! source (16 bytes per record written), the spool of windows in progress, and a lock.
//!
//! A window commits in this order: its data appended and synced, its ids appended and synced,
//! then its journal line written and synced. The journal holds the length every file had after
//! each commit; on start, anything past those lengths (a window a kill interrupted) is cut off,
//! so a record is on disk exactly once, whenever the process died.

pub(crate) mod journal;
pub(crate) mod spool;

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use flate2::{Compression, GzBuilder};
use stormwatch_core::Timestamp;

use crate::error::CollectError;
use crate::source::{Family, Source};
use journal::{Entry, Journal, WindowEntry};
use spool::Spool;

type KeySet = HashSet<u128, foldhash::fast::RandomState>;
/// One lock per tenant and source: its commits append to the same files, one after another.
type Writers = HashMap<(String, Source), Arc<Mutex<()>>>;

/// The state directory inside the output folder.
pub(crate) const STATE_DIR: &str = ".stormwatch-collect";

/// Record ids of one family of one tenant: written ones, and ones claimed by windows in
/// progress.
#[derive(Default)]
struct Seen {
    committed: KeySet,
    claimed: KeySet,
}

/// The output folder, open for one run.
pub(crate) struct Store {
    out: PathBuf,
    state: PathBuf,
    journal: Mutex<Journal>,
    entries: Mutex<Vec<Entry>>,
    lengths: Mutex<HashMap<String, u64>>,
    ids_lengths: Mutex<HashMap<(String, Source), u64>>,
    seen: Mutex<HashMap<(String, Family), Seen>>,
    writers: Mutex<Writers>,
    _lock: File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("out", &self.out)
            .finish_non_exhaustive()
    }
}

/// `<tenant>/<source>/<date>.ndjson.gz`.
pub(crate) fn data_path(tenant: &str, source: Source, day: i64) -> String {
    let date = Timestamp::from_unix_seconds(day * 86_400).date_string();
    format!("{tenant}/{}/{date}.ndjson.gz", source.name())
}

fn ids_rel(tenant: &str, source: Source) -> String {
    format!("ids/{tenant}/{}.bin", source.name())
}

impl Store {
    /// Open the folder: take the lock, read the journal, cut every file back to its committed
    /// length, and load the ids already written.
    pub(crate) fn open(out: &Path) -> Result<Store, CollectError> {
        let state = out.join(STATE_DIR);
        for d in [out.to_path_buf(), state.clone(), state.join("spool")] {
            std::fs::create_dir_all(&d).map_err(|e| CollectError::io(&d, e))?;
        }
        let lock_path = state.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| CollectError::io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(CollectError::Locked(out.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(CollectError::io(&lock_path, e)),
        }
        let (journal, entries) = Journal::open(&state.join("journal.ndjson"))?;
        let mut lengths: HashMap<String, u64> = HashMap::new();
        let mut ids_lengths: HashMap<(String, Source), u64> = HashMap::new();
        for e in &entries {
            if let Entry::Window(w) = e {
                for (rel, len) in &w.files {
                    lengths.insert(rel.clone(), *len);
                }
                if let Some(s) = Source::from_name(&w.record.source) {
                    ids_lengths.insert((w.record.tenant.clone(), s), w.ids_len);
                }
            }
        }
        restore_data(out, &lengths)?;
        let mut seen: HashMap<(String, Family), Seen> = HashMap::new();
        restore_ids(&state, &ids_lengths, &mut seen)?;
        // Windows a kill interrupted left their spools.
        let spool_dir = state.join("spool");
        if let Ok(rd) = std::fs::read_dir(&spool_dir) {
            for e in rd.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(Store {
            out: out.to_path_buf(),
            state,
            journal: Mutex::new(journal),
            entries: Mutex::new(entries),
            lengths: Mutex::new(lengths),
            ids_lengths: Mutex::new(ids_lengths),
            seen: Mutex::new(seen),
            writers: Mutex::new(HashMap::new()),
            _lock: lock,
        })
    }

    /// Every entry, committed before and during this run.
    pub(crate) fn entries(&self) -> Vec<Entry> {
        self.entries.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Append a fact that carries no data (a run, a subscription, a query).
    pub(crate) fn note(&self, entry: Entry) -> Result<(), CollectError> {
        let mut j = self.journal.lock().map_err(|_| poisoned(&self.state))?;
        j.append(&entry)?;
        if let Ok(mut e) = self.entries.lock() {
            e.push(entry);
        }
        Ok(())
    }

    /// A new spool for a window.
    pub(crate) fn spool(&self, name: &str) -> Result<Spool, CollectError> {
        Spool::create(self.state.join("spool").join(name))
    }

    /// Claim a record id for a window in progress: `false` when it was written already or
    /// another window holds it.
    pub(crate) fn claim(&self, tenant: &str, family: Family, key: u128) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return true;
        };
        let s = seen.entry((tenant.to_owned(), family)).or_default();
        if s.committed.contains(&key) {
            return false;
        }
        s.claimed.insert(key)
    }

    /// Commit a window: its spooled records appended to the day files, its ids to the id file,
    /// then its journal line. Blocking (run it off the async workers).
    pub(crate) fn commit(
        &self,
        source: Source,
        spool: Spool,
        record: crate::manifest::WindowRecord,
    ) -> Result<(), CollectError> {
        let tenant = record.tenant.clone();
        let writer = {
            let mut w = self.writers.lock().map_err(|_| poisoned(&self.state))?;
            Arc::clone(w.entry((tenant.clone(), source)).or_default())
        };
        let _serial = writer.lock().map_err(|_| poisoned(&self.state))?;
        let keys = spool.keys.clone();
        let mut files = Vec::new();
        spool.by_day(|day, lines| {
            let rel = data_path(&tenant, source, day);
            let path = self.out.join(&rel);
            // Commits of this tenant and source are serialised: the length cannot change
            // under us.
            let start = self
                .lengths
                .lock()
                .map(|l| l.get(&rel).copied().unwrap_or(0))
                .map_err(|_| poisoned(&self.state))?;
            let len = append_member(&path, start, lines)?;
            files.push((rel, len));
            Ok(())
        })?;
        let ids_path = self.state.join(ids_rel(&tenant, source));
        let ids_key = (tenant.clone(), source);
        let ids_start = self
            .ids_lengths
            .lock()
            .map(|l| l.get(&ids_key).copied().unwrap_or(0))
            .map_err(|_| poisoned(&self.state))?;
        let ids_len = append_ids(&ids_path, ids_start, &keys)?;
        let entry = Entry::Window(Box::new(WindowEntry {
            record,
            files: files.clone(),
            ids_len,
        }));
        {
            let mut j = self.journal.lock().map_err(|_| poisoned(&self.state))?;
            j.append(&entry)?;
        }
        if let Ok(mut l) = self.lengths.lock() {
            for (rel, len) in files {
                l.insert(rel, len);
            }
        }
        if let Ok(mut l) = self.ids_lengths.lock() {
            l.insert(ids_key, ids_len);
        }
        if let Ok(mut e) = self.entries.lock() {
            e.push(entry);
        }
        if let Ok(mut seen) = self.seen.lock() {
            let s = seen.entry((tenant, source.family())).or_default();
            for k in keys {
                s.claimed.remove(&k);
                s.committed.insert(k);
            }
        }
        Ok(())
    }

    /// Write the manifest atomically (temporary file, sync, rename, sync the folder).
    pub(crate) fn write_manifest(
        &self,
        manifest: &crate::manifest::Manifest,
    ) -> Result<PathBuf, CollectError> {
        let path = self.out.join("manifest.json");
        let tmp = self.state.join("manifest.json.tmp");
        let io = |e| CollectError::io(&path, e);
        let mut text =
            serde_json::to_vec_pretty(manifest).map_err(|e| io(std::io::Error::other(e)))?;
        text.push(b'\n');
        let mut f = File::create(&tmp).map_err(io)?;
        f.write_all(&text).and_then(|()| f.sync_all()).map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(io)?;
        sync_dir(&self.out);
        Ok(path)
    }
}

fn poisoned(p: &Path) -> CollectError {
    CollectError::io(
        p,
        std::io::Error::other("a worker panicked while holding the state"),
    )
}

/// Make a new directory entry durable.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Append one gzip member holding `lines` to the file whose committed length is `start`;
/// return the new length.
fn append_member(
    path: &Path,
    start: u64,
    lines: &mut spool::DayLines<'_>,
) -> Result<u64, CollectError> {
    let io = |e| CollectError::io(path, e);
    let dir = path.parent().unwrap_or(Path::new("."));
    let new_dir = !dir.exists();
    std::fs::create_dir_all(dir).map_err(|e| CollectError::io(dir, e))?;
    let existed = path.exists();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io)?;
    // Whatever lies past the committed length is a failed earlier attempt.
    file.set_len(start).map_err(io)?;
    let mut file = file;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(start)).map_err(io)?;
    {
        let mut gz = GzBuilder::new()
            .mtime(0)
            .write(BufWriter::new(&mut file), Compression::default());
        while let Some(line) = lines.next_line()? {
            gz.write_all(line)
                .and_then(|()| gz.write_all(b"\n"))
                .map_err(io)?;
        }
        let mut w = gz.finish().map_err(io)?;
        w.flush().map_err(io)?;
    }
    file.sync_data().map_err(io)?;
    if !existed {
        sync_dir(dir);
    }
    if new_dir && let Some(parent) = dir.parent() {
        sync_dir(parent);
    }
    file.metadata().map(|m| m.len()).map_err(io)
}

fn append_ids(path: &Path, start: u64, keys: &[u128]) -> Result<u64, CollectError> {
    let io = |e| CollectError::io(path, e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CollectError::io(dir, e))?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io)?;
    file.set_len(start).map_err(io)?;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(start)).map_err(io)?;
    let mut buf = Vec::with_capacity(keys.len() * 16);
    for k in keys {
        buf.extend_from_slice(&k.to_le_bytes());
    }
    file.write_all(&buf)
        .and_then(|()| file.sync_data())
        .map_err(io)?;
    Ok(start + buf.len() as u64)
}

/// Cut data files back to their committed lengths; remove the ones no commit names.
fn restore_data(out: &Path, lengths: &HashMap<String, u64>) -> Result<(), CollectError> {
    let Ok(tenants) = std::fs::read_dir(out) else {
        return Ok(());
    };
    for t in tenants.flatten() {
        let tname = t.file_name().to_string_lossy().into_owned();
        if !crate::options::is_guid(&tname) || !t.path().is_dir() {
            continue;
        }
        let Ok(sources) = std::fs::read_dir(t.path()) else {
            continue;
        };
        for s in sources.flatten() {
            let sname = s.file_name().to_string_lossy().into_owned();
            if Source::from_name(&sname).is_none() || !s.path().is_dir() {
                continue;
            }
            let Ok(files) = std::fs::read_dir(s.path()) else {
                continue;
            };
            for f in files.flatten() {
                let fname = f.file_name().to_string_lossy().into_owned();
                if !fname.ends_with(".ndjson.gz") {
                    continue;
                }
                let rel = format!("{tname}/{sname}/{fname}");
                let path = f.path();
                let len = f.metadata().map_err(|e| CollectError::io(&path, e))?.len();
                match lengths.get(&rel) {
                    None => {
                        std::fs::remove_file(&path).map_err(|e| CollectError::io(&path, e))?;
                    }
                    Some(&want) if len > want => {
                        let file = OpenOptions::new()
                            .write(true)
                            .open(&path)
                            .map_err(|e| CollectError::io(&path, e))?;
                        file.set_len(want)
                            .and_then(|()| file.sync_data())
                            .map_err(|e| CollectError::io(&path, e))?;
                    }
                    Some(&want) if len < want => {
                        return Err(shorter(&path, len, want));
                    }
                    Some(_) => {}
                }
            }
        }
    }
    for (rel, want) in lengths {
        let path = out.join(rel);
        if *want > 0 && !path.exists() {
            return Err(shorter(&path, 0, *want));
        }
    }
    Ok(())
}

fn shorter(path: &Path, len: u64, want: u64) -> CollectError {
    CollectError::io(
        path,
        std::io::Error::other(format!(
            "{len} bytes where {want} were collected: the folder was changed outside stormwatch; collect into a new folder"
        )),
    )
}

fn restore_ids(
    state: &Path,
    lengths: &HashMap<(String, Source), u64>,
    seen: &mut HashMap<(String, Family), Seen>,
) -> Result<(), CollectError> {
    for ((tenant, source), want) in lengths {
        let path = state.join(ids_rel(tenant, *source));
        let io = |e| CollectError::io(&path, e);
        let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && *want == 0 => continue,
            Err(e) => return Err(io(e)),
        };
        let len = file.metadata().map_err(io)?.len();
        if len < *want {
            return Err(shorter(&path, len, *want));
        }
        if len > *want {
            file.set_len(*want)
                .and_then(|()| file.sync_data())
                .map_err(io)?;
        }
        let mut buf = Vec::new();
        file.read_to_end(&mut buf).map_err(io)?;
        let set = &mut seen
            .entry((tenant.clone(), source.family()))
            .or_default()
            .committed;
        for chunk in buf.chunks_exact(16) {
            let mut b = [0u8; 16];
            b.copy_from_slice(chunk);
            set.insert(u128::from_le_bytes(b));
        }
    }
    Ok(())
}
