//! Writes `N` different batches the size of the large sample (the large sample's spec, one seed each) into `DIR`
//! as `batch-<i>.json`, for `benches/process.sh`'s measure of many batches into one `--out` directory. Like a
//! shard's successive batches, each batch's sequence numbers come after the previous batch's (the generator's
//! `49656…` becomes `5<i:04>…`, the same width).
//!
//! `cargo run --release --example large_batches -- N DIR`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().ok_or("usage: large_batches N DIR")?.parse()?;
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: large_batches N DIR")?);
    std::fs::create_dir_all(&dir)?;
    for i in 0..n {
        let mut spec = logmeter::samplegen::large();
        spec.seed += i;
        let sample = logmeter::samplegen::generate(&spec);
        let event = sample.event.replace(":\"49656", &format!(":\"5{i:04}")).replace(":49656", &format!(":5{i:04}"));
        std::fs::write(dir.join(format!("batch-{i}.json")), event)?;
    }
    Ok(())
}
