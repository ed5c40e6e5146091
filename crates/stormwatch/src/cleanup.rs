//! Temporary directories removed when the process is interrupted or terminated (Ctrl-C,
//! SIGTERM, SIGHUP): they are removed on a normal end by their owners, but a signal ends the
//! process without running destructors.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once, PoisonError};

/// Exit status after an interrupt, as shells report a process killed by SIGINT.
const INTERRUPTED: i32 = 130;

/// What to remove: directories under `parent` whose names start with `prefix`.
#[derive(Debug, PartialEq, Eq)]
struct Prefixed {
    parent: PathBuf,
    prefix: String,
}

static DIRS: Mutex<Vec<Prefixed>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// How often removal is tried: a thread still writing may add a file while a directory is
/// being removed.
const ATTEMPTS: usize = 3;

/// Handle interrupt and termination signals from now on: remove every registered directory,
/// then exit with status 130. Installing can fail (another handler is set); the signals then
/// keep their default action, and a note says so.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        let set = ctrlc::set_handler(|| {
            // Held until the process exits: nothing is registered or forgotten meanwhile.
            let dirs = DIRS.lock().unwrap_or_else(PoisonError::into_inner);
            for _ in 0..ATTEMPTS {
                if remove_all(&dirs) {
                    break;
                }
            }
            eprintln!("\nstormwatch: interrupted; temporary files removed");
            std::process::exit(INTERRUPTED);
        });
        if let Err(e) = set {
            eprintln!(
                "stormwatch: note: cannot handle interrupts ({e}); an interrupted run may leave temporary files"
            );
        }
    });
}

/// Remove the directories under `parent` whose names start with `prefix` (made by this
/// process, perhaps not yet) if the process is interrupted before [`forget`] is called.
pub(crate) fn remember(parent: &Path, prefix: &str) {
    let p = Prefixed {
        parent: parent.to_path_buf(),
        prefix: prefix.to_owned(),
    };
    let mut dirs = DIRS.lock().unwrap_or_else(PoisonError::into_inner);
    if !dirs.contains(&p) {
        dirs.push(p);
    }
}

/// What [`remember`] named was removed by its owner.
pub(crate) fn forget(parent: &Path, prefix: &str) {
    DIRS.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|d| d.parent != parent || d.prefix != prefix);
}

/// Remove what `dirs` name; whether nothing of it is left.
fn remove_all(dirs: &[Prefixed]) -> bool {
    let mut clean = true;
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d.parent) else {
            continue;
        };
        for e in entries.flatten() {
            let named = e
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&d.prefix));
            if named
                && e.file_type().is_ok_and(|t| t.is_dir())
                && std::fs::remove_dir_all(e.path()).is_err()
            {
                clean = false;
            }
        }
    }
    clean
}
