//! The `compare` page.
