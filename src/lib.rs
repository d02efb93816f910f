//! layerscope: what is really inside a container image.
//!
//! Data flows one way, and so do the module dependencies (checked by `tests/it/layering.rs`):
//! [`source`] opens an image (a stream, read once, has its layers analysed by [`layer`] as
//! they pass) and [`source::resolve`] walks it down to one target per platform;
//! [`blob`] verifies and decompresses a layer, [`tarwalk`] walks its entries and [`layer`]
//! keeps what the detectors need of them (with [`elf`] facts); [`fs`] merges a platform's layers
//! into the view a container sees; [`detect`] and [`provenance`] turn that view into facts;
//! [`report`] holds them and [`render`] writes them. [`pipeline`] wires the stages; [`compare`],
//! [`batch`], [`explore`] (the terminal UI's model, keys and drawing) and [`slim`] (the
//! command's file closure, planned and exported) are built on it.
//! Below everything: [`error`], [`limits`], [`diag`], [`units`], [`dates`], [`progress`],
//! [`pattern`], [`oci`] and [`findings`].

pub mod batch;
pub mod blob;
pub mod compare;
pub mod dates;
pub mod detect;
pub mod diag;
pub mod elf;
pub mod error;
pub mod explore;
pub mod findings;
pub mod fs;
pub mod layer;
pub mod limits;
pub mod oci;
pub mod pattern;
pub mod pipeline;
pub mod progress;
pub mod provenance;
pub mod render;
pub mod report;
pub mod slim;
pub mod source;
pub mod tarwalk;
pub mod units;
