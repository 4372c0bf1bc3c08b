//! Golden files: the small sample's output tree (S3 bodies, quarantine objects, bulk bodies) byte for byte.
//! After an intended change of output, regenerate with `LOGMETER_BLESS=1 cargo test --test it golden` and review
//! the diff.

use crate::support::{logmeter, root, snapshot, tempdir};

#[test]
fn small_sample_output_matches_golden_files() {
    let out = tempdir("golden");
    let run = logmeter(&["process", "samples/events/small.json", "--out", out.to_str().unwrap()], None);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let golden_dir = root().join("tests/golden/small");
    // The bulk folders' id indices are the local sink's bookkeeping, not output (tested in `sink::local`).
    let mut got = snapshot(&out);
    got.retain(|k, _| !k.ends_with("/.ids"));
    if std::env::var_os("LOGMETER_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&golden_dir);
        for (rel, bytes) in &got {
            let p = golden_dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
    }
    let want = snapshot(&golden_dir);
    let got_keys: Vec<_> = got.keys().collect();
    let want_keys: Vec<_> = want.keys().collect();
    assert_eq!(got_keys, want_keys, "output keys differ from tests/golden/small");
    for (rel, bytes) in &want {
        assert!(got[rel] == *bytes, "{rel} differs from its golden file");
    }
    assert!(want.keys().any(|k| k.starts_with("ingest/records/")));
    assert!(want.keys().any(|k| k.starts_with("logmeter-quarantine/")));
    assert!(want.keys().any(|k| k.starts_with("search-bulk/")));
    let _ = std::fs::remove_dir_all(out);
}
