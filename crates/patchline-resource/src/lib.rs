//! patchline-resource.
