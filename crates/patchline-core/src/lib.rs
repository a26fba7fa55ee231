//! patchline-core.
