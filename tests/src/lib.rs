//! Contract suites (one per port) and the harness that starts real servers for tests.
