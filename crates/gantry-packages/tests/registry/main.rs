//! Integration tests: the registry served on 127.0.0.1 with a temp data dir, driven by the
//! real npm CLI, skopeo, the docker CLI, and raw HTTP for the inputs clients never send.

mod abuse;
mod admin;
mod common;
mod docker;
mod mount;
mod names;
mod npm;
mod npm_raw;
mod oci_raw;
mod pg;
mod skopeo;
mod storage;
