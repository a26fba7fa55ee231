//! patchline-transport.
