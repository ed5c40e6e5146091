use std::path::{Path, PathBuf};

use stormwatch_core::{Event, InputStats};
use stormwatch_read::{Input, InputFormat, ReadOptions, read_all, read_bytes};

/// A file or folder of the workspace's `testdata/` (public samples; see its PROVENANCE.md).
/// Panics, naming the path, when it is missing: a test never passes without its data.
pub(crate) fn corpus(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel);
    assert!(p.exists(), "test data missing: {}", p.display());
    p
}

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub(crate) fn read_path(p: &Path) -> (Vec<Event>, InputStats) {
    read_all(&[Input::Path(p.to_path_buf())], &ReadOptions::default()).unwrap()
}

pub(crate) fn read_text(name: &str, text: impl Into<Vec<u8>>) -> (Vec<Event>, InputStats) {
    read_bytes(name, text.into(), &ReadOptions::default()).unwrap()
}

pub(crate) fn read_as(
    name: &str,
    text: impl Into<Vec<u8>>,
    format: InputFormat,
) -> (Vec<Event>, InputStats) {
    let opts = ReadOptions {
        format: Some(format),
        ..ReadOptions::default()
    };
    read_bytes(name, text.into(), &opts).unwrap()
}

/// Every InternetMessageId of a MailItemsAccessed event, in order.
pub(crate) fn message_ids(ev: &Event) -> Vec<String> {
    ev.mail
        .as_ref()
        .map(|m| {
            m.folders
                .iter()
                .flat_map(|f| f.items.iter().map(|i| i.internet_message_id.clone()))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn ts(s: &str) -> stormwatch_core::Timestamp {
    stormwatch_core::Timestamp::parse(s).unwrap()
}
