//! The product through a fault proxy (tests/src/faults.rs) on the wire between its SDK clients and the
//! local endpoints. The scenarios follow.
