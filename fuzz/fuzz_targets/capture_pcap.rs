#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpscope_fuzz::targets::capture_pcap(data));
