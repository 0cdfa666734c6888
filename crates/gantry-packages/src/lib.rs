//! gantry-packages
