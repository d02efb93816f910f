//! The `summary` page.
