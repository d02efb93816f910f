//! The integration tests, one binary (one link, one build): each module a subject.

mod analysis;
mod bad_input;
mod batch;
mod catalogue;
mod cli;
mod common;
mod compare;
mod elf_agreement;
mod fixtures;
mod hostile;
mod layering;
mod lifecycle;
mod memory;
mod registry;
mod schema;
mod slim;
mod slim_docker;
