//! Image sources: one file per transport behind [`ImageSource`], and the parsing of references.

pub mod docker_archive;
pub mod files;
pub mod layout;
pub mod registry;
pub mod resolve;

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::oci::Descriptor;

/// Where an image comes from. Everything downstream sees descriptors and `Read` streams.
pub trait ImageSource: Send + Sync {
    /// The reference as the user gave it.
    fn reference(&self) -> &str;
    /// The descriptors the reference names (an index, manifests), and the pin to print.
    fn roots(&self) -> Result<Roots>;
    /// Opens a blob by digest. The caller checks size and digest while reading.
    fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send + '_>>;
    /// What a registry said about the image (set once `roots` has run); `None` elsewhere.
    fn registry_facts(&self) -> Option<registry::RegistryFacts> {
        None
    }
}

/// What a reference resolves to at the top.
#[derive(Debug, Clone)]
pub struct Roots {
    pub descriptors: Vec<Descriptor>,
    /// The digest to pin the reference by, when there is one.
    pub pin: Option<String>,
    /// Notes about how the source was read (e.g. a synthesised manifest).
    pub notes: Vec<String>,
    /// The image name the source records (`docker.io/library/alpine:3.20`), if any.
    pub name: Option<String>,
    /// The tag the reference selected or the source records for the image, if any.
    pub tag: Option<String>,
}

/// Annotation put on descriptors a source made up itself (legacy docker-archive), whose
/// compressed digest is not known: only size and `diff_id` can be checked.
pub const SYNTHESIZED: &str = "io.layerscope.synthesized";

/// Opens an image reference: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
/// `docker-archive:FILE[:NAME:TAG]`, `docker://REF`, or a bare path (detected) or registry
/// reference.
pub fn open(reference: &str, limits: &Limits) -> Result<Box<dyn ImageSource>> {
    open_with(reference, limits, &registry::RegistryOptions::default())
}

/// [`open`] with the registry options of the command line.
pub fn open_with(
    reference: &str,
    limits: &Limits,
    registry_opts: &registry::RegistryOptions,
) -> Result<Box<dyn ImageSource>> {
    let fail = |m: String| Error::reference(reference, m);
    if let Some(rest) = reference.strip_prefix("oci:") {
        let (dir, tag) = split_tag(rest);
        return layout::OciLayout::dir(reference, Path::new(dir), tag, limits).map(boxed);
    }
    if let Some(rest) = reference.strip_prefix("oci-archive:") {
        let (file, tag) = split_tag(rest);
        return layout::OciLayout::archive(reference, Path::new(file), tag, limits).map(boxed);
    }
    if let Some(rest) = reference.strip_prefix("docker-archive:") {
        let (file, name) = split_existing(rest);
        return docker_archive::open(reference, Path::new(file), name, limits);
    }
    if let Some(name) = reference.strip_prefix("docker://") {
        return registry::RegistrySource::open(reference, name, limits, registry_opts).map(boxed);
    }
    let path = Path::new(reference);
    if path.is_dir() {
        if path.join("oci-layout").exists() {
            return layout::OciLayout::dir(reference, path, None, limits).map(boxed);
        }
        return Err(fail("directory has no oci-layout file: not an OCI image layout".into()));
    }
    if path.is_file() {
        return docker_archive::open(reference, path, None, limits);
    }
    if path.exists() {
        return Err(fail("not a regular file or directory".into()));
    }
    if registry::reference::looks_like_reference(reference) {
        return registry::RegistrySource::open(reference, reference, limits, registry_opts).map(boxed);
    }
    Err(fail("no such file or directory".into()))
}

fn boxed<S: ImageSource + 'static>(s: S) -> Box<dyn ImageSource> {
    Box::new(s)
}

/// Splits `PATH[:TAG]`, preferring an existing path that contains a colon.
fn split_tag(s: &str) -> (&str, Option<&str>) {
    if Path::new(s).exists() {
        return (s, None);
    }
    match s.rsplit_once(':') {
        Some((p, t)) if !t.contains('/') && !t.is_empty() => (p, Some(t)),
        _ => (s, None),
    }
}

/// Splits `FILE[:NAME:TAG]` at the first colon that leaves an existing file on the left.
fn split_existing(s: &str) -> (&str, Option<&str>) {
    if Path::new(s).exists() {
        return (s, None);
    }
    for (i, _) in s.match_indices(':') {
        if Path::new(&s[..i]).exists() {
            return (&s[..i], Some(&s[i + 1..]));
        }
    }
    (s, None)
}
