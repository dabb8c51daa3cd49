//! Shared test helpers live in `it/`.
