//! Rendered output: job summaries (fixture folder, insta snapshots) and the metrics text.

use std::path::Path;

use gantry_daemon::markdown;

#[test]
fn summaries_render_safely() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/markdown");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let html = markdown::render(&std::fs::read_to_string(&file).unwrap());
        for tag in ["<script", "<img", "<a ", "<b>"] {
            assert!(!html.contains(tag), "{name}: {tag} got through:\n{html}");
        }
        insta::assert_snapshot!(name, html);
    }
}
