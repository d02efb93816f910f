//! Layer walk: bytes as an uncompressed layer tar → the bounded tar reader alone, then the
//! scanner's walk (ELF and detector captures), the merge and path resolution.
#![no_main]

use layerscope::tarwalk::TarReader;
use layerscope::limits::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let mut tar = TarReader::new(data, &limits);
    let mut buf = [0u8; 4096];
    while let Ok(Some(_entry)) = tar.next_entry() {
        while let Ok(n) = tar.read_data(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
    let _ = layerscope::fs::walk_for_fuzzing(data);
});
