//! Read-only access to the files of an image container: a directory, or a tar archive indexed
//! once. Paths never leave the root: symlinks are followed only inside it, and only when asked.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use crate::limits::Limits;
use crate::tarwalk::TarReader;

/// A tree of files an image is stored in.
pub trait Files: Send + Sync {
    /// Opens a regular file and returns it with its size. With `follow_links`, a symlink inside
    /// the tree is followed (confined to it); without, a link is refused.
    fn open(&self, path: &str, follow_links: bool) -> io::Result<(Box<dyn Read + Send>, u64)>;
    /// Whether a file of that name exists.
    fn exists(&self, path: &str) -> bool;
}

fn not_found(path: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{path}: no such file"))
}

/// Normalises a relative path inside a tree; `None` if it climbs out of it or is absolute.
pub fn normalize_inside(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// A directory on disk (an OCI layout).
pub struct DirFiles {
    root: PathBuf,
    canonical_root: PathBuf,
}

impl DirFiles {
    pub fn new(root: &Path) -> io::Result<Self> {
        Ok(DirFiles { root: root.to_path_buf(), canonical_root: root.canonicalize()? })
    }
}

impl Files for DirFiles {
    fn open(&self, path: &str, follow_links: bool) -> io::Result<(Box<dyn Read + Send>, u64)> {
        let rel = normalize_inside(path).ok_or_else(|| not_found(path))?;
        let full = self.root.join(&rel);
        let meta = std::fs::symlink_metadata(&full).map_err(|_| not_found(path))?;
        let target = if meta.file_type().is_symlink() {
            if !follow_links {
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{path}: is a symlink; refused")));
            }
            let canon = full.canonicalize().map_err(|_| not_found(path))?;
            if !canon.starts_with(&self.canonical_root) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{path}: symlink points outside the image"),
                ));
            }
            canon
        } else {
            full
        };
        let file = File::open(&target)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{path}: not a regular file")));
        }
        Ok((Box::new(file), meta.len()))
    }

    fn exists(&self, path: &str) -> bool {
        normalize_inside(path).is_some_and(|rel| std::fs::symlink_metadata(self.root.join(rel)).is_ok())
    }
}

#[derive(Debug, Clone)]
struct Member {
    typeflag: u8,
    data_offset: u64,
    size: u64,
    link: String,
}

/// A tar archive (OCI archive, docker-archive), indexed in one pass over its headers.
pub struct TarFiles {
    path: PathBuf,
    members: HashMap<String, Member>,
}

impl TarFiles {
    pub fn open(path: &Path, limits: &Limits) -> io::Result<Self> {
        let file = File::open(path)?;
        let mut reader = TarReader::new(io::BufReader::with_capacity(64 << 10, file), limits);
        let mut members = HashMap::new();
        loop {
            let entry = reader
                .next_entry()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("not a readable tar archive: {e}")))?;
            let Some(entry) = entry else { break };
            let name = String::from_utf8_lossy(&entry.path).into_owned();
            let Some(name) = normalize_inside(&name) else {
                continue; // names climbing out of the archive are never looked up
            };
            if name.is_empty() {
                continue;
            }
            members.insert(
                name,
                Member {
                    typeflag: entry.typeflag,
                    data_offset: entry.data_offset,
                    size: entry.size,
                    link: String::from_utf8_lossy(&entry.link).into_owned(),
                },
            );
        }
        Ok(TarFiles { path: path.to_path_buf(), members })
    }

    /// Resolves symlinks among members, confined to the archive, with a hop limit.
    fn resolve(&self, path: &str, follow_links: bool) -> io::Result<&Member> {
        let mut current = normalize_inside(path).ok_or_else(|| not_found(path))?;
        for _ in 0..40 {
            let m = self.members.get(&current).ok_or_else(|| not_found(path))?;
            match m.typeflag {
                b'0' | 0 | b'7' => return Ok(m),
                b'2' if follow_links => {
                    let base =
                        Path::new(&current).parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
                    let joined = if m.link.starts_with('/') { m.link.clone() } else { format!("{base}/{}", m.link) };
                    if m.link.starts_with('/') {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{path}: symlink to an absolute path outside the archive"),
                        ));
                    }
                    current = normalize_inside(&joined).ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{path}: symlink points outside the archive"),
                        )
                    })?;
                }
                b'2' | b'1' => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{path}: is a link inside the archive; refused"),
                    ))
                }
                _ => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{path}: not a regular file"))),
            }
        }
        Err(io::Error::new(io::ErrorKind::InvalidData, format!("{path}: too many symlink hops")))
    }
}

impl Files for TarFiles {
    fn open(&self, path: &str, follow_links: bool) -> io::Result<(Box<dyn Read + Send>, u64)> {
        let m = self.resolve(path, follow_links)?;
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(m.data_offset))?;
        Ok((Box::new(file.take(m.size)), m.size))
    }

    fn exists(&self, path: &str) -> bool {
        normalize_inside(path).is_some_and(|p| self.members.contains_key(&p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside() {
        assert_eq!(normalize_inside("a/./b/../c").as_deref(), Some("a/c"));
        assert_eq!(normalize_inside("../../etc/passwd"), None);
        assert_eq!(normalize_inside("/etc/passwd"), None);
    }
}
