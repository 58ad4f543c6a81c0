//! Regulatory sandbox: rulebooks and the deterministic replay of trials. Pure: no I/O, no clock.
