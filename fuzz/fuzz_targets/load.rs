//! The loader on any bytes: a located error or a project, never a panic, an
//! abort or a hang.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = berth_core::load_str("berth.yaml", text);
    }
});
