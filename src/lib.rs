//! layerscope: what is really inside a container image.
//!
//! Data flows one way: [`source`] opens an image and [`oci::resolve`] walks it down to one
//! target per platform; [`layer`] reads each distinct layer once (in parallel) into a delta;
//! [`fs`] merges a platform's deltas into the view a container sees; [`detect`] turns that view
//! into facts; [`report`] holds them and [`render`] writes them. [`app`] wires the stages.

pub mod app;
pub mod batch;
pub mod blob;
pub mod compare;
pub mod detect;
pub mod diag;
pub mod elf;
pub mod error;
pub mod findings;
pub mod fs;
pub mod layer;
pub mod limits;
pub mod oci;
pub mod provenance;
pub mod render;
pub mod report;
pub mod source;
