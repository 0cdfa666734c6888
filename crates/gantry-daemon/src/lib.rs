//! gantry-daemon
