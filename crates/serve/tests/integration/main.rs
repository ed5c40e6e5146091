//! Integration tests of the service.
