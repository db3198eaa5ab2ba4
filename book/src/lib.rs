//! crpbot-book (in progress).
