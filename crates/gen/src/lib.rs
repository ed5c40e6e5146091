//! Synthetic M365 tenants with planted forged-token intrusions and ground truth, in every input
//! format stormwatch reads.
//!
//! Two uses:
//! - [`Scenario`]: a month of normal mail life in three tenants, look-alike decoys and a planted
//!   Storm-0558-style intrusion, written in every format from the same records, with its
//!   [`Truth`].
//! - [`volume::run`]: millions of records streamed with bounded memory, for benchmarks.
//!
//! ```
//! use stormwatch_gen::{Scenario, ScenarioOptions};
//! let s = Scenario::generate(&ScenarioOptions { seed: 7, ..ScenarioOptions::default() });
//! assert!(!s.truth().actor_record_ids.is_empty());
//! assert_eq!(s.truth().unaudited_tenants.len(), 1);
//! ```
#![deny(missing_docs)]

mod decoys;
mod error;
mod ids;
mod json;
mod output;
mod record;
mod render;
mod rng;
mod scenario;
mod timefmt;
pub mod truth;
pub mod volume;
mod world;
mod write;

use std::path::{Path, PathBuf};

pub use error::GenError;
pub use output::{Compression, Format};
pub use scenario::ScenarioOptions;
pub use truth::Truth;
pub use volume::{SigninsMode, VolumeOptions, VolumeSummary};

use crate::output::{Sink, io_err};
use crate::record::Ual;

/// A generated scenario: records in memory (a few thousand) and their ground truth.
#[derive(Debug, Clone)]
pub struct Scenario {
    data: scenario::Data,
    truth: Truth,
    seed: u64,
}

/// Where the ground truth goes inside an output directory.
pub const TRUTH_PATH: &str = "truth/truth.json";

impl Scenario {
    /// Generate a scenario (deterministic from the options).
    #[must_use]
    pub fn generate(opts: &ScenarioOptions) -> Scenario {
        let data = scenario::generate(opts);
        let truth = truth::build(&data, opts.seed);
        Scenario {
            data,
            truth,
            seed: opts.seed,
        }
    }

    /// The ground truth.
    #[must_use]
    pub fn truth(&self) -> &Truth {
        &self.truth
    }

    /// The seed.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Write the scenario in each format, one sub-directory per format (named as
    /// [`Format::name`]), and the ground truth at [`TRUTH_PATH`]. Returns the files written.
    ///
    /// # Errors
    /// [`GenError::Io`] when a file cannot be written.
    pub fn write(
        &self,
        dir: &Path,
        formats: &[Format],
        compression: Compression,
    ) -> Result<Vec<PathBuf>, GenError> {
        let mut files = Vec::new();
        for &f in formats {
            files.extend(write::write_format(
                &self.data,
                f,
                &dir.join(f.name()),
                None,
                compression,
                &|_| true,
            )?);
        }
        files.push(self.write_truth(&dir.join(TRUTH_PATH))?);
        Ok(files)
    }

    /// Write the committed example: the first tenant's UAL as NDJSON, the second's as a
    /// Purview CSV (newest first), the unaudited tenant's as a Management API content blob,
    /// all sign-ins in the Azure Monitor shape (each file compressed as asked), and the ground
    /// truth beside the directory at [`example_truth_path`].
    ///
    /// # Errors
    /// [`GenError::Io`] when a file cannot be written.
    pub fn write_example(
        &self,
        dir: &Path,
        compression: Compression,
    ) -> Result<Vec<PathBuf>, GenError> {
        let d = &self.data;
        let tenant_of = |r: &Ual| d.world.users[r.mailbox].tenant;
        let none = compression;
        let mut files = Vec::new();
        files.extend(write::write_format(
            d,
            Format::Ndjson,
            dir,
            Some("ual-agency.ndjson"),
            none,
            &|r| tenant_of(r) == 0,
        )?);
        files.extend(write::write_format(
            d,
            Format::Csv,
            dir,
            Some("purview-ministry.csv"),
            none,
            &|r| tenant_of(r) == 1,
        )?);
        files.extend(write::write_format(
            d,
            Format::JsonArray,
            dir,
            Some("api-contractor"),
            none,
            &|r| tenant_of(r) == 2,
        )?);
        files.extend(write::write_format(
            d,
            Format::SigninsAzureMonitor,
            dir,
            Some("signins-azure-monitor.json"),
            none,
            &|_| true,
        )?);
        files.push(self.write_truth(&example_truth_path(dir))?);
        Ok(files)
    }

    /// Write the ground truth (pretty JSON) to `path`.
    ///
    /// # Errors
    /// [`GenError::Io`] or [`GenError::Json`].
    pub fn write_truth(&self, path: &Path) -> Result<PathBuf, GenError> {
        write_truth(&self.truth, path)
    }
}

/// Where [`Scenario::write_example`] puts the ground truth: beside the example directory, as
/// `<dir>.truth.json`, so that hunting the directory reads audit data only.
#[must_use]
pub fn example_truth_path(dir: &Path) -> PathBuf {
    let name = dir.file_name().map_or_else(
        || "example".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    dir.with_file_name(format!("{name}.truth.json"))
}

/// Write a ground truth (pretty JSON, trailing newline) to `path`, creating directories.
///
/// # Errors
/// [`GenError::Io`] or [`GenError::Json`].
pub fn write_truth(truth: &Truth, path: &Path) -> Result<PathBuf, GenError> {
    let (mut sink, p) = Sink::create(path, Compression::None)?;
    let mut text = serde_json::to_string_pretty(truth)?;
    text.push('\n');
    std::io::Write::write_all(&mut sink, text.as_bytes()).map_err(io_err(&p))?;
    sink.finish().map_err(io_err(&p))?;
    Ok(p)
}
