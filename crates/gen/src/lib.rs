//! Synthetic M365 tenants with planted forged-token intrusions and ground truth, in every input format stormwatch reads.
#![deny(missing_docs)]
