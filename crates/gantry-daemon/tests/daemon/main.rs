//! The daemon over real HTTP on 127.0.0.1 with temp data directories.

mod abuse;
mod actions;
mod api;
mod auth;
mod bounds;
mod browser;
mod cluster;
mod cluster_packages;
mod common;
mod concurrency;
mod crash;
mod drain;
mod durability;
mod engine;
mod page_escaping;
mod pg;
mod pg_shared;
mod render;
mod schedule;
mod services;
mod services_docker;
mod store_contract;
mod webhook;
