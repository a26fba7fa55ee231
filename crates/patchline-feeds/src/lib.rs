//! patchline-feeds.
