//! The peak resident memory a case adds (`peak_rss_added_mib`), on its own in this test
//! binary: the measure is per process, so another test allocating or freeing at the same
//! time would move it.

use flopsbench::measure::memory::PeakRss;

#[test]
fn a_large_allocation_is_seen_after_it_is_freed() {
    let Some(rss) = PeakRss::start() else {
        // CI runs on Linux as root, where /proc/self/clear_refs exists: not a skip there.
        assert!(
            std::env::var_os("CI").is_none(),
            "no /proc/self/clear_refs on the CI machine"
        );
        eprintln!("skipped: this OS has no writable /proc/self/clear_refs");
        return;
    };
    let touch = |mib: usize| {
        let mut block = vec![0u8; mib << 20];
        for i in (0..block.len()).step_by(4096) {
            block[i] = 1;
        }
        std::hint::black_box(&block);
    };
    // 64 MiB touched page by page, then freed: the peak remembers it.
    touch(64);
    touch(16);
    let added = rss.added_mib();
    assert!((63.0..100.0).contains(&added), "{added} MiB");
}
