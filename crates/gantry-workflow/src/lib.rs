//! gantry-workflow
