//! The daemon over real HTTP on 127.0.0.1 with temp data directories.

mod api;
mod common;
mod concurrency;
mod crash;
mod drain;
mod durability;
mod render;
mod webhook;
