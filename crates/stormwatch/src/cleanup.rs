//! Temporary directories removed when the process is interrupted or terminated (Ctrl-C,
//! SIGTERM, SIGHUP): they are removed on a normal end by their owners, but a signal ends the
//! process without running destructors.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once, PoisonError};

/// Exit status after an interrupt, as shells report a process killed by SIGINT.
const INTERRUPTED: i32 = 130;

static DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// Handle interrupt and termination signals from now on: remove every registered directory,
/// then exit with status 130. Installing can fail (another handler is set); the signals then
/// keep their default action, and a note says so.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        let set = ctrlc::set_handler(|| {
            remove_all();
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

/// Remove `dir` (recursively) if the process is interrupted before [`forget`] is called.
pub(crate) fn remember(dir: &Path) {
    let mut dirs = DIRS.lock().unwrap_or_else(PoisonError::into_inner);
    if !dirs.iter().any(|d| d == dir) {
        dirs.push(dir.to_path_buf());
    }
}

/// `dir` was removed by its owner.
pub(crate) fn forget(dir: &Path) {
    DIRS.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|d| d != dir);
}

fn remove_all() {
    let dirs = std::mem::take(&mut *DIRS.lock().unwrap_or_else(PoisonError::into_inner));
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}
