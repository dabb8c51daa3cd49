//! The compile sandbox of the real binary: an upload whose compile needs
//! more memory than `--compile-memory-mib` is refused with 422 and leaves
//! nothing behind, while an ordinary plugin publishes under the same limit;
//! and the child's compiled component is the one the host uses.

mod common;

use common::{ADMIN, BIN, publish_request, serve_with};

fn uleb(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn sleb(mut n: i64, out: &mut Vec<u8>) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if (n == 0 && b & 0x40 == 0) || (n == -1 && b & 0x40 != 0) {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    uleb(body.len(), out);
    out.extend_from_slice(body);
}

/// mock-erp plus a never-instantiated core module with one function of
/// `steps` × 4 instructions: valid, and its compile needs ~460 MiB at
/// 40 000 steps (measured: `b2c-host compile-check`, peak RSS).
fn memory_hungry(steps: i64) -> Vec<u8> {
    let mut body = vec![0u8]; // no locals
    for k in 0..steps {
        body.extend_from_slice(&[0x20, 0x00, 0x41]); // local.get 0; i32.const
        sleb(k, &mut body);
        body.extend_from_slice(&[0x6a, 0x21, 0x00]); // i32.add; local.set 0
    }
    body.extend_from_slice(&[0x20, 0x00, 0x0b]);
    let mut code = Vec::new();
    uleb(1, &mut code);
    uleb(body.len(), &mut code);
    code.extend_from_slice(&body);
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f], &mut module);
    section(3, &[0x01, 0x00], &mut module);
    section(10, &code, &mut module);
    let mut out = std::fs::read(b2c_host::bundled::MOCK_ERP_PATH).unwrap();
    section(1, &module, &mut out); // component section 1: a core module
    out
}

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut out: Vec<String> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into()).collect();
    out.sort();
    out
}

#[test]
fn an_upload_that_needs_too_much_memory_to_compile_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve_with(dir.path(), &["--compile-memory-mib", "256"], Some("sandbox-test-demo-key-0123456"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = reqwest::Client::new();
    let put = |name: &str, bytes: Vec<u8>| {
        let req = publish_request(&c, &served.base, name, bytes);
        rt.block_on(async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        })
    };
    let compiled_before = files(&dir.path().join("compiled"));
    let t = std::time::Instant::now();
    let (status, p) = put("hungry", memory_hungry(40_000));
    eprintln!("memory-hungry upload: {status} after {:?}: {}", t.elapsed(), p["detail"]);
    assert_eq!(status, 422, "{p}");
    assert_eq!(p["type"], "urn:b2connect:problem:invalid-component");
    assert!(p["detail"].as_str().unwrap().contains("memory limit of 256 MiB"), "{p}");
    assert_eq!(files(&dir.path().join("compiled")), compiled_before, "no staged upload or cache file left");
    // An ordinary plugin (new bytes: another custom section) publishes
    // under the same limit, through the same sandbox.
    let mut ok = std::fs::read(b2c_host::bundled::MOCK_ERP_PATH).unwrap();
    section(0, b"\x07variant", &mut ok);
    let (status, v) = put("ordinary", ok);
    assert_eq!(status, 201, "{v}");
    let (_, list) = rt.block_on(async {
        let r = c.get(format!("{}/admin/v1/plugins", served.base)).bearer_auth(ADMIN).send().await.unwrap();
        (r.status(), r.json::<serde_json::Value>().await.unwrap())
    });
    let names: Vec<&str> = list["plugins"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["mock-erp", "ordinary"]);
}

/// Pids of the running `compile-check` children of process `parent`.
fn compile_children(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        // Field 4 of /proc/PID/stat is the parent pid (after "(comm)").
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if ppid != Some(parent) {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline.split(|&b| b == 0).any(|a| a == b"compile-check") {
            out.push(pid);
        }
    }
    // The scan is not atomic: a child read early may have ended (and its
    // compile slot been freed) before a later one started. A slot is freed
    // only once its child is reaped, so keeping the children still there
    // after the scan leaves only compiles that overlapped.
    out.retain(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
    out
}

/// "At most 2 compiles at once" (docs/RELIABILITY.md, `compile_slots`):
/// five slow uploads sent together; the real binary compiles each first in
/// a `compile-check` child, so the compiles running at any moment are its
/// live children, watched in /proc while the uploads are in flight.
#[test]
fn at_most_two_uploads_compile_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve_with(dir.path(), &[], Some("sandbox-test-demo-key-0123456"));
    let host_pid = served.child.id();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = reqwest::Client::new();
    let uploads: Vec<_> = (0..5i64)
        .map(|i| {
            // Distinct bytes, so nothing is shared between the compiles.
            let req = publish_request(&c, &served.base, &format!("slow-{i}"), memory_hungry(8_000 + i));
            rt.spawn(async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap_or_default())
            })
        })
        .collect();
    let (mut most, mut seen) = (0usize, std::collections::BTreeSet::new());
    let t = std::time::Instant::now();
    while !uploads.iter().all(|u| u.is_finished()) {
        assert!(t.elapsed() < std::time::Duration::from_secs(300), "uploads did not finish");
        let now = compile_children(host_pid);
        most = most.max(now.len());
        seen.extend(now);
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let answers: Vec<(u16, String)> = uploads.into_iter().map(|u| rt.block_on(u).unwrap()).collect();
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    eprintln!(
        "5 slow uploads in {:?}: {} compile-check children seen, at most {most} at once",
        t.elapsed(),
        seen.len()
    );
    assert_eq!(statuses, [201; 5], "{answers:?}");
    // Five compiles of several hundred ms each, polled every millisecond:
    // each child is seen, and two did run together.
    assert_eq!(seen.len(), 5, "one sandboxed compile per upload");
    assert_eq!(most, 2, "compiles running at once");
}

/// A publish compiles once: the sandbox child's compiled component is the
/// one the host loads (from the compile cache), in the default and in the
/// lean address-space configuration; a refused upload leaves no file.
#[test]
fn the_sandbox_compile_is_the_one_the_host_uses() {
    use b2c_host::engine::{EngineSettings, PluginEngine};
    let rt = tokio::runtime::Runtime::new().unwrap();
    for lean in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let max_memory_bytes = 64 * 1024 * 1024;
        let engine = PluginEngine::new(EngineSettings {
            max_instances: 4,
            max_memory_bytes,
            compiled_dir: Some(dir.path().to_path_buf()),
            lean_address_space: lean,
            compile_sandbox: Some(b2c_host::sandbox::CompileSandbox {
                exe: BIN.into(),
                prefix: Vec::new(),
                memory_mib: 1024,
                scratch: dir.path().to_path_buf(),
                lean_memory_bytes: lean.then_some(max_memory_bytes as u64),
            }),
            ..EngineSettings::default()
        })
        .unwrap();
        let bytes = std::fs::read(b2c_host::bundled::READONLY_ERP_PATH).unwrap();
        let digest = b2c_host::util::sha256_hex(&bytes);
        let component = rt.block_on(engine.load_upload(&digest, &bytes)).unwrap();
        assert_eq!(component.kinds(), [b2c_host::ProviderKind::Erp]);
        assert_eq!(engine.compiled_in_process(), 0, "lean={lean}: the host compiled the upload a second time");
        let cached = files(dir.path());
        assert!(cached.len() == 1 && cached[0].starts_with(&digest) && cached[0].ends_with(".cwasm"), "{cached:?}");

        // Compiles in the child, but exports no provider: refused, no file.
        let not_provider = wit_component_free_component();
        let d2 = b2c_host::util::sha256_hex(&not_provider);
        assert!(rt.block_on(engine.load_upload(&d2, &not_provider)).is_err());
        assert_eq!(files(dir.path()), cached, "lean={lean}: the refused upload left a file");
    }
}

/// The smallest valid component: it compiles, and exports nothing.
fn wit_component_free_component() -> Vec<u8> {
    // \0asm, component-model version 0x0d, layer 1: an empty component.
    b"\0asm\x0d\x00\x01\x00".to_vec()
}
