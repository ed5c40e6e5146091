//! Inputs as byte streams, for readers that are not record based (`tokens scan`): the same
//! files, directory walks, standard input, decompression and bounds as [`crate::read`].

use std::io::Read;

use crate::error::ReadError;
use crate::options::{Input, Limits};
use crate::source::{self, Target};

/// One input's bytes, decompressed (gzip and zstd are recognised by their magic bytes, not
/// their names) and bounded by the [`Limits`] on decompression.
pub struct InputStream {
    /// The path as given or found in a directory, `-` for standard input.
    pub name: String,
    /// `gzip`, `zstd` or empty.
    pub compression: &'static str,
    /// The decompressed bytes.
    pub reader: Box<dyn Read + Send>,
}

impl std::fmt::Debug for InputStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputStream")
            .field("name", &self.name)
            .field("compression", &self.compression)
            .finish_non_exhaustive()
    }
}

/// The inputs as byte streams, in the order [`crate::read`] reads them: files as given,
/// directories walked recursively in sorted order (hidden entries skipped; files with a log
/// extension, or one of `also`), `-` for standard input. Each stream is opened when the
/// iterator reaches it; one that cannot be opened is an error naming it, and the iteration
/// goes on with the next.
///
/// # Errors
/// [`ReadError::Open`] when an input given (or a directory under it) cannot be listed.
pub fn streams(
    inputs: &[Input],
    limits: &Limits,
    also: &[&str],
) -> Result<impl Iterator<Item = Result<InputStream, ReadError>> + use<>, ReadError> {
    let targets = source::expand_with(inputs, also)?;
    let limits = *limits;
    Ok(targets.into_iter().map(move |t: Target| {
        let opened = source::open(&t, &limits, None)?;
        Ok(InputStream {
            name: t.name(),
            compression: opened.compression.suffix().trim_start_matches('+'),
            reader: opened.reader,
        })
    }))
}
