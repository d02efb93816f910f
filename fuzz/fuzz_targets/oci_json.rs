//! Manifest, index and config parsing as the resolver does it: the kind probe (with and without
//! a descriptor media type), then the typed parse of whichever kind it says, and the config.
#![no_main]

use layerscope::oci::{self, DocKind, ImageConfiguration, ImageIndex, ImageManifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for descriptor_mt in [None, Some(oci::OCI_INDEX), Some(oci::OCI_MANIFEST)] {
        match oci::doc_kind(data, "fuzz", descriptor_mt) {
            Ok(DocKind::Index) => {
                if let Ok(index) = oci::parse_json::<ImageIndex>(data, "fuzz") {
                    for d in index.manifests() {
                        let _ = (d.digest().to_string(), d.media_type().to_string(), d.size(), d.platform());
                    }
                }
            }
            Ok(DocKind::Manifest) => {
                if let Ok(m) = oci::parse_json::<ImageManifest>(data, "fuzz") {
                    let _ = (m.config().digest().to_string(), m.config().media_type().to_string(), m.layers().len());
                }
            }
            Err(_) => {}
        }
    }
    if let Ok(c) = serde_json::from_slice::<ImageConfiguration>(data) {
        let _ = (c.rootfs().typ(), c.rootfs().diff_ids().len(), c.os().to_string(), c.architecture().to_string());
    }
});
