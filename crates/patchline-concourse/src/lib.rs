//! patchline-concourse.
