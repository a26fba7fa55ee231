//! patchline-ledger.
