//! Impact assessment: actor context seeded and expanded, exposure per organisation, mailbox, folder and message, with evidence limits.
#![deny(missing_docs)]
