//! Sample generator (stub).
