//! gantry-expr
