//! Matching on worker threads while one correlator records in input order.

use std::sync::Arc;

use stormwatch_core::{Detection, Event};

use crate::correlate::{Observation, Plan};
use crate::engine::Engine;

/// An engine's rules and what one [`crate::Correlator`] observes of each event, for matching
/// on many threads while that correlator records the observations in input order (it is
/// `Send + Sync` and holds no borrow of the correlator).
#[derive(Debug, Clone)]
pub struct Scanner {
    engine: Engine,
    plan: Arc<Plan>,
}

impl Scanner {
    pub(crate) fn new(engine: Engine, plan: Arc<Plan>) -> Self {
        Scanner { engine, plan }
    }

    /// The detections of `ev` (pushed into `out`) and what it contributes to the correlator's
    /// correlations (pass it to [`crate::Correlator::record`] in input order). `parsed` is
    /// `ev.raw` already parsed, if the caller has it at hand: the record is then not parsed
    /// again.
    pub fn scan(
        &self,
        ev: &Event,
        parsed: Option<&sonic_rs::Value>,
        out: &mut Vec<Detection>,
    ) -> Observation {
        let inner = &self.engine.inner;
        if !self.plan.same_engine(inner) {
            self.engine.scan(ev, out);
            return self.plan.extract(ev);
        }
        let mut hits = Vec::new();
        let mut why = Vec::new();
        let mut obs = Observation::default();
        inner.matching_then(ev, parsed, None, &mut hits, Some(&mut why), |root, hits| {
            obs = self.plan.observation(ev, hits, root);
        });
        self.engine.report(ev, &hits, why, out);
        obs
    }
}
