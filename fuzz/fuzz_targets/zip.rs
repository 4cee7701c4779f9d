//! Fuzzes the zip reader: no panic, bounded output, and the two views of an archive (the
//! central directory and a forward walk over local headers, as streaming readers do) never
//! disagree without an anomaly saying so.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use ward_formats::Limits;
use ward_formats::zip::{self, Anomaly, ZipArchive};

const LOCAL_SIG: &[u8] = b"PK\x03\x04";

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_decompressed_bytes: 1 << 20,
        max_archive_members: 1_000,
        max_header_bytes: 1 << 20,
        ..Limits::default()
    };
    let len = data.len() as u64;
    let Ok(archive) = ZipArchive::parse(&mut Cursor::new(data), len, &limits) else {
        return;
    };

    // Central view against each member's own local header.
    for entry in &archive.entries {
        if let Some(local) = &entry.local_name {
            if local != &entry.name {
                assert!(archive.anomalies.contains(&Anomaly::NameMismatch {
                    name: entry.name.clone(),
                    local: local.clone(),
                }));
            }
        }
        let mut out = Vec::new();
        if let Ok(got) = zip::extract(&mut Cursor::new(data), entry, &mut out, &limits) {
            assert_eq!(got.size, out.len() as u64);
            assert!(got.size <= limits.max_decompressed_bytes);
        }
    }

    // Forward view: a local header that no central entry points at is a member that a
    // streaming reader sees and the central directory hides; it must lie in reported
    // bytes outside entries or in an overlap.
    let referenced: Vec<u64> = archive.entries.iter().map(|e| e.header_offset).collect();
    let hidden = data
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == LOCAL_SIG)
        .map(|(i, _)| i as u64)
        .filter(|off| *off >= archive.start && *off < archive.central_offset)
        .any(|off| !referenced.contains(&off) && !inside_member(&archive, off));
    if hidden {
        assert!(
            archive.anomalies.iter().any(|a| matches!(
                a,
                Anomaly::DataOutsideEntries { .. } | Anomaly::Overlap { .. }
            )),
            "unreferenced local header with no anomaly: {:?}",
            archive.anomalies
        );
    }
});

/// Whether `off` lies inside the bytes of some member: a signature inside stored data is
/// just data.
fn inside_member(archive: &ZipArchive, off: u64) -> bool {
    archive.entries.iter().any(|e| {
        e.end_offset
            .is_some_and(|end| off > e.header_offset && off < end)
    })
}
