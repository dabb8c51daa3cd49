//! Upload hardening: a generator of 1 000 malformed uploads of every class
//! the registry must refuse, plus uploads that are slow to compile. Every
//! one must be a 4xx problem+json, and nothing may be left behind: no
//! artifact file, no compile-cache file, no row, no audit entry.

use crate::fixtures;
use crate::util::*;
use axum::body::Body;
use axum::http::Request;
use std::collections::BTreeMap;

/// splitmix64: a deterministic generator, so a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

async fn put_wasm(h: &TestHost, name: &str, bytes: Vec<u8>) -> Resp {
    let r = Request::put(format!("/admin/v1/plugins/{name}/versions/1.0.0"))
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("content-type", "application/wasm")
        .body(Body::from(bytes))
        .unwrap();
    h.request(r).await
}

/// Whether wasmparser accepts the bytes as a well-formed component: such a
/// mutation is not malformed (a flip inside a data segment, a truncation at
/// a section boundary), so the generator skips it.
fn well_formed(bytes: &[u8]) -> bool {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all()).validate_all(bytes).is_ok()
}

/// Every file under `dir`, recursively, sorted.
fn files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// What the host holds that an upload could leave behind.
async fn footprint(h: &TestHost) -> (Vec<String>, Vec<String>, usize, serde_json::Value) {
    let audit = h.admin("GET", "/admin/v1/audit?limit=1000", None).await.json()["entries"].as_array().unwrap().len();
    let plugins = h.admin("GET", "/admin/v1/plugins", None).await.json();
    (files(&h.dir.path().join("artifacts")), files(&h.dir.path().join("compiled")), audit, plugins)
}

/// Which refusal a problem detail states, as a short name; `None` for a
/// detail no refusal of a malformed upload should give.
fn reason(detail: &str) -> Option<&'static str> {
    [
        ("the body is empty", "empty"),
        ("over the upload limit", "over-limit"),
        ("not WebAssembly", "not-wasm"),
        ("precompiled native artifact", "precompiled"),
        ("core WebAssembly module", "core-module"),
        ("the component is malformed", "malformed"),
        ("exports none of", "no-provider"),
        ("disagree on the contract version", "mixed-contract"),
        ("which this host does not provide", "forbidden-import"),
        ("the component targets contract", "contract-version"),
        ("does not load in this host", "does-not-load"),
    ]
    .into_iter()
    .find_map(|(needle, name)| detail.contains(needle).then_some(name))
}

/// (class, bytes) × 1 000, deterministic.
fn generate() -> Vec<(&'static str, Vec<u8>)> {
    let mut rng = Rng(0x5_EED0_FB2C);
    let mock = b2c_host::bundled::MOCK_ERP.to_vec();
    let small = fixtures::provider("1.0.0", "", "");
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let push_malformed = |out: &mut Vec<_>, class, b: Vec<u8>| {
        if well_formed(&b) {
            return false;
        }
        out.push((class, b));
        true
    };
    let mut n = 0;
    while n < 300 {
        let base = if n % 3 == 0 { &small } else { &mock };
        let cut = rng.below(base.len() as u64) as usize;
        n += usize::from(push_malformed(&mut out, "truncation", base[..cut].to_vec()));
    }
    let mut n = 0;
    while n < 300 {
        let mut b = if n % 2 == 0 { small.clone() } else { mock.clone() };
        for _ in 0..1 + rng.below(4) {
            // Half of the flips land in the first 64 bytes (preamble and
            // the first section headers), half anywhere.
            let at = if rng.below(2) == 0 { rng.below(64.min(b.len() as u64)) } else { rng.below(b.len() as u64) };
            b[at as usize] ^= 1 << rng.below(8);
        }
        n += usize::from(push_malformed(&mut out, "bit-flip", b));
    }
    for i in 0..100 {
        // Well-formed core modules (not components): header plus a custom
        // section with varying content.
        let mut b = b"\0asm\x01\0\0\0".to_vec();
        let payload: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
        let name = format!("gen{i}");
        b.push(0);
        let len = 1 + name.len() + payload.len();
        assert!(len < 16384);
        b.extend_from_slice(&[(len as u8 & 0x7f) | 0x80, (len >> 7) as u8]);
        b.push(name.len() as u8);
        b.extend_from_slice(name.as_bytes());
        b.extend_from_slice(&payload);
        out.push(("core-module", b));
    }
    for i in 0..100 {
        let b = if i % 2 == 0 {
            fixtures::provider(
                "1.0.0",
                &format!("import wasi:gen{i}/handler@0.2.0;"),
                &format!("package wasi:gen{i}@0.2.0 {{ interface handler {{ handle: func(); }} }}"),
            )
        } else {
            fixtures::provider(
                "1.0.0",
                &format!("import evil{i}:net/raw@1.0.0;"),
                &format!("package evil{i}:net@1.0.0 {{ interface raw {{ open: func(port: u16); }} }}"),
            )
        };
        out.push(("forbidden-import", b));
    }
    let mut n = 0;
    while n < 100 {
        let v = format!("{}.{}.{}", rng.below(4), rng.below(4), rng.below(3));
        if v.starts_with("1.0.") || v.starts_with("1.1.") {
            continue;
        }
        out.push(("contract-version", fixtures::provider(&v, "", "")));
        n += 1;
    }
    for i in 0..50 {
        let mut b = mock.clone();
        b.resize(1024 * 1024 + 1 + i * 4099, (i % 251) as u8);
        out.push(("oversize", b));
    }
    for i in 0..50 {
        let mut b: Vec<u8> = (0..1 + rng.below(4096)).map(|_| rng.next() as u8).collect();
        if i % 2 == 0 {
            // Random bytes behind a valid component preamble.
            let mut p = b"\0asm\x0d\0\x01\0".to_vec();
            p.append(&mut b);
            b = p;
        }
        out.push(("garbage", b));
    }
    out
}

/// The refusal a case must get, from its class and bytes alone: the classes
/// made whole (core modules, imports, versions, oversize) have one reason
/// each; a mutation of a real component is "not WebAssembly" when it lost
/// the `\0asm` magic, "empty" when nothing is left, and "malformed"
/// otherwise. Derived per case rather than as totals, so the split does not
/// depend on the bytes of the current mock-erp build.
fn expected_reason(class: &str, bytes: &[u8]) -> &'static str {
    match class {
        "core-module" => "core-module",
        "forbidden-import" => "forbidden-import",
        "contract-version" => "contract-version",
        "oversize" => "over-limit",
        _ if bytes.is_empty() => "empty",
        _ if !bytes.starts_with(b"\0asm") => "not-wasm",
        _ => "malformed",
    }
}

/// Uploads per class, as generated.
const PER_CLASS: [(&str, u32); 7] = [
    ("bit-flip", 300),
    ("contract-version", 100),
    ("core-module", 100),
    ("forbidden-import", 100),
    ("garbage", 50),
    ("oversize", 50),
    ("truncation", 300),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_malformed_uploads_are_refused_and_leave_nothing_behind() {
    let h = TestHost::start_with(|a| a.max_upload_mib = 1).await;
    let before = footprint(&h).await;
    let cases = generate();
    assert_eq!(cases.len(), 1000);
    // (class, status, problem type, reason) → count.
    let mut seen: BTreeMap<(&str, u16, String, &str), u32> = BTreeMap::new();
    let mut per_class: BTreeMap<&str, u32> = BTreeMap::new();
    for (i, (class, bytes)) in cases.into_iter().enumerate() {
        let expected = expected_reason(class, &bytes);
        let r = put_wasm(&h, &format!("gen-{i}"), bytes).await;
        assert_eq!(r.status, 422, "case {i} ({class}): {}", String::from_utf8_lossy(&r.body));
        let p = r.problem(422);
        let detail = p["detail"].as_str().unwrap();
        let why = reason(detail).unwrap_or_else(|| panic!("case {i} ({class}): unexpected detail {detail:?}"));
        // Each case is refused for its own reason (a forbidden import as a
        // forbidden import, not as "malformed"), with the matching type.
        assert_eq!(why, expected, "case {i} ({class}): {p}");
        let slug = p["type"].as_str().unwrap().trim_start_matches("urn:b2connect:problem:").to_string();
        let expected_slug = match why {
            "forbidden-import" | "contract-version" => "incompatible-plugin",
            _ => "invalid-component",
        };
        assert_eq!(slug, expected_slug, "case {i} ({class}): {p}");
        if class == "forbidden-import" {
            // The detail names the import that is not provided.
            assert!(detail.contains("/handler@0.2.0") || detail.contains(":net/raw@1.0.0"), "case {i}: {detail}");
        }
        *seen.entry((class, 422, slug, why)).or_default() += 1;
        *per_class.entry(class).or_default() += 1;
    }
    eprintln!("malformed uploads by class, status, type and reason: {seen:#?}");
    assert_eq!(per_class, PER_CLASS.into_iter().collect(), "uploads per class");
    assert_eq!(seen.values().sum::<u32>(), 1000, "1 000 × 422");
    assert_eq!(footprint(&h).await, before, "no file, row or audit entry left behind");
    assert_eq!(h.state.registry.integrity_check().unwrap(), "ok");
    // The host still publishes and serves after all that.
    let r = put_wasm(&h, "still-works", b2c_host::bundled::MOCK_ERP.to_vec()).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
}

/// mock-erp with an extra, never-instantiated core module whose one
/// function has `steps` × 4 instructions: valid, but slow to compile.
fn slow_to_compile(steps: u32) -> Vec<u8> {
    use wasm_encoder::{CodeSection, Function, FunctionSection, Instruction, Module, TypeSection, ValType};
    let mut m = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    m.section(&types);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    m.section(&funcs);
    let mut f = Function::new([]);
    for k in 0..steps {
        f.instruction(&Instruction::LocalGet(0));
        f.instruction(&Instruction::I32Const(k as i32));
        f.instruction(&Instruction::I32Add);
        f.instruction(&Instruction::LocalSet(0));
    }
    f.instruction(&Instruction::LocalGet(0));
    f.instruction(&Instruction::End);
    let mut code = CodeSection::new();
    code.function(&f);
    m.section(&code);
    let module = m.finish();
    let mut out = b2c_host::bundled::MOCK_ERP.to_vec();
    // Component section 1: a core module.
    out.push(1);
    let mut len = module.len();
    loop {
        let b = (len & 0x7f) as u8;
        len >>= 7;
        out.push(if len == 0 { b } else { b | 0x80 });
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(&module);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_to_compile_uploads_hit_the_compile_time_limit() {
    // The 40 000-step function alone takes Cranelift most of a second here
    // (the background compile's duration is printed below): a 10 ms limit
    // leaves a margin of two orders of magnitude on a loaded machine.
    let h = TestHost::start_with(|a| a.compile_timeout_ms = 10).await;
    let before = footprint(&h).await;
    let bytes = slow_to_compile(40_000);
    assert!(well_formed(&bytes), "the slow component is valid");
    let t = std::time::Instant::now();
    let p = put_wasm(&h, "slow", bytes.clone()).await.problem(422);
    eprintln!("slow upload refused after {:?}: {}", t.elapsed(), p["detail"]);
    assert_eq!(p["type"], "urn:b2connect:problem:invalid-component");
    assert!(p["detail"].as_str().unwrap().contains("time limit"), "{p}");
    // Another try is refused the same way (a failed compile is not
    // remembered as a success, nor as a permanent failure).
    let p = put_wasm(&h, "slow", bytes).await.problem(422);
    assert!(p["detail"].as_str().unwrap().contains("time limit"), "{p}");
    // The abandoned compiles finish in the background and must not leave a
    // cache file either; wait for them to hand back their slots.
    let engine = h.state.runtime.engine().clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !engine.idle() {
        assert!(std::time::Instant::now() < deadline, "abandoned compiles never finished");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    eprintln!("abandoned compiles finished {:?} after the first upload", t.elapsed());
    assert_eq!(footprint(&h).await, before, "nothing left behind");
}
