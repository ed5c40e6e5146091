//! Errors of the detector.

/// What can go wrong saving or restoring a detector's state.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The bytes are not a detector snapshot, are corrupt, or come from another format version.
    #[error("detector snapshot: {reason}")]
    Snapshot {
        /// Why.
        reason: String,
    },
    /// The analytics' thread could not start, or stopped on an internal error.
    #[error("analytics: {reason}")]
    AnalyticsThread {
        /// Why.
        reason: String,
    },
    /// A snapshot was asked for while a decision of the analytics is under way
    /// ([`crate::Detector::deciding`]): [`crate::Detector::settle`] first.
    #[error("a decision of the analytics is under way: settle it before taking a snapshot")]
    Deciding,
    /// The correlator's part of a snapshot could not be read back.
    #[error(transparent)]
    Sigma(#[from] stormwatch_sigma::SigmaError),
    /// The analytics' part of a snapshot could not be read back.
    #[error(transparent)]
    Analytics(#[from] stormwatch_analytics::AnalyticsError),
}
