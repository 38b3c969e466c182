//! `agent-safe fmt` on policy files: the canonical style, what is left as it
//! is, what is refused, and — as properties over generated policy files with
//! comments — idempotency, the same data and the same comments.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::path::Path;

use agent_safe_core::fmt::{FileKind, Formatted, comments, format_file, format_policy};
use agent_safe_core::registry::example_project;
use proptest::prelude::*;

fn fmt(src: &str) -> Formatted {
    format_policy(Path::new("p.yaml"), src).unwrap()
}

fn text(src: &str) -> String {
    match fmt(src) {
        Formatted::Text(t) => t,
        other => panic!("not formatted: {other:?}\n{src}"),
    }
}

fn data(src: &str) -> serde_json::Value {
    agent_safe_core::yaml::parse(Path::new("p.yaml"), src)
        .unwrap()
        .value
        .to_json()
}

#[test]
fn the_example_policies_are_already_formatted() {
    let mut seen = 0;
    for (path, src) in example_project() {
        if path.starts_with("policies/") {
            assert_eq!(text(src), *src, "{path} is not in fmt's style");
            seen += 1;
        }
    }
    assert!(seen >= 3);
}

#[test]
fn the_example_inventory_is_already_formatted_and_a_messy_one_is_not() {
    let (_, inventory) = example_project()
        .iter()
        .find(|(p, _)| *p == "inventory.yaml")
        .unwrap();
    assert_eq!(FileKind::of(inventory), FileKind::Inventory);
    let out = format_file(FileKind::Inventory, Path::new("inventory.yaml"), inventory).unwrap();
    assert_eq!(out, Formatted::Text((*inventory).to_owned()));

    let messy = "targets:\n- name: api   # the Deployment\n  namespace: staging\n  type: k8s-deployment\n  id: staging/api\n\n  environment: staging\n  sensitivity: internal\n";
    let want = "targets:\n  - id: staging/api\n    type: k8s-deployment\n\n    environment: staging\n    sensitivity: internal\n    namespace: staging\n    name: api   # the Deployment\n";
    assert_eq!(FileKind::of(messy), FileKind::Inventory);
    let got = format_file(FileKind::Inventory, Path::new("inventory.yaml"), messy).unwrap();
    assert_eq!(got, Formatted::Text(want.to_owned()));
    // Read as a policy file, an inventory does not load.
    assert!(format_policy(Path::new("inventory.yaml"), messy).is_err());
}

#[test]
fn a_messy_file_gets_the_canonical_style() {
    let messy = r#"# Header comment.   


rules:
    # about the first rule
    -   decision: deny
        reason:   no   # kept
        match:
            callers:
                roles: [a]
                agent_ids:
                - x
                - "y z"
            actions: [drain-node]
        # the name comes first
        name: first
    - name: second


      decision: allow
      match:
        time_windows:
        - timezone: UTC
          days: [mon]
        actions: ['get-events']
# trailing comment
"#;
    let want = r#"# Header comment.

rules:
  # about the first rule
  # the name comes first
  - name: first
    match:
      actions: [drain-node]
      callers:
        agent_ids:
          - x
          - "y z"
        roles: [a]
    decision: deny
    reason: no   # kept

  - name: second
    match:
      actions: ['get-events']
      time_windows:
        - days: [mon]
          timezone: UTC

    decision: allow
# trailing comment
"#;
    let got = text(messy);
    assert_eq!(got, want, "\n{got}");
    assert_eq!(data(&got), data(messy));
    assert_eq!(comments(&got), comments(messy));
    assert_eq!(text(&got), got, "not idempotent");
}

/// Constructs the formatter does not rewrite: the file is left as it is, and
/// the line of the construct is named.
#[test]
fn files_with_unhandled_constructs_are_left_as_they_are() {
    let cases: &[(&str, &str, u32)] = &[
        (
            "rules:\n  - name: a\n    decision: deny\n    reason: |\n      long\n",
            "block scalar",
            4,
        ),
        (
            "rules:\n  - name: a\n    decision: deny\n    match:\n      actions: &acts [drain-node]\n",
            "anchor",
            5,
        ),
        (
            "rules:\n  - name: a\n    decision: deny\n    match:\n      actions: [drain-node,\n        get-events]\n",
            "flow collection",
            5,
        ),
        (
            "rules:\n  - name: a\n    decision: deny\n    reason: a reason that\n      goes on\n",
            "multi-line value",
            5,
        ),
        (
            "rules:\n  - name: a\n    decision: deny\n    reason: \"a reason that\n      goes on\"\n",
            "quoted string",
            4,
        ),
        ("---\nrules: []\n", "document marker", 1),
        ("rules:\r\n  - name: a\r\n    decision: deny\r\n", "CRLF", 1),
    ];
    for (src, what, line) in cases {
        match fmt(src) {
            Formatted::LeftAsIs { pos, why } => {
                assert!(why.contains(what), "{what}: {why}");
                assert_eq!(pos.line, *line, "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn a_file_that_does_not_load_is_refused_with_its_diagnostic() {
    let err = format_policy(
        Path::new("policies/bad.yaml"),
        "rules:\n  - name: a\n    decison: deny\n",
    )
    .unwrap_err();
    let d = &err.diagnostics()[0];
    assert_eq!(d.file, Path::new("policies/bad.yaml"));
    assert_eq!((d.pos.line, d.pos.col), (3, 5));
    assert!(d.message.contains("decison"), "{d:?}");
}

// ----- properties over generated policy files --------------------------------

/// A generated YAML value, rendered in a random (valid) style.
#[derive(Debug, Clone)]
enum G {
    Scalar(String),
    Map(Vec<(String, Option<String>, G)>),
    Seq(Vec<G>),
}

#[derive(Debug, Clone, Copy)]
struct Style {
    unit: usize,
    dashes_indented: bool,
    trailing_spaces: bool,
}

fn render(g: &G, indent: usize, s: Style, out: &mut String) {
    let pad = |n: usize| " ".repeat(n);
    let eol = if s.trailing_spaces { "  \n" } else { "\n" };
    match g {
        G::Map(entries) => {
            for (k, comment, v) in entries {
                if let Some(c) = comment {
                    out.push_str(&format!("{}# {c}{eol}", pad(indent)));
                }
                match v {
                    G::Scalar(x) => out.push_str(&format!("{}{k}: {x}{eol}", pad(indent))),
                    G::Map(_) => {
                        out.push_str(&format!("{}{k}:{eol}", pad(indent)));
                        render(v, indent + s.unit, s, out);
                    }
                    G::Seq(_) => {
                        out.push_str(&format!("{}{k}:{eol}", pad(indent)));
                        let at = if s.dashes_indented {
                            indent + s.unit
                        } else {
                            indent
                        };
                        render(v, at, s, out);
                    }
                }
            }
        }
        G::Seq(items) => {
            for item in items {
                match item {
                    G::Scalar(x) => out.push_str(&format!("{}- {x}{eol}", pad(indent))),
                    G::Map(_) => {
                        // `- ` then the mapping, its keys aligned after the dash.
                        let mut inner = String::new();
                        render(item, indent + 2, s, &mut inner);
                        let dash_at = inner
                            .lines()
                            .position(|l| !l.trim_start().starts_with('#'))
                            .unwrap();
                        for (n, l) in inner.lines().enumerate() {
                            if n == dash_at {
                                out.push_str(&format!("{}- {}\n", pad(indent), &l[indent + 2..]));
                            } else {
                                out.push_str(l);
                                out.push('\n');
                            }
                        }
                    }
                    G::Seq(_) => unreachable!(),
                }
            }
        }
        G::Scalar(_) => unreachable!(),
    }
}

fn comment() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(0.3, "[a-z][a-z ]{0,12}[a-z]")
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,8}"
}

fn list(items: Vec<&'static str>) -> impl Strategy<Value = G> {
    (
        prop::sample::subsequence(items.clone(), 1..=items.len().min(3)),
        any::<bool>(),
    )
        .prop_map(|(xs, flow)| {
            if flow {
                G::Scalar(format!("[{}]", xs.join(", ")))
            } else {
                G::Seq(xs.iter().map(|x| G::Scalar((*x).to_owned())).collect())
            }
        })
}

fn shuffled(entries: Vec<(&'static str, Option<String>, Option<G>)>) -> impl Strategy<Value = G> {
    let present: Vec<(String, Option<String>, G)> = entries
        .into_iter()
        .filter_map(|(k, c, v)| v.map(|v| (k.to_owned(), c, v)))
        .collect();
    Just(present).prop_shuffle().prop_map(G::Map)
}

fn window() -> impl Strategy<Value = G> {
    (list(vec!["mon", "tue", "sat"]), comment(), any::<bool>()).prop_flat_map(|(days, c, tz)| {
        shuffled(vec![
            ("days", c, Some(days)),
            ("start", None, Some(G::Scalar("\"02:00\"".into()))),
            ("end", None, Some(G::Scalar("\"04:00\"".into()))),
            ("timezone", None, tz.then(|| G::Scalar("UTC".into()))),
        ])
    })
}

fn matcher() -> impl Strategy<Value = G> {
    (
        prop::option::of(list(vec!["drain-node", "get-events", "\"restart-*\""])),
        prop::option::of(list(vec!["staging", "prod"])),
        prop::option::of(list(vec!["\"**\"", "ops-agent"])),
        prop::option::of(prop::collection::vec(window(), 1..=2)),
        (comment(), comment()),
    )
        .prop_flat_map(|(actions, envs, agents, windows, (c1, c2))| {
            let targets = envs.map(|e| G::Map(vec![("environments".into(), None, e)]));
            let callers = agents.map(|a| G::Map(vec![("agent_ids".into(), None, a)]));
            shuffled(vec![
                ("actions", c1, actions),
                ("targets", None, targets),
                ("callers", c2, callers),
                ("time_windows", None, windows.map(G::Seq)),
            ])
        })
}

fn rule(n: usize) -> impl Strategy<Value = G> {
    (
        name(),
        prop::option::of("[A-Z][a-z ]{0,20}[a-z]"),
        prop::option::of(0i64..2000),
        prop::option::of(matcher()),
        prop::sample::select(vec!["allow", "deny", "require_approval"]),
        (comment(), comment(), comment()),
    )
        .prop_flat_map(move |(nm, reason, prio, m, decision, (c1, c2, c3))| {
            shuffled(vec![
                ("name", c1, Some(G::Scalar(format!("{nm}-{n}")))),
                ("priority", None, prio.map(|p| G::Scalar(p.to_string()))),
                ("match", c2, m),
                ("decision", c3, Some(G::Scalar(decision.to_owned()))),
                ("reason", None, reason.map(G::Scalar)),
            ])
        })
}

fn policy_file() -> impl Strategy<Value = String> {
    (
        (1usize..=4).prop_flat_map(|n| (0..n).map(rule).collect::<Vec<_>>()),
        prop::sample::select(vec![2usize, 3, 4]),
        any::<bool>(),
        any::<bool>(),
        comment(),
        prop::collection::vec(prop::bool::weighted(0.1), 200),
        prop::collection::vec(prop::bool::weighted(0.15), 200),
    )
        .prop_map(
            |(rules, unit, dashes_indented, trailing_spaces, header, blanks, eols)| {
                let style = Style {
                    unit,
                    dashes_indented,
                    trailing_spaces,
                };
                let out = render_policy(&rules, &header, style);
                // Blank lines anywhere, and end-of-line comments after values.
                let mut mixed = String::new();
                for (n, line) in out.lines().enumerate() {
                    if blanks.get(n).copied().unwrap_or(false) {
                        mixed.push('\n');
                    }
                    mixed.push_str(line.trim_end());
                    let t = line.trim();
                    let has_value = !t.starts_with('#') && !t.ends_with(':') && t != "-";
                    if has_value && eols.get(n).copied().unwrap_or(false) {
                        mixed.push_str(&format!("   # eol {n}"));
                    }
                    if line.ends_with(' ') {
                        mixed.push_str("  ");
                    }
                    mixed.push('\n');
                }
                mixed
            },
        )
}

fn rules() -> impl Strategy<Value = (Vec<G>, Option<String>)> {
    (
        (1usize..=4).prop_flat_map(|n| (0..n).map(rule).collect::<Vec<_>>()),
        comment(),
    )
}

fn render_policy(rules: &[G], header: &Option<String>, style: Style) -> String {
    let mut out = String::new();
    render(
        &G::Map(vec![(
            "rules".into(),
            header.clone(),
            G::Seq(rules.to_vec()),
        )]),
        0,
        style,
        &mut out,
    );
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// fmt(fmt(x)) == fmt(x), the data is the same, every comment is kept.
    #[test]
    fn fmt_is_idempotent_and_keeps_data_and_comments(src in policy_file()) {
        let once = text(&src);
        prop_assert_eq!(&text(&once), &once, "not idempotent:\n{}\n---\n{}", src, once);
        prop_assert_eq!(data(&once), data(&src));
        prop_assert_eq!(comments(&once), comments(&src));
        prop_assert!(!once.lines().any(|l| l.ends_with(' ')));
        prop_assert!(once.ends_with('\n') && !once.ends_with("\n\n"));
        // Two spaces per level: every indentation is even.
        for l in once.lines() {
            let ind = l.len() - l.trim_start().len();
            prop_assert_eq!(ind % 2, 0, "{}", l);
        }
    }

    /// The style is the formatter's, not the author's: the same rules written
    /// with any indentation and dash style format to the same text.
    #[test]
    fn the_same_rules_in_any_style_format_alike(
        (rules, header) in rules(),
        a in (prop::sample::select(vec![2usize, 3, 4]), any::<bool>(), any::<bool>()),
        b in (prop::sample::select(vec![2usize, 3, 4]), any::<bool>(), any::<bool>()),
    ) {
        let style = |(unit, dashes_indented, trailing_spaces)| Style { unit, dashes_indented, trailing_spaces };
        let x = render_policy(&rules, &header, style(a));
        let y = render_policy(&rules, &header, style(b));
        prop_assert_eq!(text(&x), text(&y));
    }
}
