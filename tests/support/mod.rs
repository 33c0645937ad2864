//! Helpers shared by the integration tests.

pub mod fakes;
pub mod haproxy;
pub mod http;
pub mod pty;
pub mod sshd;
