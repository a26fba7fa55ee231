//! patchline-targets.
