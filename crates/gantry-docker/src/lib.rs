//! gantry-docker
