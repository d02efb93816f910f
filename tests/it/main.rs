//! The integration tests, one binary (one link, one build): each module a subject.

mod analysis;
mod bad_input;
mod batch;
mod catalogue;
mod cli;
mod common;
mod compare;
mod elf_agreement;
mod explore;
mod fixtures;
mod hostile;
mod html;
mod layering;
mod lifecycle;
mod local;
mod memory;
mod registry;
mod schema;
mod slim;
mod slim_docker;
