//! Upload validation: whatever bytes an operator (or an attacker with the
//! admin token) uploads, `inspect` and the contract check answer with a
//! value, never a panic, and never read past the size limit.
#![no_main]

use b2c_registry::HostContract;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The host's contract as `b2c_host::runtime::host_contract` builds it
    // (restated here so the fuzz build does not compile wasmtime).
    let contract = HostContract {
        package: "b2connect:provider".into(),
        version: semver::Version::new(1, 0, 0),
        host_interfaces: ["types", "log", "config", "socket"].map(String::from).to_vec(),
        other_prefixes: ["wasi:io/", "wasi:clocks/", "wasi:random/", "wasi:cli/", "wasi:filesystem/", "wasi:sockets/"]
            .map(String::from)
            .to_vec(),
    };
    if let Ok(info) = b2c_registry::inspect(data, 1 << 20, &contract.package) {
        let _ = contract.check(&info);
    }
});
