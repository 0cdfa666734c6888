//! gantry-plan
