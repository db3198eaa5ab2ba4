//! crpbot-risk: the inline circuit breaker.
//!
//! What will live here: the pre-trade checks every order intent passes before a venue —
//! FTMO-style daily and total loss limits on equity, position and open-position limits, an
//! order-rate token bucket, order size and price collars, stale-book and duplicate rejection,
//! a correlation guard and a latching kill switch — and the paper venue that fills accepted
//! orders against the live book.
//!
//! Boundary: depends on crpbot-core only; strategies cannot depend on it, so no strategy code
//! can reach a limit or clear a halt.
#![forbid(unsafe_code)]
