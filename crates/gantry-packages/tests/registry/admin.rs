//! Administration without HTTP: listing, showing and deleting packages and versions.

use crate::common::{Meta, Server, on_both};
use crate::npm_raw::{publish, publish_doc};
use crate::oci_raw::push_image;
use gantry_packages::{PackageKind, Visibility};

async fn publish_npm(s: &Server, name: &str, version: &str) {
    let doc = publish_doc(name, version, version.as_bytes(), &s.url(""));
    let mut doc = doc;
    // Publishing an older version after a newer one must not move `latest` back.
    if version == "0.9.0" {
        doc["dist-tags"] = serde_json::json!({ "old": version });
    }
    assert_eq!(publish(s, &s.admin, &doc).await.status(), 200);
}

async fn packages_are_listed_shown_and_deleted_by_version_and_whole(meta: Meta) {
    let s = Server::start_on(meta).await;
    let registry = s.handle.registry();
    publish_npm(&s, "@octo/lib", "1.0.0").await;
    publish_npm(&s, "@octo/lib", "1.1.0").await;
    publish_npm(&s, "@octo/lib", "0.9.0").await;
    let first = push_image(&s, "octo/app", "v1", b"layer one").await;
    let second = push_image(&s, "octo/app", "latest", b"layer two").await;

    let listed: Vec<_> = registry
        .packages()
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.kind, p.name, p.owner, p.visibility, p.versions))
        .collect();
    assert_eq!(
        listed,
        [
            (
                PackageKind::Npm,
                "@octo/lib".into(),
                "octo".into(),
                Visibility::Private,
                3
            ),
            (
                PackageKind::Container,
                "octo/app".into(),
                "octo".into(),
                Visibility::Private,
                2
            ),
        ]
    );

    let lib = registry.package("@octo/lib").await.unwrap().unwrap();
    let tags: Vec<_> = lib
        .versions
        .iter()
        .map(|v| (v.version.as_str(), v.tags.clone()))
        .collect();
    assert!(
        tags.contains(&("1.1.0", vec!["latest".to_owned()])),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("0.9.0", vec!["old".to_owned()])),
        "{tags:?}"
    );
    let app = registry.package("octo/app").await.unwrap().unwrap();
    let mut expected = vec![
        (first.clone(), vec!["v1".to_owned()]),
        (second.clone(), vec!["latest".to_owned()]),
    ];
    expected.sort();
    let got: Vec<_> = app
        .versions
        .iter()
        .map(|v| (v.version.clone(), v.tags.clone()))
        .collect();
    assert_eq!(got, expected);
    assert!(registry.package("@octo/none").await.unwrap().is_none());

    // Deleting `latest`'s version moves the tag to the highest version left.
    assert!(registry.delete_version("@octo/lib", "1.1.0").await.unwrap());
    assert!(!registry.delete_version("@octo/lib", "1.1.0").await.unwrap());
    let lib = registry.package("@octo/lib").await.unwrap().unwrap();
    let latest: Vec<_> = lib
        .versions
        .iter()
        .filter(|v| v.tags.contains(&"latest".to_owned()))
        .map(|v| v.version.as_str())
        .collect();
    assert_eq!(latest, ["1.0.0"]);
    let packument = reqwest::get(s.url("/@octo%2flib")).await.unwrap();
    assert_eq!(packument.status(), 401, "private packages stay private");

    // A container version by tag removes the manifest with it.
    assert!(registry.delete_version("octo/app", "v1").await.unwrap());
    let app = registry.package("octo/app").await.unwrap().unwrap();
    assert_eq!(app.versions.len(), 1);
    assert_eq!(app.versions[0].version, second);

    assert!(registry.delete_package("octo/app").await.unwrap());
    assert!(!registry.delete_package("octo/app").await.unwrap());
    // The last npm version takes the package with it.
    assert!(registry.delete_version("@octo/lib", "1.0.0").await.unwrap());
    assert!(registry.delete_version("@octo/lib", "0.9.0").await.unwrap());
    assert!(registry.packages().await.unwrap().is_empty());
}

on_both!(packages_are_listed_shown_and_deleted_by_version_and_whole);
