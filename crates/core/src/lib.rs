//! The pure core of logmeter: what turns a Kinesis record's bytes into values, with no clock, no randomness and no
//! I/O. Its dependency tree holds no async runtime, HTTP stack or AWS SDK, so that purity is the compiler's to
//! enforce, not a convention (CI checks the tree).
//!
//! - [`decode`]: base64, gzip (every member, capped) and the CloudWatch Logs payload;
//! - [`extract`]: tagged meter records, text `REPORT` lines and JSON `platform.*` events, and what could not be read
//!   (quarantine reasons);
//! - [`ids`]: the name-based UUIDs every derived id is made of.
//!
//! The `logmeter` crate re-exports these modules under the same names.

#![forbid(unsafe_code)]

pub mod decode;
pub mod extract;
pub mod ids;
