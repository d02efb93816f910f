//! Image sources: one file per transport behind [`ImageSource`], and the parsing of references.

mod channel;
pub mod daemon;
pub mod docker_archive;
pub mod files;
pub mod layout;
pub mod registry;
pub mod resolve;
pub mod stream;

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::oci::Descriptor;
use crate::progress::Observer;

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
    /// The delta of a layer analysed as the source streamed past it (a `docker save` stream),
    /// handed out once and checked against the descriptor; `None` for a layer to be read.
    fn take_streamed(&self, _layer: &resolve::LayerRef) -> Option<crate::layer::LayerDelta> {
        None
    }
    /// True for a stream read once (stdin, a daemon's export): blobs cannot be opened again.
    fn streamed(&self) -> bool {
        false
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

/// A document kept in memory, read through a `Cursor` without copying it.
pub(crate) struct ArcBytes(pub(crate) std::sync::Arc<Vec<u8>>);

impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Annotation put on descriptors a source made up itself (legacy docker-archive), whose
/// compressed digest is not known: only size and `diff_id` can be checked.
pub const SYNTHESIZED: &str = "io.layerscope.synthesized";

/// Annotation on a synthesised layer descriptor: the layer's path inside the archive.
pub const LAYER_PATH: &str = "io.layerscope.path";

/// Where a bare name (`myapp:dev`, not a path or a scheme) is read from (`--source`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Prefer {
    /// The Docker daemon when it answers and has the image, else the registry.
    #[default]
    Auto,
    Docker,
    Podman,
    Registry,
}

/// How references are opened.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    pub limits: Limits,
    pub registry: registry::RegistryOptions,
    pub prefer: Prefer,
    /// Told of a stream as it is read, and which store a bare name was read from.
    pub progress: Observer,
}

/// Scheme names other tools use that are not read here: an error, never a registry lookup.
const UNSUPPORTED: &[&str] = &["containers-storage", "dir", "singularity", "file", "sif", "tarball", "ostree"];

/// The references understood, for messages.
pub const SCHEMES: &str = "oci:DIR[:TAG], oci-dir:DIR, oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], \
docker-daemon:NAME (or docker:NAME), podman:NAME, registry:REF (or docker://REF), - (a docker save stream on stdin), \
a path, or a registry reference";

/// Opens an image reference: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
/// `docker-archive:FILE[:NAME:TAG]`, `docker://REF`, or a bare path (detected) or registry
/// reference.
pub fn open(reference: &str, limits: &Limits) -> Result<Box<dyn ImageSource>> {
    open_with(reference, &OpenOptions { limits: limits.clone(), ..Default::default() })
}

/// [`open`] with the options of the command line; also `-` (stdin), `docker-daemon:`,
/// `docker:`, `podman:`, `registry:` and `oci-dir:` (docs/sources.md).
pub fn open_with(reference: &str, o: &OpenOptions) -> Result<Box<dyn ImageSource>> {
    let limits = &o.limits;
    let registry_opts = &o.registry;
    let fail = |m: String| Error::reference(reference, m);
    if reference == "-" {
        let stream = stream::StreamSource::read(reference, "stdin", std::io::stdin(), None, limits, &o.progress)?;
        return Ok(boxed(stream));
    }
    if let Some(name) = reference
        .strip_prefix("docker-daemon:")
        .or_else(|| reference.strip_prefix("docker:").filter(|r| !r.starts_with("//")))
    {
        return from_daemon(reference, daemon::Engine::Docker, name, o);
    }
    if let Some(name) = reference.strip_prefix("podman:") {
        return from_daemon(reference, daemon::Engine::Podman, name, o);
    }
    if let Some(name) = reference.strip_prefix("registry:") {
        return registry::RegistrySource::open(reference, name, limits, registry_opts).map(boxed);
    }
    if let Some(rest) = reference.strip_prefix("oci:").or_else(|| reference.strip_prefix("oci-dir:")) {
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
    if let Some((scheme, _)) = reference.split_once(':') {
        if UNSUPPORTED.contains(&scheme) {
            return Err(fail(format!("the {scheme}: transport is not supported; use one of: {SCHEMES}")));
        }
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
        return bare_name(reference, o);
    }
    Err(fail("no such file or directory".into()))
}

/// A bare name: the store `--source` names, or the Docker daemon when it answers and has the
/// image, else the registry. Says which on the progress channel (stderr).
fn bare_name(reference: &str, o: &OpenOptions) -> Result<Box<dyn ImageSource>> {
    let engine = match o.prefer {
        Prefer::Registry => None,
        Prefer::Docker => Some(daemon::Engine::Docker),
        Prefer::Podman => Some(daemon::Engine::Podman),
        Prefer::Auto => {
            let found = daemon::Endpoint::find(daemon::Engine::Docker)
                .ok()
                .filter(daemon::Endpoint::plausible)
                .and_then(|e| daemon::Daemon::connect(e).ok())
                .filter(|d| d.has_image(reference) == Ok(true));
            if let Some(d) = found {
                o.progress.note(&format!("{reference}: read from the Docker daemon at {}", d.endpoint.shown));
                return from_connected(reference, d, reference, o);
            }
            o.progress.note(&format!("{reference}: not in a local Docker daemon; read from the registry"));
            None
        }
    };
    match engine {
        Some(engine) => from_daemon(reference, engine, reference, o),
        None => registry::RegistrySource::open(reference, reference, &o.limits, &o.registry).map(boxed),
    }
}

fn from_daemon(reference: &str, engine: daemon::Engine, name: &str, o: &OpenOptions) -> Result<Box<dyn ImageSource>> {
    let fail = |m: String| Error::reference(reference, m);
    if name.is_empty() {
        return Err(fail(format!("no image named after {}:", engine.name().to_lowercase())));
    }
    let endpoint = daemon::Endpoint::find(engine).map_err(fail)?;
    let d = daemon::Daemon::connect(endpoint).map_err(fail)?;
    from_connected(reference, d, name, o)
}

fn from_connected(reference: &str, d: daemon::Daemon, name: &str, o: &OpenOptions) -> Result<Box<dyn ImageSource>> {
    let fail = |m: String| Error::reference(reference, m);
    let origin = format!("the {} daemon at {}", d.endpoint.engine.name(), d.endpoint.shown);
    let export = d.export(name).map_err(fail)?;
    let stream = stream::StreamSource::read(reference, &origin, export, None, &o.limits, &o.progress)?;
    Ok(boxed(stream))
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
