//! crpbot-feeds (in progress).
