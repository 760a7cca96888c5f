//! A whole capture file through the reader and the engine: decoding, fragments, the flow
//! table (a small one, so that eviction runs), reassembly and every dissector. None may
//! panic, and the table never holds more live flows than its bound. Seed it with real captures
//! (and captures through a remote mirror, as `tests/engine/tunnels.py` makes them):
//! `cargo fuzz run capture fuzz/corpus/capture ../shared/realworld`.
#![no_main]

use _core::capture::{CaptureReader, Source};
use _core::engine::{Config, Engine, Net6};
use libfuzzer_sys::fuzz_target;

const MAX_FLOWS: usize = 16;

fuzz_target!(|data: &[u8]| {
    let src = Source::new(Box::new(std::io::Cursor::new(data.to_vec())));
    let Ok(mut reader) = CaptureReader::from_source(src, "fuzz") else {
        return;
    };
    let mut cfg = Config::default();
    // two premises ranges: a mirror's packets between addresses of 10/8 are opened
    for (a, b, prefix) in [(192, 168, 16), (10, 0, 8)] {
        cfg.premises.push(Net6 {
            v6: false,
            addr: [a, b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            prefix,
        });
    }
    cfg.max_flows = MAX_FLOWS;
    cfg.reassembly_budget = 1 << 16;
    let mut engine = Engine::new(cfg);
    while let Some(rec) = reader.next() {
        engine.packet(0, rec.frame, rec.ts, rec.linktype, rec.data, rec.wirelen);
        // the flow table stays within its bound whatever the packets (the idlest go)
        assert!(engine.table.live_slots().len() <= MAX_FLOWS);
    }
    engine.finish();
    assert!(engine.table.live_slots().len() <= MAX_FLOWS);
});
