//! The web page of `adain serve` in a real browser: Debian's Chromium, headless, driven over
//! WebDriver (chromedriver). Upload a photo, pick a style, move the strength slider with the
//! keyboard, run, check the result and download it; then live mode with Chromium's fake
//! camera. With `ADAIN_SCREENSHOT=path` the page is photographed, and with
//! `ADAIN_SCREENSHOTS=dir` the in-browser page at desktop and phone width
//! (research/web-screenshot.sh). The same tests run against the light build's binary, whose
//! server and static site run the lite network without libtorch.

mod common;

use common::server::Server;
use common::*;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A chromedriver process and the port it listens on; killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port a server started with port 0 reports on its standard output, in the first line that
/// contains `marker` followed by the number (e.g. chromedriver's "on port 34483.", Python's
/// "port 8000"). The servers choose the port themselves, so that no two processes of the
/// parallel tests race for a port picked beforehand (CI once failed with AddrInUse that way).
/// The rest of the output keeps being read, so that the process never blocks on a full pipe.
fn reported_port(child: &mut Child, marker: &'static str) -> u16 {
    use std::io::BufRead;
    let out = child.stdout.take().expect("stdout piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split(marker).nth(1) {
                let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
                if let Ok(port) = digits.parse::<u16>() {
                    let _ = tx.send(port);
                }
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("no \"{marker} N\" line within 30 s"))
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = Instant::now();
    while !f().await {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Headless Chromium through the chromedriver listening on `port`, with a fake camera.
async fn chromium(port: u16, profile: &std::path::Path, prefs: serde_json::Value) -> Client {
    chromium_with(port, profile, prefs, &[]).await
}

/// [`chromium`] with more command-line flags (e.g. a video file as the fake camera).
async fn chromium_with(port: u16, profile: &std::path::Path, prefs: serde_json::Value, extra: &[String]) -> Client {
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        "--window-size=1100,1500",
    ]
    .map(String::from)
    .to_vec();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend_from_slice(extra);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": "/usr/bin/chromium", "args": args, "prefs": prefs }),
    );
    let t0 = Instant::now();
    loop {
        let conn = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(conn).capabilities(caps.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
            Ok(c) => return c,
            Err(e) if t0.elapsed() < Duration::from_secs(30) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("chromedriver: {e}"),
        }
    }
}

/// chromedriver on a port it chooses.
fn chromedriver() -> Driver {
    let mut child =
        Command::new("chromedriver").arg("--port=0").stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let port = reported_port(&mut child, "started successfully on port");
    Driver { child, port }
}

fn have_chromium() -> bool {
    let present =
        std::path::Path::new("/usr/bin/chromium").exists() && std::path::Path::new("/usr/bin/chromedriver").exists();
    prerequisite(present, "chromium and chromedriver (scripts/setup.sh installs them as root)")
}

/// [`have_chromium`] and onnxruntime-web's files, for the tests that run the network in the page.
fn have_chromium_and_runtime() -> bool {
    have_chromium()
        && prerequisite(adain::export::web::runtime().is_some(), "onnxruntime-web (scripts/setup.sh fetches it)")
}

async fn js(c: &Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.unwrap_or_else(|e| panic!("{script}: {e}"))
}

/// A plain static file server (`python3 -m http.server`) for `dir` on a port it chooses; killed
/// on drop.
struct StaticServer {
    child: Child,
    port: u16,
}

impl StaticServer {
    fn start(dir: &std::path::Path) -> Self {
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0", "-d", s(dir)])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let port = reported_port(&mut child, " port");
        Self { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens `url`, retrying while the server behind it is still starting.
async fn open(c: &Client, url: &str) {
    let t0 = Instant::now();
    while c.goto(url).await.is_err() && t0.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The page's `data-selftest` verdict, once it has one.
async fn selftest_verdict(c: &Client) -> String {
    let verdict = std::cell::RefCell::new(String::new());
    wait_for("the self-test", Duration::from_secs(180), || async {
        let v = js(c, "return document.body.dataset.selftest || ''").await;
        *verdict.borrow_mut() = v.as_str().unwrap_or_default().to_owned();
        !verdict.borrow().is_empty()
    })
    .await;
    verdict.into_inner()
}

/// Gives the page's photo picker the file at `path`.
async fn pick_photo(c: &Client, path: &std::path::Path) {
    c.find(Locator::Id("content-file")).await.unwrap().send_keys(s(path)).await.unwrap();
}

/// The CSS selector of the gallery's tile of style `id`, once the gallery shows it.
async fn gallery_tile(c: &Client, id: &str) -> String {
    let css = format!(r#"#gallery button[data-id="{id}"]"#);
    wait_for("the gallery", Duration::from_secs(30), || async { c.find(Locator::Css(&css)).await.is_ok() }).await;
    css
}

/// The page's error message ("" when none is shown).
async fn page_error(c: &Client) -> String {
    let script = "return document.getElementById('error').hidden ? '' : document.getElementById('error').textContent";
    js(c, script).await.as_str().unwrap_or_default().to_owned()
}

/// Clicks Stylize and waits up to `limit` for the result (its download link), failing on an
/// error the page shows.
async fn run_to_result(c: &Client, limit: Duration) {
    c.find(Locator::Id("run")).await.unwrap().click().await.unwrap();
    wait_for("the result", limit, || async {
        assert_eq!(page_error(c).await, "", "the page shows an error");
        js(c, "return !document.getElementById('download').hidden").await == true
    })
    .await;
}

/// Clicks Stylize when a result is already shown, and waits for the new one.
async fn rerun_to_result(c: &Client, what: &str) {
    let before = js(c, "return document.getElementById('result-img').src").await;
    c.find(Locator::Id("run")).await.unwrap().click().await.unwrap();
    wait_for(what, Duration::from_secs(120), || async {
        assert_eq!(page_error(c).await, "", "{what}: the page shows an error");
        js(c, "return document.getElementById('result-img').src").await != before
            && js(c, "return document.getElementById('status').textContent.startsWith('Done')").await == true
    })
    .await;
}

/// `adain serve` (more `server_args`) on a fresh folder, and `body` run with headless Chromium
/// (more `flags`; downloads into the folder's `downloads/`) given the page's address and the
/// folder; the browser is closed after.
fn on_served_page<F, Fut>(server_args: &[&str], flags: &[String], body: F)
where
    F: FnOnce(Client, String, std::path::PathBuf) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), server_args);
    let driver = chromedriver();
    let (profile, downloads) = (dir.path().join("profile"), dir.path().join("downloads"));
    std::fs::create_dir_all(&downloads).unwrap();
    let prefs =
        serde_json::json!({ "download.default_directory": s(&downloads), "download.prompt_for_download": false });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = chromium_with(driver.port, &profile, prefs, flags).await;
        body(c.clone(), srv.url.clone(), dir.path().to_path_buf()).await;
        c.close().await.unwrap();
    });
    drop(driver);
}

#[test]
fn the_page_stylizes_downloads_and_runs_live_mode() {
    if !have_chromium() {
        return;
    }
    let screenshot = std::env::var_os("ADAIN_SCREENSHOT").map(std::path::PathBuf::from);
    // The screenshot shows the shipped decoder's work; the test itself runs on a random one
    // (the light build's server runs the shipped lite network either way).
    let shipped = shipped_decoder();
    let extra: Vec<&str> =
        if screenshot.is_some() && cfg!(feature = "torch") { vec!["--decoder", s(&shipped)] } else { vec![] };
    on_served_page(&extra, &[], |c, url, dir| async move {
        let downloads = dir.join("downloads");
        c.goto(&url).await.unwrap();
        let starry_css = gallery_tile(&c, "starry_night").await;
        let starry = Locator::Css(&starry_css);

        // The photo, by the file picker; the style, by a click; the strength, by the keyboard.
        pick_photo(&c, &asset("chelsea.jpg")).await;
        c.find(starry).await.unwrap().click().await.unwrap();
        assert_eq!(c.find(starry).await.unwrap().attr("aria-checked").await.unwrap().as_deref(), Some("true"));
        let alpha = c.find(Locator::Id("alpha")).await.unwrap();
        for _ in 0..20 {
            alpha.send_keys(&Key::Left.to_string()).await.unwrap();
        }
        assert_eq!(c.find(Locator::Id("alpha-out")).await.unwrap().text().await.unwrap(), "80 %");
        c.find(Locator::Id("size")).await.unwrap().select_by_value("256").await.unwrap();
        // This test is the server's flow (the in-browser one has its own test).
        c.find(Locator::Id("where-server")).await.unwrap().click().await.unwrap();
        run_to_result(&c, Duration::from_secs(180)).await;
        let dims =
            js(&c, "const r = document.getElementById('result-img'); return [r.naturalWidth, r.naturalHeight]").await;
        assert_eq!(dims[1], 256, "{dims}");
        // The result is not the photo: mean absolute difference of the two, drawn at one size.
        let diff = js(
            &c,
            "const a = document.getElementById('before-img'), b = document.getElementById('result-img');
             const d = (im) => { const c = document.createElement('canvas'); c.width = 64; c.height = 64;
                                 const x = c.getContext('2d'); x.drawImage(im, 0, 0, 64, 64); return x.getImageData(0, 0, 64, 64).data; };
             const p = d(a), q = d(b); let s = 0; for (let i = 0; i < p.length; i++) s += Math.abs(p[i] - q[i]);
             return s / p.length / 255;",
        )
        .await;
        assert!(diff.as_f64().unwrap() > 0.03, "result vs photo: {diff}");
        let status = c.find(Locator::Id("status")).await.unwrap().text().await.unwrap();
        assert!(status.starts_with("Done") && status.contains("on the server"), "{status}");
        // Before/after: the result lies exactly over the photo; the slider uncovers the photo.
        let rects = js(
            &c,
            "const r = (id) => { const b = document.getElementById(id).getBoundingClientRect(); return [b.left, b.top, b.width, b.height]; };
             return [r('before-img'), r('result-img')]",
        )
        .await;
        assert_eq!(rects[0], rects[1], "result and photo are drawn over each other: {rects}");
        // The result is shown large (the panel's width here), not at its 256-px size.
        let shown = js(&c, "const r = document.getElementById('result-img'); return [r.getBoundingClientRect().width, r.naturalWidth, innerHeight]").await;
        let (w, natural) = (shown[0].as_f64().unwrap(), shown[1].as_f64().unwrap());
        assert!(w > 1.5 * natural, "the result is shown at {w} px for a {natural}-px image: {shown}");
        js(&c, "const s = document.getElementById('split'); s.value = 40; s.dispatchEvent(new Event('input'))").await;
        let clip = js(&c, "return getComputedStyle(document.getElementById('result-img')).clipPath").await;
        assert!(clip.as_str().unwrap_or_default().contains("60%"), "{clip}");
        // The slider lies on the picture, as wide as it (issue 34, defect 11: it spanned the
        // panel, its handle far from the split), over its lower part.
        let boxes = js(
            &c,
            "const r = (id) => { const b = document.getElementById(id).getBoundingClientRect(); return [b.left, b.width, b.top, b.bottom]; };
             return [r('before-img'), r('split')]",
        )
        .await;
        let (im, slider) = (&boxes[0], &boxes[1]);
        let f = |v: &serde_json::Value, k: usize| v[k].as_f64().unwrap();
        assert!((f(im, 0) - f(slider, 0)).abs() <= 1.0 && (f(im, 1) - f(slider, 1)).abs() <= 1.0, "{boxes}");
        assert!(f(slider, 2) >= f(im, 2) && f(slider, 3) <= f(im, 3), "the slider is not on the picture: {boxes}");

        // Download: the PNG lands in the download folder.
        c.find(Locator::Id("download")).await.unwrap().click().await.unwrap();
        let file = downloads.join("adain.png");
        wait_for("the download", Duration::from_secs(30), || {
            let f = file.clone();
            async move { f.exists() }
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(image::image_dimensions(&file).unwrap().1, 256);

        if let Some(path) = &screenshot {
            js(&c, "document.getElementById('split').value = 55; document.getElementById('split').dispatchEvent(new Event('input'))").await;
            std::fs::write(path, c.screenshot().await.unwrap()).unwrap();
        }

        // Live mode with the fake camera: stylized frames arrive and the counter runs.
        c.find(Locator::Id("live-size")).await.unwrap().select_by_value("128").await.unwrap();
        c.find(Locator::Id("live-start")).await.unwrap().click().await.unwrap();
        // Width and height read together: each new frame replaces the image, whose size is 0
        // until it has loaded.
        let size = std::cell::Cell::new((0, 0));
        wait_for("live frames", Duration::from_secs(90), || async {
            let err = page_error(&c).await;
            assert_eq!(err, "", "the page shows an error");
            let fps = js(&c, "return Number(document.getElementById('live-fps').textContent)").await;
            let wh =
                js(&c, "const o = document.getElementById('live-output'); return [o.naturalWidth, o.naturalHeight]")
                    .await;
            let (w, h) = (wh[0].as_u64().unwrap_or(0), wh[1].as_u64().unwrap_or(0));
            size.set((w, h));
            fps.as_f64().unwrap_or(0.0) > 0.0 && w > 0
        })
        .await;
        assert_eq!(size.get().1, 128, "live frames at the chosen size");
        c.find(Locator::Id("live-stop")).await.unwrap().click().await.unwrap();
    });
}

/// The page stylizes on the visitor's device: `?selftest=1` runs the lite network in
/// onnxruntime-web on the built-in photo and painting and ends with `data-selftest="ok MS
/// BACKEND"`, with WebAssembly threads because the page is cross-origin isolated; then the
/// page's own flow in that mode (photo, style, run) gives a result at the chosen size without
/// a single request that carries the photo.
#[test]
fn the_page_stylizes_in_the_browser_and_passes_its_selftest() {
    if !have_chromium_and_runtime() {
        return;
    }
    on_served_page(&[], &[], |c, url, dir| async move {
        c.goto(&format!("{}?selftest=1", url)).await.unwrap();
        let verdict = selftest_verdict(&c).await;
        eprintln!("self-test: {verdict}");
        assert!(verdict.starts_with("ok "), "{verdict}");
        assert_eq!(js(&c, "return self.crossOriginIsolated").await, true, "COOP/COEP make the page isolated");
        assert!(verdict.contains("threads"), "WebAssembly threads in an isolated page: {verdict}");

        c.goto(&url).await.unwrap();
        wait_for("the in-browser runtime", Duration::from_secs(120), || async {
            js(&c, "return document.getElementById('where-local').checked").await == true
        })
        .await;
        let starry_css = gallery_tile(&c, "starry_night").await;
        let starry = Locator::Css(&starry_css);
        pick_photo(&c, &asset("chelsea.jpg")).await;
        c.find(starry).await.unwrap().click().await.unwrap();
        c.find(Locator::Id("size")).await.unwrap().select_by_value("256").await.unwrap();
        run_to_result(&c, Duration::from_secs(120)).await;
        let status = c.find(Locator::Id("status")).await.unwrap().text().await.unwrap();
        assert!(status.contains("on this device"), "{status}");
        // The network in the browser is the lite one, with its own palette matching (the
        // server here runs the VGG model, whose default is 1, in the full build; the lite
        // network in the light build).
        let palette = js(&c, "return [liteDefaults.match_palette, defaults.match_palette]").await;
        let lite = adain::infer::settings::LITE_MATCH_PALETTE;
        let server = if cfg!(feature = "torch") { 1.0 } else { lite };
        assert_eq!((palette[0].as_f64(), palette[1].as_f64()), (Some(lite), Some(server)), "{palette}");
        let dims =
            js(&c, "const r = document.getElementById('result-img'); return [r.naturalWidth, r.naturalHeight]").await;
        assert_eq!(dims[1], 256, "{dims}");
        // Nothing that could carry the photo went to the server.
        let sent = js(
            &c,
            "return performance.getEntriesByType('resource').map(e => e.name).filter(n => /api\\/(jobs|stylize|live)/.test(n))",
        )
        .await;
        assert_eq!(sent, serde_json::json!([]), "requests that upload: {sent}");
        let shots = std::env::var_os("ADAIN_SCREENSHOTS").map(std::path::PathBuf::from);
        if let Some(dir) = &shots {
            std::fs::write(dir.join("web-browser.png"), c.screenshot().await.unwrap()).unwrap();
        }

        // A style kept in this page (issue 34, defect 9): a file that is not an image is refused
        // at the picker, no tile added; a real one is used here, and on the server after
        // switching (sent with the request), without an error.
        let fake = dir.join("not-a-style.png");
        std::fs::write(&fake, b"plain text").unwrap();
        c.find(Locator::Id("style-file")).await.unwrap().send_keys(s(&fake)).await.unwrap();
        wait_for("the style picker's error", Duration::from_secs(10), || async {
            page_error(&c).await.contains("not an image")
        })
        .await;
        assert_eq!(js(&c, "return document.querySelectorAll('#gallery [data-id^=local-]').length").await, 0);
        c.find(Locator::Id("style-file")).await.unwrap().send_keys(s(&asset("coffee.jpg"))).await.unwrap();
        gallery_tile(&c, "local-1").await;
        assert_eq!(js(&c, "return state.style").await, "local-1");
        c.find(Locator::Id("where-server")).await.unwrap().click().await.unwrap();
        rerun_to_result(&c, "the device-only style on the server").await;
        let status = c.find(Locator::Id("status")).await.unwrap().text().await.unwrap();
        assert!(status.contains("on the server"), "{status}");
        c.find(Locator::Id("where-local")).await.unwrap().click().await.unwrap();
        c.find(Locator::Css(&starry_css)).await.unwrap().click().await.unwrap();
        rerun_to_result(&c, "back on this device").await;

        // The strength slider runs again by itself here (the work is fast): the result changes.
        let before = js(&c, "return document.getElementById('result-img').src").await;
        let alpha = c.find(Locator::Id("alpha")).await.unwrap();
        for _ in 0..30 {
            alpha.send_keys(&Key::Left.to_string()).await.unwrap();
        }
        wait_for("the re-run at the new strength", Duration::from_secs(60), || async {
            js(&c, "return document.getElementById('result-img').src").await != before
                && js(&c, "return document.getElementById('status').textContent.startsWith('Done')").await == true
        })
        .await;

        // Two styles mixed and the photo's colours kept run here too (style codes mix): the
        // result changes with each, and nothing is uploaded.
        for (what, script) in [
            ("two styles mixed", "document.getElementById('combine').click()"),
            (
                "the photo's colours kept",
                "document.getElementById('combine').click(); document.getElementById('preserve').click()",
            ),
        ] {
            let before = js(&c, "return document.getElementById('result-img').src").await;
            js(&c, script).await;
            c.find(Locator::Id("run")).await.unwrap().click().await.unwrap();
            wait_for(what, Duration::from_secs(60), || async {
                let err = page_error(&c).await;
                assert_eq!(err, "", "{what}: the page shows an error");
                js(&c, "return document.getElementById('result-img').src").await != before
                    && js(&c, "return document.getElementById('status').textContent.startsWith('Done')").await == true
            })
            .await;
            let status = c.find(Locator::Id("status")).await.unwrap().text().await.unwrap();
            assert!(status.contains("on this device"), "{what}: {status}");
        }
        js(&c, "document.getElementById('preserve').click()").await;

        // Live mode on this device: camera frames through the frame graph, counted; no
        // WebSocket to the server. Stop clears the counter and the last frame.
        c.find(Locator::Id("live-size")).await.unwrap().select_by_value("128").await.unwrap();
        c.find(Locator::Id("live-start")).await.unwrap().click().await.unwrap();
        wait_for("ten live frames", Duration::from_secs(90), || async {
            let err = page_error(&c).await;
            assert_eq!(err, "", "live mode: the page shows an error");
            js(&c, "return live.count").await.as_u64().unwrap_or(0) >= 10
        })
        .await;
        let shown = js(&c, "const o = document.getElementById('live-canvas'); return [o.hidden, o.height, live.where, live.ws === null, Number(document.getElementById('live-fps').textContent)]").await;
        assert_eq!(shown[0], false, "the live canvas is shown: {shown}");
        assert_eq!(shown[1], 128, "live frames at the chosen size: {shown}");
        assert_eq!((&shown[2], &shown[3]), (&serde_json::json!("local"), &serde_json::json!(true)), "{shown}");
        assert!(shown[4].as_f64().unwrap() > 0.0, "the frame counter runs: {shown}");
        assert!(
            c.find(Locator::Id("live-where")).await.unwrap().text().await.unwrap().contains("on this device"),
            "the page says where live mode runs"
        );
        c.find(Locator::Id("live-stop")).await.unwrap().click().await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stopped = js(&c, "return [document.getElementById('live-canvas').hidden, document.getElementById('live-fps').textContent, live.count]").await;
        assert_eq!((&stopped[0], &stopped[1]), (&serde_json::json!(true), &serde_json::json!("0.0")), "{stopped}");
        let count = stopped[2].clone();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(js(&c, "return live.count").await, count, "no frame after Stop");

        // The second style is never the first: choosing the second tile as the first style
        // moves the second style elsewhere.
        let second_tile = js(&c, "return document.querySelectorAll('#gallery button')[1].dataset.id").await;
        js(&c, "document.querySelectorAll('#gallery button')[1].click()").await;
        let second_style =
            js(&c, "return document.querySelector('#gallery2 button[aria-checked=true]').dataset.id").await;
        assert_ne!(second_style, second_tile, "the second style defaults to another one than the first");

        // A file that claims to be an image and is not: the error shows at the picker and the
        // previous result goes away.
        let fake = dir.join("not-a-photo.jpg");
        std::fs::write(&fake, b"this is text, not a JPEG").unwrap();
        pick_photo(&c, &fake).await;
        wait_for("the picker's error", Duration::from_secs(10), || async {
            js(&c, "const e = document.getElementById('error'); return !e.hidden && e.textContent.includes('not an image')").await
                == true
        })
        .await;
        assert_eq!(
            js(&c, "return document.getElementById('compare').hidden").await,
            true,
            "the stale result is hidden"
        );

        // A phone's width (390 px): nothing is wider than the screen.
        c.set_window_size(390, 844).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let widths =
            js(&c, "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]").await;
        assert!(widths[0].as_u64() <= widths[1].as_u64(), "the page scrolls sideways at phone width: {widths}");
        if let Some(dir) = &shots {
            js(&c, "window.scrollTo(0, 0)").await;
            std::fs::write(dir.join("web-phone.png"), c.screenshot().await.unwrap()).unwrap();
        }
    });
}

/// Where the browser offers WebGPU, the page runs the network on it. Here the adapter is
/// Chromium's SwiftShader (`--enable-unsafe-webgpu`; software, without `shader-f16`), which the
/// page leaves alone unless asked (`?backend=webgpu`): the self-test then says `webgpu-f32`,
/// and a frame matches the WebAssembly engine's (the float16 graph) on the same page.
#[test]
fn the_page_runs_on_webgpu_where_the_browser_has_it() {
    let gpu_build = adain::export::web::runtime()
        .is_some_and(|d| adain::export::web::WEBGPU_FILES.iter().all(|f| d.join(f).is_file()));
    if !have_chromium_and_runtime() || !prerequisite(gpu_build, "onnxruntime-web's WebGPU build (scripts/setup.sh)") {
        return;
    }
    on_served_page(&[], &["--enable-unsafe-webgpu".into()], |c, url, _dir| async move {
        c.goto(&format!("{}?selftest=1&backend=webgpu", url)).await.unwrap();
        let verdict = selftest_verdict(&c).await;
        let why = js(&c, "return local.engine && local.engine.gpuError").await;
        eprintln!("self-test on WebGPU: {verdict} (WebGPU's error: {why})");
        assert!(verdict.starts_with("ok ") && verdict.ends_with(" webgpu-f32"), "{verdict}; WebGPU's error: {why}");
        let got = js(
            &c,
            r#"return (async () => {
                const base = new URL(".", document.baseURI).href;
                const { createLocal } = await import(new URL("local.js", base).href);
                const [gpu, cpu] = [await createLocal(base, "webgpu"), await createLocal(base, "wasm")];
                const canvas = (fill) => {
                    const c = document.createElement("canvas");
                    c.width = 96; c.height = 64;
                    const g = c.getContext("2d");
                    for (let y = 0; y < 64; y += 8) for (let x = 0; x < 96; x += 8) { g.fillStyle = fill(x, y); g.fillRect(x, y, 8, 8); }
                    return c;
                };
                const content = canvas((x, y) => `rgb(${x * 2},${y * 3},${(x * y) % 256})`);
                const style = canvas((x, y) => `hsl(${(x * 7 + y * 13) % 360},80%,50%)`);
                const run = async (e) => (await e.frame(content, await e.style(style), 1, 0)).data;
                const [a, b] = [await run(gpu), await run(cpu)];
                let max = 0, sum = 0;
                for (let i = 0; i < a.length; i++) { const d = Math.abs(a[i] - b[i]); max = Math.max(max, d); sum += d; }
                return [gpu.backend, cpu.backend, max, sum / a.length];
            })()"#,
        )
        .await;
        eprintln!("WebGPU against WebAssembly: {got}");
        assert_eq!(got[0], "webgpu-f32", "{got}");
        assert!(got[1].as_str().unwrap().starts_with("wasm-simd"), "{got}");
        let (max, mean) = (got[2].as_f64().unwrap(), got[3].as_f64().unwrap());
        assert!(max < 0.01 && mean < 1e-3, "WebGPU's frame differs from WebAssembly's: max {max}, mean {mean}");
        // Not asked for, the software adapter is passed over, and the page says why.
        c.goto(&format!("{}?selftest=1", url)).await.unwrap();
        let verdict = selftest_verdict(&c).await;
        assert!(verdict.starts_with("ok ") && verdict.contains("wasm-simd"), "{verdict}");
        let why = js(&c, "return local.engine.gpuError").await;
        assert!(why.as_str().is_some_and(|w| w.contains("software")), "{why}");
    });
}

/// `adain export --web DIR` served by a plain file server (`python3 -m http.server`, no adain
/// process): the site's own self-test ends with `data-selftest="ok …"` in headless Chromium
/// (one thread: a plain file server sends no COOP/COEP), and its gallery shows the built-in
/// images and a `--styles` folder's, each with its title and artist (from the folder's
/// gallery.toml) under the picture.
#[test]
fn the_exported_static_site_passes_its_selftest_from_a_plain_file_server() {
    if !have_chromium_and_runtime() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let paintings = dir.path().join("paintings");
    std::fs::create_dir(&paintings).unwrap();
    let mut toml = String::new();
    for k in 0..8u8 {
        let im = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([k * 30, (x * 4) as u8, (y * 4) as u8]));
        im.save(paintings.join(format!("p{k}.png"))).unwrap();
        toml += &format!(
            "[[style]]\nfile = \"p{k}.png\"\ntitle = \"Study {k}\"\nartist = \"A. Painter\"\nyear = \"190{k}\"\nlicence = \"public domain\"\n\n"
        );
    }
    std::fs::write(paintings.join("gallery.toml"), &toml).unwrap();
    // A gallery.toml naming a file that is not there is refused, naming both.
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("gallery.toml"), "[[style]]\nfile = \"gone.jpg\"\ntitle = \"Gone\"\n").unwrap();
    let o = adain(&["export", "--web", s(&dir.path().join("refused")), "--styles", s(&bad)]);
    assert!(
        !o.status.success() && stderr(&o).contains("gallery.toml") && stderr(&o).contains("gone.jpg"),
        "{}",
        stderr(&o)
    );
    // A folder that is not there is refused, named (issue 34: it was "skipping style …: larger
    // than the upload limit", and the command went on).
    let gone = dir.path().join("no-such-folder");
    let o = adain(&["export", "--web", s(&dir.path().join("refused")), "--styles", s(&gone)]);
    assert!(!o.status.success() && stderr(&o).contains("no-such-folder: not a folder"), "{}", stderr(&o));
    let site = dir.path().join("site");
    let o = adain(&["export", "--web", s(&site), "--styles", s(&paintings)]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "index.html",
        "app.js",
        "local.js",
        "settings.json",
        "gallery.json",
        "models/lite-style.onnx",
        "models/lite-frame.onnx",
        "models/lite-style-f32.onnx",
        "models/lite-frame-f32.onnx",
        "ort/ort.wasm.min.mjs",
    ] {
        assert!(site.join(f).is_file(), "{f} is missing from the site");
    }
    // A second export into the same folder is refused (nothing is overwritten).
    let o = adain(&["export", "--web", s(&site)]);
    assert!(!o.status.success() && stderr(&o).contains("not an empty folder"), "{}", stderr(&o));
    let http = StaticServer::start(&site);
    let driver = chromedriver();
    let profile = dir.path().join("profile");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let verdict = rt.block_on(async {
        let c = chromium(driver.port, &profile, serde_json::json!({})).await;
        open(&c, &http.url("index.html?selftest=1")).await;
        let verdict = selftest_verdict(&c).await;
        let captions = js(
            &c,
            "return [...document.querySelectorAll('#gallery .caption')].filter(e => e.offsetHeight > 0).map(e => e.textContent)",
        )
        .await;
        let captions: Vec<&str> = captions.as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
        // The built-in gallery: nine paintings (first), then three photos.
        assert_eq!(captions.len(), 20, "12 built-in and 8 folder tiles, each with a visible caption: {captions:?}");
        assert_eq!(captions[0], "The Starry Night (van Gogh, 1889)", "{captions:?}");
        assert!(captions.contains(&"Composition VII (Kandinsky, 1913)"), "{captions:?}");
        assert!(captions[..9].iter().all(|c| !c.contains("photo")) && captions[9..12].iter().all(|c| c.contains("photo")));
        assert_eq!(captions[12..15], ["Study 0 (A. Painter, 1900)", "Study 1 (A. Painter, 1901)", "Study 2 (A. Painter, 1902)"]);
        // No server behind the site, and the page does not offer or mention one (issue 34,
        // defect 10): the option is not displayed, the texts name no server or API route.
        let shown = js(
            &c,
            "return [getComputedStyle(document.getElementById('where-server').closest('label')).display, \
             document.querySelector('header').textContent, document.querySelector('footer').textContent]",
        )
        .await;
        assert_eq!(shown[0], "none", "the server option is displayed: {shown}");
        assert!(!shown[1].as_str().unwrap().contains("server"), "the header mentions a server: {shown}");
        assert!(!shown[2].as_str().unwrap().contains("/api/"), "the footer lists API routes: {shown}");
        // The site's settings are the lite network's (its palette matching).
        let palette = js(&c, "return [defaults.match_palette, liteDefaults.match_palette]").await;
        let lite = adain::infer::settings::LITE_MATCH_PALETTE;
        assert_eq!((palette[0].as_f64(), palette[1].as_f64()), (Some(lite), Some(lite)), "{palette}");
        // What a visitor downloads (the self-test ran the network): only the runtime build and
        // the graphs the page uses (WebAssembly here: not the WebGPU build, not the float32
        // graphs), each file once. README's figures come from this line.
        let loaded = js(
            &c,
            "return [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
               .map(e => [new URL(e.name).pathname.split('/').slice(-2).join('/'), e.encodedBodySize])",
        )
        .await;
        let loaded: Vec<(String, u64)> = loaded
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e[0].as_str().unwrap_or_default().to_owned(), e[1].as_u64().unwrap_or(0)))
            .collect();
        let names: Vec<&str> = loaded.iter().map(|(n, _)| n.as_str()).collect();
        assert!(!names.iter().any(|n| n.contains("webgpu") || n.contains("asyncify")), "the WebGPU build: {names:?}");
        assert!(!names.iter().any(|n| n.ends_with("-f32.onnx")), "float32 graphs besides float16 ones: {names:?}");
        assert!(names.contains(&"models/lite-frame.onnx") && names.iter().any(|n| n.ends_with(".wasm")), "{names:?}");
        let on_disk: u64 = walk(&site).iter().map(|p| p.metadata().unwrap().len()).sum();
        let fetched: u64 = loaded.iter().map(|(_, b)| b).sum();
        let biggest: Vec<String> = {
            let mut v = loaded.clone();
            v.sort_by_key(|(_, b)| std::cmp::Reverse(*b));
            v.iter().take(4).map(|(n, b)| format!("{n} {:.1} MB", *b as f64 / 1e6)).collect()
        };
        eprintln!(
            "static site: {:.1} MB on disk ({} files); a visitor's first self-test downloaded {:.1} MB in {} files ({})",
            on_disk as f64 / 1e6,
            walk(&site).len(),
            fetched as f64 / 1e6,
            loaded.len(),
            biggest.join(", ")
        );
        c.close().await.unwrap();
        verdict
    });
    drop(http);
    drop(driver);
    eprintln!("static site self-test: {verdict}");
    assert!(verdict.starts_with("ok ") && verdict.contains("1-thread"), "{verdict}");
}

/// A page of another origin (a second server on another port, as any web site the visitor has
/// open) tries to upload a style with `fetch` and to open live mode's WebSocket on the adain
/// server. Refused by default (nothing reaches the gallery, the socket never opens); allowed
/// with `--allow-origin` for that origin (the control that shows the page would succeed).
#[test]
fn pages_of_other_origins_cannot_use_the_server() {
    if !have_chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let page_server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let page_origin = format!("http://127.0.0.1:{}", page_server.local_addr().unwrap().port());
    let page = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let served = page.clone();
    std::thread::spawn(move || {
        for sock in page_server.incoming() {
            let Ok(mut sock) = sock else { continue };
            let mut head = [0u8; 4096];
            let _ = std::io::Read::read(&mut sock, &mut head);
            let body = served.lock().unwrap().clone();
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = std::io::Write::write_all(&mut sock, answer.as_bytes());
        }
    });
    let driver = chromedriver();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for allowed in [false, true] {
        // Uploads listed for everyone, so that the gallery shows whether one got through.
        let extra: Vec<&str> =
            if allowed { vec!["--shared-uploads", "--allow-origin", &page_origin] } else { vec!["--shared-uploads"] };
        let srv = Server::start(dir.path(), &extra);
        let api = srv.url.trim_end_matches('/').to_owned();
        let name = format!("cross-origin-{allowed}");
        *page.lock().unwrap() = format!(
            r##"<!doctype html><title>another site</title><body><script>
            (async () => {{
              const api = "{api}", res = {{}};
              const c = document.createElement("canvas"); c.width = 8; c.height = 8;
              const x = c.getContext("2d"); x.fillStyle = "#3a7"; x.fillRect(0, 0, 8, 8);
              const blob = await new Promise(r => c.toBlob(r, "image/png"));
              const f = new FormData(); f.append("style", blob, "x.png"); f.append("name", "{name}");
              try {{ res.upload = (await fetch(api + "/api/styles", {{ method: "POST", body: f }})).status; }}
              catch (e) {{ res.upload = "blocked"; }}
              res.ws = await new Promise(done => {{
                const w = new WebSocket(api.replace("http", "ws") + "/api/live");
                w.onopen = () => {{ w.close(); done("open"); }};
                w.onerror = () => done("refused");
              }});
              document.body.dataset.result = JSON.stringify(res);
            }})();
            </script></body>"##
        );
        let profile = dir.path().join(format!("profile-{allowed}"));
        let result = rt.block_on(async {
            let c = chromium(driver.port, &profile, serde_json::json!({})).await;
            c.goto(&format!("{page_origin}/")).await.unwrap();
            let result = std::cell::RefCell::new(serde_json::Value::Null);
            wait_for("the page's attempts", Duration::from_secs(30), || async {
                let v = js(&c, "return document.body.dataset.result || ''").await;
                *result.borrow_mut() = serde_json::from_str(v.as_str().unwrap_or_default()).unwrap_or_default();
                !result.borrow().is_null()
            })
            .await;
            c.close().await.unwrap();
            result.into_inner()
        });
        let gallery: serde_json::Value = reqwest::blocking::get(format!("{api}/api/styles")).unwrap().json().unwrap();
        let uploaded = gallery["styles"].as_array().unwrap().iter().any(|s| s["name"] == name.as_str());
        if allowed {
            assert_eq!(result["upload"], 201, "{result}");
            assert_eq!(result["ws"], "open", "{result}");
            assert!(uploaded, "the allowed origin's upload is in the gallery");
        } else {
            assert_eq!(result["upload"], "blocked", "{result}");
            assert_eq!(result["ws"], "refused", "{result}");
            assert!(!uploaded, "a foreign page added a style: {gallery}");
        }
    }
    drop(driver);
}

/// Frames per second of the lite network in the browser (BENCHMARKS.md; not part of the test
/// run: `cargo test --test browser browser_frame_rate -- --ignored --nocapture`, on a quiet
/// machine): onnxruntime-web with WebAssembly threads on `adain serve`'s isolated page, and with
/// one thread on the exported static site under a plain file server.
/// - stills: a photo at 256 px (short side) with the style encoded too, 3 warm-up runs, then the
///   median of 15;
/// - live mode: the page's own loop (style code kept, one frame graph run per frame, drawn on
///   the canvas) on a 256×256 fake camera (a Y4M file made with ffmpeg), frames counted over
///   10 s after 4 s of warm-up.
#[test]
#[ignore]
fn browser_frame_rate() {
    if !have_chromium() || adain::export::web::runtime().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let site = dir.path().join("site");
    assert!(adain(&["export", "--web", s(&site)]).status.success());
    let http = StaticServer::start(&site);
    let camera = dir.path().join("camera.y4m");
    let made = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-loop", "1", "-i", s(&asset("chelsea.jpg")), "-vf", "scale=256:256"])
        .args(["-frames:v", "30", "-pix_fmt", "yuv420p", s(&camera)])
        .status()
        .unwrap();
    assert!(made.success(), "ffmpeg: the fake camera's video");
    let fake = vec![format!("--use-file-for-fake-video-capture={}", camera.display())];
    let driver = chromedriver();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for (what, url) in [
        ("WebAssembly, threads (adain serve)", srv.url.clone()),
        ("WebAssembly, one thread (static site)", http.url("index.html")),
    ] {
        let profile = dir.path().join(format!("profile-{}", what.len()));
        rt.block_on(async {
            let c = chromium_with(driver.port, &profile, serde_json::json!({}), &fake).await;
            open(&c, &url).await;
            wait_for("the in-browser runtime", Duration::from_secs(120), || async {
                js(&c, "return document.getElementById('where-local').checked").await == true
            })
            .await;
            js(
                &c,
                "(async () => {
                   const { scaled } = await import(new URL('local.js', document.baseURI).href);
                   const content = scaled(await styleImage('chelsea'), 256), style = scaled(await styleImage('starry_night'), 256);
                   for (let i = 0; i < 3; i++) await local.engine.stylize(content, style, 1);
                   const t = [];
                   for (let i = 0; i < 15; i++) { const t0 = performance.now(); await local.engine.stylize(content, style, 1); t.push(performance.now() - t0); }
                   t.sort((a, b) => a - b);
                   window.benchResult = { ms: t[7], backend: local.engine.backend, size: [content.width, content.height] };
                 })()",
            )
            .await;
            let result = std::cell::RefCell::new(serde_json::Value::Null);
            wait_for("the timed frames", Duration::from_secs(300), || async {
                *result.borrow_mut() = js(&c, "return window.benchResult || null").await;
                !result.borrow().is_null()
            })
            .await;
            let r = result.into_inner();
            let ms = r["ms"].as_f64().unwrap();
            println!("browser: {what}: stills {} at {}: median {ms:.1} ms, {:.1} /s", r["backend"], r["size"], 1e3 / ms);

            c.find(Locator::Id("live-size")).await.unwrap().select_by_value("256").await.unwrap();
            c.find(Locator::Id("live-start")).await.unwrap().click().await.unwrap();
            tokio::time::sleep(Duration::from_secs(4)).await;
            let count = || async { js(&c, "return [live.count, performance.now()]").await };
            let a = count().await;
            tokio::time::sleep(Duration::from_secs(10)).await;
            let b = count().await;
            let frames = b[0].as_f64().unwrap() - a[0].as_f64().unwrap();
            let secs = (b[1].as_f64().unwrap() - a[1].as_f64().unwrap()) / 1e3;
            let size = js(&c, "const o = document.getElementById('live-canvas'); return [o.width, o.height]").await;
            println!("browser: {what}: live mode at {size}: {frames} frames in {secs:.1} s, {:.1} frames/s", frames / secs);
            c.close().await.unwrap();
        });
    }
    drop(http);
    drop(driver);
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}
