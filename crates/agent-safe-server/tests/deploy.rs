//! The deployment files in `deploy/` against the server: the ConfigMap's
//! configuration loads and decides as documented, the placeholder key is
//! refused, and the Deployment, the Dockerfile and the server agree on the
//! ports, the entrypoint and the paths.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};

use agent_safe_core::{AgentSafe, CheckRequest};
use serde_json::{Value, json};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    agent_safe_core::yaml::parse(path, &text)
        .unwrap_or_else(|d| panic!("{d}"))
        .value
        .to_json()
}

/// The ConfigMap's files in a directory, as the volume would hold them, with
/// the absolute paths of the pod moved into `dir`; `key` is the signing key.
fn materialise(dir: &Path, key: &str) -> PathBuf {
    let cm = yaml(&deploy().join("kubernetes/configmap.yaml"));
    let etc = dir.join("etc/agent-safe");
    std::fs::create_dir_all(&etc).unwrap();
    for (name, text) in cm["data"].as_object().unwrap() {
        let mut text = text.as_str().unwrap().to_owned();
        if name == "agent-safe.yaml" {
            for (from, to) in [
                (
                    "/var/lib/agent-safe/audit/audit.jsonl",
                    dir.join("audit/audit.jsonl"),
                ),
                (
                    "/etc/agent-safe-secrets/signing.key",
                    dir.join("secrets/signing.key"),
                ),
            ] {
                assert!(
                    text.contains(from),
                    "agent-safe.yaml no longer names {from}"
                );
                text = text.replace(from, to.to_str().unwrap());
            }
        }
        std::fs::write(etc.join(name), text).unwrap();
    }
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    std::fs::write(dir.join("secrets/signing.key"), key).unwrap();
    etc.join("agent-safe.yaml")
}

#[test]
fn the_configmap_loads_and_decides_as_documented() {
    let tmp = tempfile::tempdir().unwrap();
    let key = agent_safe_core::identity::generate_secret().unwrap();
    let config = materialise(tmp.path(), &key);
    let safe = AgentSafe::open(Some(&config)).unwrap_or_else(|e| panic!("{e}"));
    let server = &safe.config().server;
    assert_eq!(
        server.listen, "127.0.0.1:8400",
        "the check API stays on loopback"
    );
    let deployer = common::token(&safe, "k8s-agent", &["deployer"], &[], 300);
    let check = |caller: &str, target: &str, ns: &str, name: &str| {
        let req = CheckRequest {
            caller: Some(caller.to_owned()),
            target: Some(target.to_owned()),
            params: Some(json!({"namespace": ns, "deployment": name})),
            ..CheckRequest::new("restart-deployment")
        };
        serde_json::to_value(safe.check(&req)).unwrap()
    };
    let d = check(&deployer, "staging/api", "staging", "api");
    assert_eq!(d["result"], "allow", "{d}");
    let d = check(&deployer, "prod/api", "prod", "api");
    assert_eq!(d["result"], "require_approval", "{d}");
    let d = check("k8s-agent", "staging/api", "staging", "api");
    assert_eq!(
        d["result"], "deny",
        "plain ids are refused (require_signed): {d}"
    );
    let report = agent_safe_core::audit::verify(&[tmp.path().join("audit")]);
    assert!(report.is_clean() && report.events == 3, "{report:?}");
}

#[test]
fn the_placeholder_signing_key_is_refused() {
    let secret = yaml(&deploy().join("kubernetes/secret.yaml"));
    let placeholder = secret["stringData"]["signing.key"].as_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let config = materialise(tmp.path(), placeholder);
    let err = AgentSafe::open(Some(&config)).expect_err("a placeholder key must not start");
    assert!(err.to_string().contains("signing key"), "{err}");
}

#[test]
fn the_agent_gets_a_projected_token_for_the_sidecars_audience() {
    let dep = yaml(&deploy().join("kubernetes/deployment.yaml"));
    let spec = &dep["spec"]["template"]["spec"];
    let volume = spec["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "agent-safe-token")
        .expect("a projected token volume");
    let source = &volume["projected"]["sources"][0]["serviceAccountToken"];
    let agent = spec["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "agent")
        .unwrap();
    assert!(
        agent["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "agent-safe-token"),
        "the agent mounts its token"
    );
    let tmp = tempfile::tempdir().unwrap();
    let key = agent_safe_core::identity::generate_secret().unwrap();
    let config = materialise(tmp.path(), &key);
    let safe = AgentSafe::open(Some(&config)).unwrap_or_else(|e| panic!("{e}"));
    let issuers = &safe.config().identity.issuers;
    assert_eq!(issuers.len(), 1);
    assert_eq!(
        source["audience"].as_str(),
        Some(issuers[0].audience.as_str()),
        "the token is requested for the audience the sidecar checks"
    );
    assert_eq!(
        spec["serviceAccountName"].as_str(),
        safe.config().identity.kubernetes.service_accounts[0]
            .name
            .as_deref()
    );
}

#[test]
fn deployment_dockerfile_and_server_agree() {
    let dep = yaml(&deploy().join("kubernetes/deployment.yaml"));
    let spec = &dep["spec"]["template"]["spec"];
    let sidecar = spec["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "agent-safe")
        .unwrap();
    assert_eq!(sidecar["restartPolicy"], "Always", "a native sidecar");
    assert_eq!(sidecar["args"], json!(["--health-listen", "0.0.0.0:8401"]));
    assert_eq!(sidecar["ports"][0]["containerPort"], 8401);
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        assert_eq!(sidecar[probe]["httpGet"]["port"], "health", "{probe}");
    }
    assert_eq!(sidecar["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(sidecar["livenessProbe"]["httpGet"]["path"], "/healthz");
    let sc = &sidecar["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(spec["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        spec["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let mounts: Vec<&str> = sidecar["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert!(mounts.contains(&"/etc/agent-safe"));
    assert!(mounts.contains(&"/var/lib/agent-safe/audit"));
    assert!(mounts.contains(&"/etc/agent-safe-secrets"));
    assert!(
        sidecar["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m.get("subPath").is_none()),
        "subPath mounts never see ConfigMap updates"
    );

    let dockerfile = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains(
        r#"ENTRYPOINT ["agent-safe", "serve", "--config", "/etc/agent-safe/agent-safe.yaml"]"#
    ));
    assert!(dockerfile.contains("USER 65532:65532"));
    assert!(dockerfile.contains("FROM gcr.io/distroless/cc-debian12:nonroot"));
}

/// The kubelet sends its probes with `Host: <pod IP>:<port>` unless a probe
/// sets `host` or a `Host` header; the agent uses `http://127.0.0.1:8400`.
/// Both must pass the sidecar's Host check with the ConfigMap's settings.
#[test]
fn the_probes_and_the_agent_pass_the_host_check() {
    use agent_safe_server::AllowedHosts;
    use axum::http::{HeaderMap, HeaderValue, Version, header};

    let dep = yaml(&deploy().join("kubernetes/deployment.yaml"));
    let spec = &dep["spec"]["template"]["spec"];
    let sidecar = spec["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "agent-safe")
        .unwrap();
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        let get = &sidecar[probe]["httpGet"];
        assert!(
            get["host"].is_null() && get["httpHeaders"].is_null(),
            "{probe} must keep the kubelet's Host (the pod IP): {get}"
        );
    }
    let agent = spec["containers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["env"].as_array().cloned().unwrap_or_default())
        .find_map(|e| {
            e["value"]
                .as_str()
                .filter(|v| v.starts_with("http://"))
                .map(str::to_owned)
        })
        .unwrap();
    let agent_host = agent.trim_start_matches("http://").trim_end_matches('/');

    let tmp = tempfile::tempdir().unwrap();
    let key = agent_safe_core::identity::generate_secret().unwrap();
    let safe = AgentSafe::open(Some(&materialise(tmp.path(), &key))).unwrap();
    let server = &safe.config().server;
    let check = |listen: &str, host: &str| {
        let hosts = AllowedHosts::new(listen.parse().unwrap(), &server.allowed_hosts).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        hosts
            .check(Version::HTTP_11, &"/readyz".parse().unwrap(), &headers)
            .map_err(|e| e.code())
    };
    assert_eq!(check(&server.listen, agent_host), Ok(()), "{agent_host}");
    assert_eq!(check("0.0.0.0:8401", "10.244.3.17:8401"), Ok(()));
    assert_eq!(
        check(&server.listen, "attacker.example:8400"),
        Err("host_not_allowed")
    );
}
