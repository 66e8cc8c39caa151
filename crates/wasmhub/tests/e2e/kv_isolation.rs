//! Who may open which store: a grid of grants over two apps and three components, shared
//! labels seeing each other's writes, apps never seeing each other's stores, and odd
//! labels (`""`, `..`, NUL, a megabyte) that are denied unless granted and never become paths.

use test_programs_artifacts::KV_HTTP;

use super::harness::{Hub, assert_fails_with, g};
use super::kv::{at, component, enc, files_below, get, post, write_manifest};
use super::server::Served;

/// Whether `who` may open `label`: 200 `opened`, or 403 `access-denied` (never "no such store").
fn opens(s: &Served, who: &str, label: &str) -> bool {
    match post(s, &format!("{who}/open"), label.as_bytes()) {
        (200, body) if body == "opened" => true,
        (403, body) if body == "access-denied" => false,
        other => panic!("{who} opening {label:?}: {other:?}"),
    }
}

#[test]
fn a_grid_of_grants_decides_who_opens_what_and_apps_never_share() {
    let hub = Hub::new();
    let shop = format!(
        "[app]\nname = \"shop\"\n{}{}",
        component("a1", KV_HTTP, r#"keyvalue = ["default", "sessions"]"#),
        component("a2", KV_HTTP, r#"keyvalue = ["sessions"]"#),
    );
    let blog = format!(
        "[app]\nname = \"blog\"\n{}",
        component("b1", KV_HTTP, r#"keyvalue = ["default"]"#),
    );
    let shop = Served::start(&hub, &[&write_manifest(&hub, "shop", &shop)]);
    let blog = Served::start(&hub, &[&write_manifest(&hub, "blog", &blog)]);

    let grid = [
        (&shop, "/a1", [true, true, false]),
        (&shop, "/a2", [false, true, false]),
        (&blog, "/b1", [true, false, false]),
    ];
    for (s, who, allowed) in grid {
        for (label, want) in ["default", "sessions", "cache"].into_iter().zip(allowed) {
            assert_eq!(opens(s, who, label), want, "{who} opening {label}");
            // Every operation on a store not granted is denied the same way.
            if !want {
                let (status, body) = get(s, &at(who, "get", label, "k"));
                assert_eq!(
                    (status, body.as_str()),
                    (403, "access-denied"),
                    "{who} {label}"
                );
            }
        }
    }

    // a1 and a2 share `sessions`: each sees the other's writes.
    assert_eq!(
        post(&shop, &at("/a1", "set", "sessions", "s"), b"from a1").0,
        200
    );
    assert_eq!(
        get(&shop, &at("/a2", "get", "sessions", "s")),
        (200, "from a1".into())
    );
    assert_eq!(
        get(&shop, &at("/a2", "incr", "sessions", "n")),
        (200, "1".into())
    );
    assert_eq!(
        get(&shop, &at("/a1", "incr", "sessions", "n")),
        (200, "2".into())
    );

    // shop's `default` and blog's `default` are two stores.
    assert_eq!(
        post(&shop, &at("/a1", "set", "default", "k"), b"shop").0,
        200
    );
    assert_eq!(
        get(&blog, &at("/b1", "get", "default", "k")),
        (404, "none".into())
    );
    assert_eq!(
        post(&blog, &at("/b1", "set", "default", "k"), b"blog").0,
        200
    );
    assert_eq!(
        get(&shop, &at("/a1", "get", "default", "k")),
        (200, "shop".into())
    );
    assert_eq!(
        get(&blog, &at("/b1", "get", "default", "k")),
        (200, "blog".into())
    );
    let listed = get(&blog, "/b1/list?store=default").1;
    assert_eq!(listed, "k\ncursor=", "blog lists only its own keys");
}

#[test]
fn odd_labels_are_denied_unless_granted() {
    let hub = Hub::new();
    let app = format!(
        "[app]\nname = \"odd\"\n{}",
        component("kv", KV_HTTP, r#"keyvalue = ["default"]"#),
    );
    let s = Served::start(&hub, &[&write_manifest(&hub, "odd", &app)]);
    let megabyte = "x".repeat(1 << 20);
    let odd = [
        "",
        "..",
        ".",
        "/",
        "../../etc/passwd",
        "\0",
        "default\0",
        " default",
        "DEFAULT",
        "default/..",
        "%2e%2e",
        &megabyte,
    ];
    for label in odd {
        assert!(
            !opens(&s, "/kv", label),
            "{:?}",
            &label[..label.len().min(20)]
        );
    }
    assert!(opens(&s, "/kv", "default"));
    // Nothing asked for made a file: the store of a granted label is opened lazily or not,
    // but an ungranted one never is.
    for f in files_below(&hub.data_dir()) {
        let name = f.display().to_string();
        assert!(!name.contains("etc") && !name.contains("passwd"), "{name}");
    }
}

#[test]
fn odd_labels_cannot_be_granted_and_granted_ones_stay_inside_the_one_app_file() {
    let hub = Hub::new();
    for bad in [
        "",
        "..",
        "../escape",
        "a/b",
        "\\u0000nul",
        ".hidden",
        "with space",
    ] {
        let app = format!(
            "[app]\nname = \"odd\"\n{}",
            component("kv", KV_HTTP, &format!("keyvalue = [\"{bad}\"]")),
        );
        let r = hub.run(&["check", &write_manifest(&hub, "odd", &app)]);
        assert_fails_with(&r, "invalid key-value store label");
    }
    let r = hub.run(&["check", "--keyvalue", "..", g(KV_HTTP)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("invalid key-value store label"),
        "{}",
        r.stderr
    );

    // Labels as odd as a grant allows: each its own store, all in the app's one file.
    let long = "l".repeat(64);
    let labels = ["x..y", "0", "a.b-c_d", "default", &long];
    let toml: Vec<String> = labels.iter().map(|l| format!("{l:?}")).collect();
    let app = format!(
        "[app]\nname = \"odd\"\n{}",
        component("kv", KV_HTTP, &format!("keyvalue = [{}]", toml.join(", "))),
    );
    let s = Served::start(&hub, &[&write_manifest(&hub, "odd", &app)]);
    for label in labels {
        assert!(opens(&s, "/kv", label), "{label:?}");
        let path = format!("/kv/set?store={}&key=who", enc(label));
        assert_eq!(post(&s, &path, label.as_bytes()).0, 200, "{label:?}");
    }
    for label in labels {
        let (status, body) = get(&s, &at("/kv", "get", label, "who"));
        assert_eq!(
            (status, body.as_str()),
            (200, label),
            "each label its own store"
        );
    }
    drop(s);
    let files = files_below(&hub.data_dir());
    assert_eq!(files, vec![hub.data_dir().join("kv/app-odd.redb")]);
}
