//! Work done on each event on the reader's worker threads, while its record's parse is at
//! hand.

use sonic_rs::Value;
use stormwatch_core::Event;

/// Called by [`crate::read_inspect`] on every kept event (after the time and tenant filters),
/// on the reader's worker threads, with the parse of `Event::raw` when the reader has it: a
/// consumer that would parse `Event::raw` again (a rule engine, say) does its work here
/// instead, while the parse is in cache, and in parallel.
///
/// What it makes of a run of consecutive events is collected in an [`Inspect::Out`] and handed
/// to the sink with those events, in input order.
pub trait Inspect: Sync {
    /// What the inspection of a run of events yields.
    type Out: Send + Default;

    /// Inspect `event`, adding to `out`. `parsed` is `event.raw` parsed; `None` when the raw
    /// text is not the record the reader parsed (a Defender `RawEventData` or Graph
    /// `auditData` record inside its row), for the inspector to parse if it needs to.
    fn inspect(&self, event: &Event, parsed: Option<&Value>, out: &mut Self::Out);

    /// Whether the sink wants the events themselves. When it does not, each worker drops its
    /// events once inspected (on the thread that made them, which frees their memory
    /// faster than a free from another thread) and the sink gets an empty vector with the
    /// inspection of each run.
    fn keeps_events(&self) -> bool {
        true
    }
}

/// No inspection, for [`crate::read`].
pub(crate) struct Nothing;

impl Inspect for Nothing {
    type Out = ();

    fn inspect(&self, _: &Event, _: Option<&Value>, (): &mut ()) {}
}
