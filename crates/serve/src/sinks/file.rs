//! The file sink: one JSON line per message, appended; the file is reopened when it is
//! moved away (log rotation).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use stormwatch_store::OutboxItem;

use super::Failure;

pub(crate) struct FileSink {
    path: PathBuf,
    fsync: bool,
    open: Option<(std::fs::File, Option<(u64, u64)>)>,
}

#[cfg(unix)]
fn identity(m: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

impl FileSink {
    pub(crate) fn new(path: &Path, fsync: bool) -> FileSink {
        FileSink {
            path: path.to_owned(),
            fsync,
            open: None,
        }
    }

    fn file(&mut self) -> std::io::Result<&mut std::fs::File> {
        let on_disk = std::fs::metadata(&self.path)
            .ok()
            .and_then(|m| identity(&m));
        let stale = match &self.open {
            Some((_, id)) => on_disk.is_none() || *id != on_disk,
            None => true,
        };
        if stale {
            if let Some(parent) = self.path.parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)?;
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            let id = f.metadata().ok().and_then(|m| identity(&m));
            self.open = Some((f, id));
        }
        match &mut self.open {
            Some((f, _)) => Ok(f),
            None => Err(std::io::Error::other("file not open")),
        }
    }

    pub(crate) async fn deliver(&mut self, item: &OutboxItem) -> Result<(), Failure> {
        let mut line = Vec::with_capacity(item.payload.len() + 1);
        line.extend_from_slice(item.payload.as_bytes());
        line.push(b'\n');
        let fsync = self.fsync;
        let path = self.path.display().to_string();
        // Small appends: done in place rather than on a blocking thread.
        let f = self
            .file()
            .map_err(|e| Failure::retry(format!("{path}: {e}")))?;
        f.write_all(&line)
            .and_then(|()| if fsync { f.sync_data() } else { Ok(()) })
            .map_err(|e| {
                self.open = None;
                Failure::retry(format!("{path}: {e}"))
            })
    }
}
