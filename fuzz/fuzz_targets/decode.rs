#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpscope_fuzz::targets::decode_frame(data));
