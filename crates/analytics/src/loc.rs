//! A kept record of a context: its time and packed location, ordered as `(time, Location)`.

use stormwatch_core::{Location, PackedLocation};

/// A kept record: its time and where it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Kept {
    pub(crate) t: i64,
    loc: PackedLocation,
}

impl Kept {
    pub(crate) fn packed(t: i64, loc: PackedLocation) -> Kept {
        Kept { t, loc }
    }

    /// Where the record is, packed.
    pub(crate) fn packed_location(&self) -> &PackedLocation {
        &self.loc
    }

    pub(crate) fn location(&self) -> Location {
        self.loc.location()
    }
}
