//! The host-overhead baseline: mock-erp's data code (`data.rs`, the part
//! that does the work) compiled natively into the bench and called
//! in-process, against the same operation through the host (actor queue →
//! wasmtime → component → lifting the answer) on the same machine, in the
//! same run. Both sides build identical records from identical seeds; the
//! answers are compared, so the two really do the same work.

use b2c_host::ProviderKind;
use b2c_host::bindings::types::Product;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

#[allow(dead_code)] // the bench uses only the product half of the data set
#[path = "../../plugins/mock-erp/src/data.rs"]
mod data;

/// The native twin of mock-erp's `get-products`: the same lookups (synced
/// replacements first, then the generated record) on the same data set.
struct NativeMock {
    data: data::DataSet,
    replaced: HashMap<u64, Product>,
    extra: BTreeMap<String, Product>,
}

impl NativeMock {
    fn get_products(&self, ids: &[String]) -> Vec<Option<Product>> {
        ids.iter()
            .map(|id| match self.data.product_index(id) {
                Some(i) => Some(self.replaced.get(&i).cloned().unwrap_or_else(|| self.data.product(i))),
                None => self.extra.get(id).cloned(),
            })
            .collect()
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Overhead {
    pub batch: usize,
    pub calls: usize,
    pub native_us: f64,
    pub wasm_us: f64,
    pub ratio: f64,
    /// The same call with no ids: the fixed cost of one call through the
    /// host (queue hop, fiber, entering and leaving the guest).
    pub wasm_empty_us: f64,
    /// `wasm_us` again, called from a thread outside the host's runtime
    /// (see [`measure`]): what a caller that is no task of the host pays.
    pub wasm_outside_us: f64,
}

/// Median per-call time of `get-products` with `batch` ids, native vs
/// through the host's actor and the WASM plugin.
///
/// The timed calls run in a task on the host's runtime, as the host's own
/// callers (its HTTP handlers) do: the actor task then runs on the caller's
/// worker thread, with no thread to wake. The same loop from the thread
/// that drives the runtime (`block_on`, outside it) pays two cross-thread
/// wake-ups per call and runs the guest on a core that idled meanwhile; on
/// this machine that made the WASM side 1.5x slower (RESULTS.md,
/// 2026-11-29), so it is reported beside the figure, not as it.
pub async fn measure(batch: usize, calls: usize) -> anyhow::Result<Overhead> {
    let dir = tempfile::tempdir()?;
    let mut args = b2c_host::cli::ServeArgs::with_data_dir(dir.path());
    args.admin_token = Some(crate::host::ADMIN.into());
    args.demo_key = Some("bench-native-demo-key-0123456789".into());
    let host = b2c_host::server::Host::start(&args).await?;
    let erp = host.state.runtime.provider("demo", ProviderKind::Erp).ok_or_else(|| anyhow::anyhow!("demo bound"))?;
    // The demo tenant's configuration is mock-erp's defaults.
    let native = NativeMock {
        data: data::DataSet {
            seed: data::fnv1a("demo"),
            products: 100_000,
            customers: 10_000,
            contacts_per_customer: 3,
            currency: "EUR".into(),
        },
        replaced: HashMap::new(),
        extra: BTreeMap::new(),
    };
    let ids: Vec<Vec<String>> = (0..64)
        .map(|k| (0..batch).map(|i| format!("P{:08}", 1 + (k * 7919 + i * 104_729) % 100_000)).collect())
        .collect();
    // Same answers, or the comparison means nothing.
    for set in &ids[..4] {
        let wasm = erp.get_products(set.clone()).await?;
        anyhow::ensure!(wasm == native.get_products(set), "native and WASM answers differ");
    }
    let bench = std::sync::Arc::new(Pair { native, erp, ids });
    let inside = tokio::spawn(timed(bench.clone(), calls)).await??;
    let outside = timed(bench, calls).await?;
    Ok(Overhead {
        batch,
        calls,
        native_us: inside.native_us,
        wasm_us: inside.wasm_us,
        ratio: inside.wasm_us / inside.native_us,
        wasm_empty_us: inside.wasm_empty_us,
        wasm_outside_us: outside.wasm_us,
    })
}

/// Both sides of the comparison and the id sets they are asked for.
struct Pair {
    native: NativeMock,
    erp: b2c_host::actor::Provider,
    ids: Vec<Vec<String>>,
}

/// Medians of one timed loop, in µs.
struct Medians {
    native_us: f64,
    wasm_us: f64,
    wasm_empty_us: f64,
}

/// `calls` timed calls of each side, interleaved (after a tenth as warm-up),
/// then `calls` empty WASM calls.
async fn timed(p: std::sync::Arc<Pair>, calls: usize) -> anyhow::Result<Medians> {
    let (mut n, mut w) = (Vec::with_capacity(calls), Vec::with_capacity(calls));
    for c in 0..calls + calls / 10 {
        let set = &p.ids[c % p.ids.len()];
        let t = Instant::now();
        let a = p.native.get_products(set);
        let dn = t.elapsed();
        std::hint::black_box(a);
        // The host side takes ownership of its arguments (they are lowered
        // into the guest); cloning them is part of a caller's cost there.
        let owned = set.clone();
        let t = Instant::now();
        let b = p.erp.get_products(owned).await?;
        let dw = t.elapsed();
        std::hint::black_box(b);
        if c >= calls / 10 {
            n.push(dn);
            w.push(dw);
        }
    }
    let med = |mut v: Vec<Duration>| {
        v.sort_unstable();
        v[v.len() / 2].as_secs_f64() * 1e6
    };
    let mut e = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        std::hint::black_box(p.erp.get_products(Vec::new()).await?);
        e.push(t.elapsed());
    }
    Ok(Medians { native_us: med(n), wasm_us: med(w), wasm_empty_us: med(e) })
}
