//! Integration tests for gantry-expr: GitHub's expression test vectors, templates, conditions
//! and robustness properties.

mod conditions;
mod realworld;
mod robustness;
mod support;
mod templates;
mod upstream;
