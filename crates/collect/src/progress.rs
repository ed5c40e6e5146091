//! A progress bar per tenant and source, drawn on standard error when it is a terminal.

use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bars of one run (none when not drawing).
pub(crate) struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    pub(crate) fn new(draw: bool) -> Self {
        let multi = draw.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress { multi }
    }

    /// A bar for `total` windows of one source of one tenant.
    pub(crate) fn bar(&self, tenant: &str, source: &str, total: u64) -> Bar {
        let Some(m) = &self.multi else {
            return Bar(None);
        };
        let bar = m.add(ProgressBar::new(total));
        let style = ProgressStyle::with_template(
            "{prefix:.bold} [{bar:30}] {pos}/{len} windows {msg} ({elapsed})",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        let short = tenant.get(..8).unwrap_or(tenant);
        bar.set_prefix(format!("{short}… {source:<27}"));
        bar.enable_steady_tick(Duration::from_millis(250));
        Bar(Some(bar))
    }
}

/// One bar.
pub(crate) struct Bar(Option<ProgressBar>);

impl Bar {
    pub(crate) fn window_done(&self, records_so_far: u64) {
        if let Some(b) = &self.0 {
            b.inc(1);
            b.set_message(format!("{records_so_far} records"));
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish();
        }
    }
}
