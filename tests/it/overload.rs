//! Overload: a tenant over its rate limit gets 429 with Retry-After at
//! once, and another tenant does not notice. Latencies are printed as
//! figures; counts are asserted.

use crate::util::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

async fn quiet_run(h: &TestHost, key: &str, n: u64) -> (Vec<Duration>, u64) {
    let (mut lat, mut errors) = (Vec::new(), 0);
    for i in 0..n {
        let t = Instant::now();
        let r = h.get(Some(key), &format!("/api/v1/tenants/quiet/erp/products/{}", pid(1 + i % 5000))).await;
        lat.push(t.elapsed());
        if r.status != 200 {
            errors += 1;
        }
        tokio::task::yield_now().await;
    }
    (lat, errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_rate_limit_gets_429_and_nobody_else_notices() {
    let h = Arc::new(TestHost::start_with(|a| a.cache_max_entries = 0).await);
    let noisy = h
        .add_tenant("noisy", &[("limits.ratePerSec", "100"), ("limits.rateBurst", "20"), ("productCount", "5000")])
        .await;
    let quiet = h.add_tenant("quiet", &[]).await;
    // A bad limit is refused at bind time, naming the key.
    let r = h
        .admin(
            "PUT",
            "/admin/v1/tenants/noisy2",
            Some(serde_json::json!({ "erp": { "plugin": "mock-erp", "version": "^1" }, "config": { "limits.ratePerSec": "fast" } })),
        )
        .await;
    assert!(r.problem(422)["detail"].as_str().unwrap().contains("limits.ratePerSec"));
    // The plugin never sees `limits.*`: mock-erp lists the setting keys its
    // instance sees, and of noisy's three keys only its own one is there.
    // (This spends one token of noisy's burst, before the measured run.)
    let seen = h.get(Some(&noisy), "/api/v1/tenants/noisy/erp/products/MOCK-ERP-SETTINGS").await;
    assert_eq!(seen.status, 200, "{}", String::from_utf8_lossy(&seen.body));
    assert_eq!(seen.json()["description"], "productCount", "setting keys the plugin sees");

    let (base, base_errors) = quiet_run(&h, &quiet, 20_000).await;
    assert_eq!(base_errors, 0);

    // Noisy sends ~10× its 100/s for the duration of the quiet run.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, limited, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let sent = Arc::new(AtomicU64::new(0));
    let limited_lat = Arc::new(std::sync::Mutex::new(Vec::new()));
    let noise = {
        let (h, noisy, stop, ok, limited, bad, limited_lat, sent) = (
            h.clone(),
            noisy.clone(),
            stop.clone(),
            ok.clone(),
            limited.clone(),
            bad.clone(),
            limited_lat.clone(),
            sent.clone(),
        );
        tokio::spawn(async move {
            let mut i = 0u64;
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                i += 1;
                let t = Instant::now();
                sent.fetch_add(1, Ordering::Relaxed);
                let r = h.get(Some(&noisy), &format!("/api/v1/tenants/noisy/erp/products/{}", pid(1 + i % 5000))).await;
                let d = t.elapsed();
                match r.status.as_u16() {
                    200 => ok.fetch_add(1, Ordering::Relaxed),
                    429 => {
                        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
                        assert!(retry >= 1);
                        let p = r.problem(429);
                        assert_eq!(p["type"], "urn:b2connect:problem:rate-limited");
                        limited_lat.lock().unwrap().push(d);
                        limited.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => bad.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    let t0 = Instant::now();
    let (during, errors) = quiet_run(&h, &quiet, 20_000).await;
    let secs = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    noise.await.unwrap();
    let (ok, limited, bad) = (ok.load(Ordering::Relaxed), limited.load(Ordering::Relaxed), bad.load(Ordering::Relaxed));
    let sent = sent.load(Ordering::Relaxed);
    let l99 = p99_ms(limited_lat.lock().unwrap().clone());
    eprintln!(
        "noisy over {secs:.2} s: {sent} sent, {ok} admitted ({:.0}/s), {limited} × 429 (p99 {l99:.3} ms); quiet p99 {:.3} ms alone, {:.3} ms beside it",
        ok as f64 / secs,
        p99_ms(base),
        p99_ms(during.clone())
    );
    assert_eq!(errors, 0, "the quiet tenant saw errors");
    assert_eq!(bad, 0, "noisy got something other than 200 or 429");
    assert!(limited > 0, "the limit never applied");
    // The contract says so: every tenant operation documents its 429.
    let doc = h.get(None, "/openapi.json").await.json();
    let mut documented = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if path.starts_with("/api/v1/tenants/") {
                assert!(op["responses"]["429"].is_object(), "{method} {path} documents no 429");
                documented += 1;
            }
        }
    }
    assert_eq!(documented, 19);
    // Every request was answered one way or the other.
    assert_eq!(ok + limited, sent, "admitted + refused == sent");
    // Admitted: at most the burst (less the token spent above) plus 100/s
    // over the run (slack for the noise task outliving the measured run).
    assert!(ok as f64 <= 20.0 + 100.0 * (secs + 0.5), "{ok} admitted in {secs:.2} s");
    // And not far fewer: a limiter that refused everything past the burst
    // would admit 19. Half the rate is the floor (the noise task may be
    // starved of CPU for part of the run, and then it sends less); when it
    // sent even less than that, everything it sent beyond the rate counts.
    let floor = (19.0 + 50.0 * secs).min(sent as f64);
    assert!(ok as f64 >= floor, "{ok} admitted of {sent} sent in {secs:.2} s, floor {floor:.0}");
}
