//! Implementations of the ports of `application`.
//!
//! Always built: the in-memory adapters (the embedded default), the mock providers and the
//! minijinja templates. Heavy backends sit behind cargo features.
