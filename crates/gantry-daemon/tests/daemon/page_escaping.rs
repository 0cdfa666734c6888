//! The web page in headless Chromium with hostile names: a workflow, job and step named with
//! markup, a log line, an annotation and a step summary holding `<script>` and `onerror`
//! handlers. The page must show them as text: no handler runs (each would set
//! `window.__pwned`), no element they name exists, and the text appears literally.
//! The screenshot goes to `target/test-artifacts/daemon-hostile-names.png`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::{Browser, artifacts, chromium};
use crate::common::*;

const WORKFLOW: &str = r#"name: "<img src=x onerror=window.__pwned=1>wf-name"
on: release
jobs:
  build:
    name: "<script>window.__pwned=2</script>job-name"
    runs-on: ubuntu-latest
    steps:
      - name: "<svg onload=window.__pwned=3>step-name"
        run: |
          echo '<img src=x onerror=window.__pwned=4>log-line'
          echo '::error::<img src=x onerror=window.__pwned=5>annotation-text'
          echo '# <script>window.__pwned=6</script>summary <img src=x onerror=window.__pwned=7>' >> "$GITHUB_STEP_SUMMARY"
          echo 'hostile-done'
"#;

const DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

#[tokio::test]
async fn hostile_names_render_as_text_and_run_no_script_in_chromium() {
    let binary = chromium();
    let mut env = Env::new();
    env.repo(REPO, &[("hostile.yml", WORKFLOW)]);
    let mut server = env.start().await;
    let client = server.client.clone();
    let reply = client
        .webhook(
            "release",
            DELIVERY,
            &payload("release/published.payload.json"),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let id = run_ids(&reply)[0];
    let run = client.wait_completed(id).await;
    assert_eq!(run["conclusion"], "success", "{run}");

    let profile = tempfile::tempdir().unwrap();
    let browser = Browser::launch(&binary, profile.path()).await;
    let mut page = browser.page().await;
    let url = client.url(&format!("/#run={id}&job=build"));
    page.call("Page.navigate", json!({ "url": url })).await;
    let shown = [
        ("#log", "<img src=x onerror=window.__pwned=4>log-line"),
        ("#log", "hostile-done"),
        ("#detail", "<script>window.__pwned=2</script>job-name"),
        ("#detail", "<svg onload=window.__pwned=3>step-name"),
        (
            "#detail",
            "<img src=x onerror=window.__pwned=5>annotation-text",
        ),
        ("#detail", "<script>window.__pwned=6</script>summary"),
        ("#detail", "<img src=x onerror=window.__pwned=1>wf-name"),
        ("#list", "<img src=x onerror=window.__pwned=1>wf-name"),
        ("#deliveries", DELIVERY),
    ];
    let mut missing = Vec::new();
    for (selector, text) in shown {
        if !page.wait_for_text(selector, text).await {
            missing.push(format!("{selector}: {text}"));
        }
    }
    // Give any injected `onerror` (a failed image load) time to fire before looking.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let probe = page
        .call(
            "Runtime.evaluate",
            json!({
                "expression": "JSON.stringify({ pwned: window.__pwned ?? null, \
                    scripts: document.scripts.length, \
                    injected: document.querySelectorAll('img, svg, iframe, object, embed').length })",
                "returnByValue": true,
            }),
        )
        .await;
    page.screenshot(&artifacts().join("daemon-hostile-names.png"))
        .await;
    server.stop().await;
    assert!(missing.is_empty(), "not shown as text: {missing:#?}");
    let seen: Value = serde_json::from_str(probe["result"]["value"].as_str().unwrap()).unwrap();
    assert_eq!(
        seen,
        json!({ "pwned": null, "scripts": 1, "injected": 0 }),
        "markup from run data became part of the page"
    );
}
