#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Black-box tests: each starts the real `clef-pro` binary on a random port with a fresh
//! data folder and speaks HTTP to it.

mod ci;
mod cli_today;
mod crash;
mod csrf;
mod helpers;
mod http_channels;
mod idp;
mod lifecycle;
mod limits;
mod management;
mod members;
mod notifications;
mod operations;
mod outage;
mod privacy;
#[allow(dead_code)] // the replica test uses the outage switch
mod receiver;
mod robustness;
mod schemathesis;
mod smtp;
mod sso;
mod tenancy;
mod triage;
mod validation;
