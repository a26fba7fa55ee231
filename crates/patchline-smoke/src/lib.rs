//! patchline-smoke.
