//! `--format html` in a real browser: the pages of `scan`, `compare` and `summary` are opened
//! with headless Chromium (after their script has run) and the DOM it dumps is checked: the
//! treemap's rects and their paths, sizes and layers for an image with known sizes, the layer
//! rows with their commands, the findings; hostile file names, labels and commands show as text
//! with no element injected; a screenshot is not blank; the pages reach for nothing outside.
//! The size bound is checked on a 50 000-file image (docs/html.md).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::{layout, tar, testdata, Comp, Image, E};

const HOSTILE: &str = "</script><img src=x onerror=alert(1)>";

fn layerscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_layerscope")).args(args).env("NO_COLOR", "1").output().unwrap()
}

fn chromium(args: &[&str], page: &Path) -> Output {
    chromium_at(args, &format!("file://{}", page.display()))
}

fn chromium_at(args: &[&str], url: &str) -> Output {
    let out = Command::new("chromium")
        .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"])
        .args(args)
        .arg(url)
        .output()
        .expect("chromium (Debian package chromium, installed by scripts/test.sh)");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The DOM after the page's script has run.
fn dom(page: &Path) -> String {
    String::from_utf8(chromium(&["--dump-dom"], page).stdout).unwrap()
}

/// Takes a screenshot and checks it shows something: many colours, no colour covering it all.
fn screenshot_is_not_blank(page: &Path, png_path: &Path) {
    chromium(&[&format!("--screenshot={}", png_path.display()), "--window-size=1280,900"], page);
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let mut counts: BTreeMap<&[u8], usize> = BTreeMap::new();
    for p in buf[..info.buffer_size()].chunks(px) {
        *counts.entry(p).or_default() += 1;
    }
    let total: usize = counts.values().sum();
    let top = counts.values().max().copied().unwrap_or(0);
    assert!(counts.len() > 50, "screenshot has {} colours", counts.len());
    assert!(top * 100 < total * 90, "one colour covers {top} of {total} pixels");
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// The attributes of every `<tag ...>` start tag in a dumped DOM (values unescaped).
fn elements(dom: &str, tag: &str) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    let open = format!("<{tag}");
    let mut rest = dom;
    while let Some(at) = rest.find(&open) {
        rest = &rest[at + open.len()..];
        if !rest.starts_with([' ', '>', '/']) {
            continue;
        }
        let mut attrs = BTreeMap::new();
        let mut s = rest;
        loop {
            s = s.trim_start();
            if s.starts_with('>') || s.starts_with("/>") || s.is_empty() {
                break;
            }
            let name_end = s.find(|c: char| c == '=' || c == '>' || c.is_whitespace()).unwrap_or(s.len());
            let name = s[..name_end].to_string();
            s = &s[name_end..];
            if let Some(v) = s.strip_prefix("=\"") {
                let end = v.find('"').unwrap();
                attrs.insert(name, unescape(&v[..end]));
                s = &v[end + 1..];
            } else {
                attrs.insert(name, String::new());
            }
        }
        out.push(attrs);
    }
    out
}

/// The rects of a treemap (`data-path` set), with their area.
fn rects(dom: &str) -> Vec<(String, u64, i64, f64)> {
    elements(dom, "rect")
        .into_iter()
        .filter_map(|a| {
            let path = a.get("data-path")?.clone();
            let area = a["width"].parse::<f64>().unwrap() * a["height"].parse::<f64>().unwrap();
            Some((path, a["data-bytes"].parse().unwrap(), a["data-layer"].parse().unwrap(), area))
        })
        .collect()
}

/// Text as the templates escape it.
fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

/// The page reaches for nothing: no address, no protocol-relative reference, no element with a
/// `src` or `href`. `text` is the image's own text the page shows (label values, which may
/// well be addresses), left out of the check.
fn self_contained(html: &str, dom: &str, text: &[&str]) {
    let mut rest = html.to_string();
    for t in text {
        rest = rest.replace(&escaped(t), "");
    }
    for bad in ["http:", "https:", "//", "url(", "@import"] {
        assert!(!rest.contains(bad), "the page holds {bad:?}");
    }
    for tag in ["img", "script", "link", "a", "iframe", "image", "use"] {
        for e in elements(dom, tag) {
            assert!(!e.contains_key("src") && !e.contains_key("href"), "<{tag}> with a reference: {e:?}");
        }
    }
}

/// The JSON document embedded in a page.
fn page_data(html: &str) -> serde_json::Value {
    let start = html.find(r#"<script type="application/json" id="data">"#).unwrap();
    let body = &html[start..];
    let body = &body[body.find('>').unwrap() + 1..];
    serde_json::from_str(&body[..body.find("</script>").unwrap()]).unwrap()
}

/// Runs `layerscope CMD IMAGE -o html=DIR/NAME.html -o json=DIR/NAME.json`: the page, its text
/// and the JSON output of the same run.
fn html_and_json(cmd: &str, image: &str, dir: &Path, name: &str) -> (std::path::PathBuf, String, serde_json::Value) {
    let page = dir.join(format!("{name}.html"));
    let json = dir.join(format!("{name}.json"));
    let out = layerscope(&[
        cmd,
        "-q",
        image,
        "-o",
        &format!("html={}", page.display()),
        "-o",
        &format!("json={}", json.display()),
    ]);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&out.stderr));
    let report = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    (page.clone(), std::fs::read_to_string(&page).unwrap(), report)
}

/// An image with known sizes and hostile names: layer 0 writes big/a (200 000 bytes),
/// big/sub/b (100 000), small/c (50 000), the hostile files; layer 1 deletes big/sub/b and
/// writes small/d (60 000). So big is 200 000 bytes, small 110 000.
fn known_image(dir: &Path) -> String {
    let a = vec![b'a'; 200_000];
    let b = vec![b'b'; 100_000];
    let c = vec![b'c'; 50_000];
    let d = vec![b'd'; 60_000];
    let hostile_file = format!("hostile/{HOSTILE}");
    let quoted = "hostile/\"quoted' {{ name }} {% raw %}".to_string();
    let l0 = tar(&[
        E::Dir("big/"),
        E::File("big/a", &a),
        E::Dir("big/sub/"),
        E::File("big/sub/b", &b),
        E::Dir("small/"),
        E::File("small/c", &c),
        E::Dir("hostile/"),
        E::File(&hostile_file, &[b'x'; 20_000]),
        E::File(&quoted, &[b'y'; 15_000]),
    ]);
    let l1 = tar(&[E::File("big/sub/.wh.b", b""), E::File("small/d", &d)]);
    let mut img = Image::new("amd64", vec![(l0, Comp::Gzip), (l1, Comp::Gzip)]);
    img.config = serde_json::json!({
        "Labels": {"org.example.note": HOSTILE, "quote\"key": "{{ 7*7 }}"},
        "Entrypoint": ["/big/a"],
    });
    img.history = Some(serde_json::json!([
        {"created_by": format!("COPY {HOSTILE} /hostile # first")},
        {"created_by": "RUN rm big/sub/b && echo '{{ second }}'"},
    ]));
    layout(&dir.join("known"), &img)
}

#[test]
fn scan_page_draws_the_known_sizes_and_keeps_hostile_names_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let image = known_image(dir.path());
    let (page, html, report) = html_and_json("scan", &image, dir.path(), "scan");
    let dom = dom(&page);

    // Nothing injected: the only <img> would be the hostile one; the `{{`s stayed as they were.
    assert!(elements(&dom, "img").is_empty(), "an <img> got into the page");
    assert!(!dom.contains("<img"), "an <img> got into the page");
    assert!(dom.contains(&HOSTILE.replace('<', "&lt;").replace('>', "&gt;")), "the hostile label is not shown as text");
    assert!(dom.contains("{{ 7*7 }}") && !dom.contains(">49<"), "a label was evaluated as a template");
    assert!(dom.contains("{{ second }}"), "the layer command is not shown as text");
    // Its one script: the page's own (the JSON document is data, not script).
    let scripts = elements(&dom, "script");
    assert_eq!(scripts.len(), 2, "{scripts:?}");
    assert_eq!(scripts.iter().filter(|s| s.get("type").is_some_and(|t| t == "application/json")).count(), 1);
    self_contained(&html, &dom, &[]);

    // One section per platform.
    let sections = elements(&dom, "section");
    assert!(sections.iter().any(|s| s.get("data-platform").is_some_and(|p| p == "linux/amd64")), "{sections:?}");

    // The treemap: the top level as drawn, biggest first; big/sub/b was deleted.
    let r = rects(&dom);
    let by_path: BTreeMap<&str, &(String, u64, i64, f64)> = r.iter().map(|x| (x.0.as_str(), x)).collect();
    assert_eq!(by_path["big"].1, 200_000);
    assert_eq!(by_path["small"].1, 110_000);
    assert_eq!(by_path["big/a"].2, 0, "big/a is from layer 0");
    assert_eq!(by_path["small/d"].2, 1, "small/d is from layer 1");
    assert_eq!(by_path["small"].2, 1, "small is mostly layer 1's (60 000 of 110 000 bytes)");
    assert!(!by_path.contains_key("big/sub/b") && !by_path.contains_key("big/sub"), "a deleted file is drawn");
    assert_eq!(by_path[format!("hostile/{HOSTILE}").as_str()].1, 20_000);
    assert_eq!(by_path["hostile/\"quoted' {{ name }} {% raw %}"].1, 15_000);
    let biggest = r.iter().max_by(|a, b| a.3.total_cmp(&b.3)).unwrap();
    assert_eq!(biggest.0, "big", "the biggest rect is the biggest directory");
    // Areas follow bytes: small's rect is 110/200 of big's (within rounding and borders).
    let ratio = by_path["small"].3 / by_path["big"].3;
    assert!((ratio - 0.55).abs() < 0.05, "small/big area ratio {ratio}");

    // The layers chart: one row per layer, with its command and counts.
    let rows = elements(&dom, "tr");
    let layers: Vec<_> = rows.iter().filter(|r| r.get("class").is_some_and(|c| c.starts_with("layer"))).collect();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[1]["data-lost"], "0");
    assert_eq!(layers[0]["data-lost"], "100000", "layer 0 lost big/sub/b");
    assert!(dom.contains("RUN rm big/sub/b &amp;&amp; echo '{{ second }}'"));
    assert!(
        dom.contains("+1 ~0 -1")
            || dom.contains(
                r#"<span class="added">+1</span> <span class="changed">~0</span> <span class="deleted">-1</span>"#
            )
    );

    // Findings: the JSON report's, each a row.
    let ids: Vec<&str> =
        report["platforms"][0]["findings"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert!(!ids.is_empty());
    let shown: Vec<&str> = rows
        .iter()
        .filter(|r| r.get("class").is_some_and(|c| c.starts_with("finding")))
        .map(|r| r["data-id"].as_str())
        .collect();
    for id in &ids {
        assert!(shown.contains(id), "finding {id} not in the table ({shown:?})");
    }

    screenshot_is_not_blank(&page, &dir.path().join("scan.png"));
}

#[test]
fn scan_page_of_the_bloat_fixture_lists_layers_findings_and_binaries() {
    let dir = tempfile::tempdir().unwrap();
    let image = testdata("images/bloat/oci").display().to_string();
    let (page, html, report) = html_and_json("scan", &image, dir.path(), "bloat");
    let p = &report["platforms"][0];
    let dom = dom(&page);
    let labels: Vec<&str> = p["labels"].as_object().unwrap().values().map(|v| v.as_str().unwrap()).collect();
    self_contained(&html, &dom, &labels);
    for l in p["layers"].as_array().unwrap() {
        let cmd = l["created_by"].as_str().unwrap();
        let escaped = cmd.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        assert!(dom.contains(&escaped), "layer command {cmd:?} not shown");
    }
    let finding_rows = dom.matches("<tr class=\"finding ").count();
    let expected = p["findings"].as_array().unwrap().len() + report["findings"].as_array().unwrap().len();
    assert_eq!(finding_rows, expected);
    for f in p["findings"].as_array().unwrap().iter().filter_map(|f| f["fix"].as_str()) {
        let escaped = f.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        assert!(dom.contains(&escaped), "fix {f:?} not shown");
    }
    let binaries = elements(&dom, "tr").into_iter().filter(|r| r.get("class").is_some_and(|c| c == "binary")).count();
    assert_eq!(binaries, p["binaries"].as_array().unwrap().len());
    // The treemap: every rect's bytes at most its parent's, all under the image's bytes.
    let r = rects(&dom);
    assert!(r.len() > 10, "{} rects", r.len());
    let bytes: BTreeMap<&str, u64> = r.iter().map(|x| (x.0.as_str(), x.1)).collect();
    for (path, b) in &bytes {
        if let Some((parent, _)) = path.rsplit_once('/') {
            assert!(bytes.get(parent).is_none_or(|pb| pb >= b), "{path} is bigger than {parent}");
        }
        assert!(*b <= p["bytes"].as_u64().unwrap());
    }
    let data = page_data(&html);
    assert_eq!(data["treemaps"][0]["usage"]["nodes"][0][3].as_u64(), p["bytes"].as_u64());
}

/// A 50 000-file image: the page stays under 3 MB and its treemap at 5 000 nodes.
#[test]
fn a_page_of_a_50_000_file_image_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> =
        (0..50_000).map(|i| format!("data/d{:03}/some-longer-file-name-{i:06}.dat", i % 500)).collect();
    let contents: Vec<Vec<u8>> = (0..50_000).map(|i| vec![b'z'; 10 + i % 3000]).collect();
    let mut entries: Vec<E> = vec![E::Dir("data/")];
    let dirs: Vec<String> = (0..500).map(|i| format!("data/d{i:03}/")).collect();
    entries.extend(dirs.iter().map(|d| E::Dir(d)));
    entries.extend(names.iter().zip(&contents).map(|(n, c)| E::File(n, c)));
    let img = Image::new("amd64", vec![(tar(&entries), Comp::Gzip)]);
    let image = layout(&dir.path().join("many"), &img);
    let page = dir.path().join("many.html");
    let out = layerscope(&["scan", "-q", &image, "--format", "html", "-o", &page.display().to_string()]);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.len() < 3_000_000, "{} bytes", html.len());
    let data = page_data(&html);
    let nodes = data["treemaps"][0]["usage"]["nodes"].as_array().unwrap();
    assert!(nodes.len() <= 5000 && nodes.len() > 4000, "{} nodes", nodes.len());
    assert_eq!(data["treemaps"][0]["usage"]["files"], 50_000);
    // What is not a node is folded into its directory: the bytes still add up.
    let total: u64 = nodes.iter().filter(|n| n[2] == 0).map(|n| n[3].as_u64().unwrap()).sum::<u64>()
        + nodes.iter().map(|n| n[5].as_u64().unwrap()).sum::<u64>();
    assert_eq!(total, nodes[0][3].as_u64().unwrap());
}

#[test]
fn compare_page_puts_the_treemaps_side_by_side_on_one_scale() {
    let dir = tempfile::tempdir().unwrap();
    let image = testdata("images/multiarch-drift/oci").display().to_string();
    let (page, html, report) = html_and_json("compare", &image, dir.path(), "compare");
    let dom = dom(&page);
    self_contained(&html, &dom, &[]);
    let sides = report["sides"].as_array().unwrap();
    assert_eq!(sides.len(), 2);
    // One treemap per side, each drawn; the top level of each adds up to the side's bytes.
    let boxes: Vec<_> = elements(&dom, "div").into_iter().filter(|d| d.contains_key("data-treemap")).collect();
    assert_eq!(boxes.len(), 2);
    assert!(boxes.iter().all(|b| b["class"] == "treemap"));
    // Split the DOM at the second treemap: each side's rects.
    let second = dom.find(r#"data-treemap="s1""#).unwrap();
    let (left, right) = (rects(&dom[..second]), rects(&dom[second..]));
    let mut per_byte = Vec::new();
    for (side, r) in sides.iter().zip([left, right]) {
        let top: Vec<_> = r.iter().filter(|x| !x.0.contains('/')).collect();
        assert!(!top.is_empty());
        let bytes: u64 = top.iter().map(|x| x.1).sum();
        assert_eq!(bytes, side["bytes"].as_u64().unwrap(), "{}", side["label"]);
        per_byte.push(top.iter().map(|x| x.3).sum::<f64>() / bytes as f64);
    }
    let ratio = per_byte[0] / per_byte[1];
    assert!((ratio - 1.0).abs() < 0.05, "area per byte differs between the sides: {per_byte:?}");
    // The facts table marks what differs; the differences are listed.
    let rows: Vec<_> = elements(&dom, "tr").into_iter().filter(|r| r.contains_key("data-row")).collect();
    assert!(rows.iter().any(|r| r["data-row"] == "files" && r["class"] == "differs"));
    assert!(rows.iter().any(|r| r["data-row"] == "libc" && r["class"].is_empty()));
    let c = &report["comparisons"][0];
    assert!(c["differences"].as_u64().unwrap() > 0);
    for e in c["files"]["only_right"].as_array().unwrap() {
        assert!(dom.contains(&e["path"].as_str().unwrap().to_string()), "{e} not listed");
    }
}

#[test]
fn summary_page_is_a_fleet_dashboard() {
    use layerscope::batch::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleet.db");
    let store = Store::open(&db).unwrap();
    let registry = "mirror.example:5000";
    let hostile_repo = format!("evil{HOSTILE}");
    for (repo, tag, fixture) in [
        ("apps/bloat", "1.0", "bloat"),
        ("apps/broken", "v1", "broken-entrypoint"),
        (hostile_repo.as_str(), "{{ 7*7 }}", "musl"),
        ("apps/static", "latest", "static"),
    ] {
        let r = crate::common::scan(&testdata(&format!("images/{fixture}/oci")).display().to_string());
        let digest = r.digest.clone().unwrap();
        store.put_repository(registry, repo, None).unwrap();
        store.put_tag(registry, repo, tag, Some(&digest), None).unwrap();
        store.put_report(registry, repo, &digest, &r).unwrap();
    }
    store.put_repository(registry, "apps/gone", Some("name unknown")).unwrap();
    drop(store);
    let page = dir.path().join("fleet.html");
    let out = layerscope(&["summary", &db.display().to_string(), "-o", &format!("html={}", page.display())]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = layerscope(&["summary", &db.display().to_string(), "--format", "json"]);
    let rows: Vec<serde_json::Value> =
        String::from_utf8(lines.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 5);
    let html = std::fs::read_to_string(&page).unwrap();
    let dom =
        String::from_utf8(chromium_at(&["--dump-dom"], &format!("file://{}#sort=-reclaimable", page.display())).stdout)
            .unwrap();
    self_contained(&html, &dom, &[]);
    assert!(elements(&dom, "img").is_empty() && !dom.contains("<img"), "an <img> got into the page");
    assert!(dom.contains("{{ 7*7 }}"));

    // One row per tag, in the order asked for by the address (most reclaimable first).
    let trs = elements(&dom, "tr");
    let table: Vec<_> = trs.iter().filter(|r| r.get("class").is_some_and(|c| c.starts_with("image-row"))).collect();
    assert_eq!(table.len(), rows.len());
    let mut by_reclaimable: Vec<&serde_json::Value> = rows.iter().collect();
    by_reclaimable.sort_by_key(|r| std::cmp::Reverse(r["reclaimable_bytes"].as_u64().unwrap()));
    let first = by_reclaimable[0];
    assert!(first["reclaimable_bytes"].as_u64().unwrap() > by_reclaimable[1]["reclaimable_bytes"].as_u64().unwrap());
    let name = |r: &serde_json::Value| {
        format!(
            "{}/{}:{}",
            r["registry"].as_str().unwrap(),
            r["repository"].as_str().unwrap(),
            r["tag"].as_str().unwrap_or("-")
        )
    };
    assert_eq!(table[0]["data-image"], name(first), "not sorted by reclaimable bytes");
    assert!(table
        .iter()
        .any(|r| r["data-image"] == name(rows.iter().find(|r| r["repository"] == hostile_repo.as_str()).unwrap())));

    // Counts by libc, each the number of scanned tags with that value.
    let mut libc: BTreeMap<String, usize> = BTreeMap::new();
    for r in rows.iter().filter(|r| r["status"] == "ok") {
        for v in r["libc"].as_array().unwrap() {
            *libc.entry(v.as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    assert!(libc.len() >= 2, "{libc:?}");
    let libc_rows = dom[dom.find("by-libc").unwrap()..dom.find("by-distroless").unwrap()].to_string();
    for (value, n) in &libc {
        let row = elements(&libc_rows, "tr")
            .into_iter()
            .find(|r| r.get("data-value") == Some(value))
            .unwrap_or_else(|| panic!("no libc row {value}"));
        assert_eq!(row["data-count"], n.to_string(), "{value}");
    }
    // The image that cannot start is listed as such, and the count of images with high findings.
    let broken = rows.iter().find(|r| r["repository"] == "apps/broken").unwrap();
    assert!(!broken["cannot_start"].as_array().unwrap().is_empty(), "{broken}");
    let cannot = &dom[dom.find(r#"class="cannot-start""#).unwrap()..dom.find(r#"class="reclaimable""#).unwrap()];
    assert!(cannot.contains("apps/broken") && !cannot.contains("apps/static"));
    let high: usize = rows.iter().filter(|r| r["high_findings"].as_u64().unwrap() > 0).count();
    assert!(high > 0);
    assert!(dom.contains(&format!(r#"data-fact="with high findings"><dt>with high findings</dt><dd>{high}</dd>"#)));
}

/// Twelve platforms, each with a hundred labels of 5 000 characters that each take 5 bytes
/// escaped: shown in full that would be some 30 MB; the page stays at most 5 MB.
#[test]
fn any_page_is_at_most_5_mb() {
    let dir = tempfile::tempdir().unwrap();
    let layer = tar(&[E::Dir("app/"), E::File("app/x", b"hello")]);
    let value = "&".repeat(5000);
    let labels: serde_json::Map<String, serde_json::Value> =
        (0..100).map(|i| (format!("label-{i:03}-{value}"), serde_json::Value::from(value.clone()))).collect();
    let platforms: [(&'static str, Option<&'static str>); 12] = [
        ("amd64", None),
        ("arm64", None),
        ("386", None),
        ("ppc64le", None),
        ("s390x", None),
        ("riscv64", None),
        ("mips64le", None),
        ("mips64", None),
        ("mipsle", None),
        ("loong64", None),
        ("arm", Some("v6")),
        ("arm", Some("v7")),
    ];
    let lay = dir.path().join("labels");
    let manifests = platforms
        .iter()
        .map(|(arch, variant)| {
            let mut img = Image::new(arch, vec![(layer.clone(), Comp::Gzip)]);
            img.variant = *variant;
            img.config = serde_json::json!({ "Labels": labels });
            crate::common::write_image(&lay, &img)
        })
        .collect();
    crate::common::write_layout(&lay, manifests);
    let page = dir.path().join("labels.html");
    let out = layerscope(&["scan", "-q", &format!("oci:{}", lay.display()), "-o", &format!("html={}", page.display())]);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.len() <= 5_000_000, "{} bytes", html.len());
    assert_eq!(html.matches("<section class=\"platform\"").count(), 12);
    // Cut, not dropped: every platform still shows labels, and says how many.
    assert_eq!(html.matches("labels shown.").count(), 12);
}

/// The page's interactions in the browser, on the bloat fixture: a copy of the page gets a
/// script (after the page's own) that clicks a directory of the treemap, hovers a file, sets the
/// severity filter and types in the binaries' search box; the DOM then shows the zoomed treemap
/// with its breadcrumb, the tooltip, and the rows hidden. The copy drops the page's CSP, which
/// would not let that script run: another copy keeps it and shows that an inline script put in
/// the page does not run.
#[test]
fn zoom_hover_and_filters_work_and_the_csp_stops_an_injected_script() {
    let dir = tempfile::tempdir().unwrap();
    let image = testdata("images/bloat/oci").display().to_string();
    let (_, html, report) = html_and_json("scan", &image, dir.path(), "bloat");
    let p = &report["platforms"][0];
    // The filter is set to the most severe level among the platform's findings.
    let rank = |s: &str| ["info", "low", "medium", "high"].iter().position(|x| *x == s).unwrap();
    let severities: Vec<&str> =
        p["findings"].as_array().unwrap().iter().map(|f| f["severity"].as_str().unwrap()).collect();
    let top = *severities.iter().max_by_key(|s| rank(s)).unwrap();
    assert!(severities.iter().any(|s| rank(s) < rank(top)), "{severities:?}");
    let csp_start = html.find("<meta http-equiv=\"Content-Security-Policy\"").unwrap();
    let csp_end = csp_start + html[csp_start..].find('>').unwrap() + 1;

    let injected =
        html.replacen("</body>", "<script>document.body.setAttribute('data-pwned', 'yes');</script></body>", 1);
    let page = dir.path().join("injected.html");
    std::fs::write(&page, &injected).unwrap();
    let dom_injected = dom(&page);
    assert!(!dom_injected.contains("data-pwned=\"yes\""), "an inline script ran despite the CSP");
    assert!(dom_injected.contains("data-path=\"usr/bin/tool\""), "the page's own script did not run");

    let script = r#"<script>
(function () {
  var usr = document.querySelector('rect.dir[data-path="usr"]');
  usr.dispatchEvent(new MouseEvent('click', { bubbles: true }));
  var file = document.querySelector('rect[data-path="usr/bin/tool"]');
  file.dispatchEvent(new MouseEvent('mousemove', { bubbles: true, clientX: 20, clientY: 20 }));
  var sel = document.querySelector('section.platform .findings .severity-filter');
  sel.value = 'TOP';
  sel.dispatchEvent(new Event('change'));
  var search = document.querySelector('.binary-search');
  search.value = 'no-such-binary';
  search.dispatchEvent(new Event('input'));
  var colour = document.querySelector('section.platform .colour-by');
  colour.value = 'category';
  colour.dispatchEvent(new Event('change'));
})();
</script></body>"#;
    let driven =
        format!("{}{}", &html[..csp_start], &html[csp_end..]).replacen("</body>", &script.replace("TOP", top), 1);
    let page = dir.path().join("driven.html");
    std::fs::write(&page, &driven).unwrap();
    let dom = dom(&page);
    // Zoomed into usr/: only what is below it is drawn, and the breadcrumb leads back.
    let r = rects(&dom);
    assert!(!r.is_empty() && r.iter().all(|x| x.0.starts_with("usr/")), "{r:?}");
    let crumbs: Vec<_> =
        elements(&dom, "button").into_iter().filter(|b| b.get("class").is_some_and(|c| c == "crumb")).collect();
    assert_eq!(crumbs.len(), 2, "{crumbs:?}");
    assert!(dom.contains(">usr/</button>"));
    // The tooltip: path, layer and its build step.
    let tool = r.iter().find(|x| x.0 == "usr/bin/tool").unwrap();
    let cmd = p["layers"][tool.2 as usize]["created_by"].as_str().unwrap();
    let tip = &dom[dom.find("id=\"tip\"").unwrap()..];
    let tip = &tip[..tip.find("<svg").unwrap()];
    assert!(!tip.contains("hidden"), "{tip}");
    assert!(tip.contains("/usr/bin/tool") && tip.contains(&format!("layer {}", tool.2)), "{tip}");
    assert!(tip.contains(&cmd.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")), "{tip}");
    // The platform's findings below that level are hidden; every binary row is hidden by the search.
    let platform = &dom[dom.find("<section class=\"platform\"").unwrap()..];
    let findings: Vec<_> = elements(platform, "tr").into_iter().filter(|r| r.contains_key("data-severity")).collect();
    assert_eq!(findings.len(), severities.len());
    for f in &findings {
        assert_eq!(f.contains_key("hidden"), rank(&f["data-severity"]) < rank(top), "{f:?}");
    }
    // Coloured by bloat category now: a doc file in the docs colour, a binary in the other one.
    let fill = |path: &str| -> String {
        let rects = elements(&dom, "rect");
        rects.into_iter().find(|r| r.get("data-path").is_some_and(|p| p == path)).unwrap()["fill"].clone()
    };
    assert_eq!(fill("usr/share/doc/pkg/README"), "#9467bd");
    assert_eq!(fill("usr/bin/tool"), "#b9c0c8");
    let binaries: Vec<_> =
        elements(&dom, "tr").into_iter().filter(|r| r.get("class").is_some_and(|c| c == "binary")).collect();
    assert!(!binaries.is_empty() && binaries.iter().all(|r| r.contains_key("hidden")));
}

/// An image argument that cannot be read has its place in the page, after the ones that could.
#[test]
fn an_image_that_cannot_be_read_is_shown_in_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let good = testdata("images/static/oci").display().to_string();
    let missing = dir.path().join("no-such-layout").display().to_string();
    let out = layerscope(&["scan", "-q", &good, &missing, "--format", "html"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let html = String::from_utf8(out.stdout).unwrap();
    let articles: Vec<_> = elements(&html, "article");
    assert_eq!(articles.len(), 2);
    assert_eq!(articles[0]["data-reference"], good);
    assert_eq!(articles[1]["data-reference"], missing);
    let second = &html[html.rfind("<article").unwrap()..];
    assert!(second.contains("Could not be read") && !second.contains("data-platform"));
    assert_eq!(page_data(&html)["treemaps"].as_array().unwrap().len(), 1);
}
