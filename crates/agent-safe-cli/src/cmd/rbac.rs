//! `rbac`: least-privilege Kubernetes RBAC for an agent, from the policies.

use std::io::Write;

use agent_safe_core::engine::Snapshot;
use agent_safe_core::identity::Caller;
use agent_safe_core::rbac::{RbacRequest, plan, to_yaml};

use crate::cli::{RbacArgs, RbacFormat};
use crate::error::{CliError, CmdResult, exit};
use crate::output::Io;
use crate::project::Ctx;

/// `rbac --caller AGENT ...`.
pub(crate) fn rbac(io: &mut Io, ctx: &Ctx, a: RbacArgs) -> CmdResult {
    let config = ctx.require_config("`agent-safe rbac`")?;
    if a.inventory_sync {
        let settings = config.inventory_sync.clone().unwrap_or_default();
        let mapper =
            agent_safe_core::k8s::sync::Mapper::new(&settings).map_err(CliError::Failed)?;
        let text = agent_safe_core::k8s::sync::sync_rbac_yaml(
            &mapper,
            a.service_account.as_deref().unwrap_or("agent-safe"),
            a.service_account_namespace
                .as_deref()
                .or(a.namespace.as_deref())
                .unwrap_or("agent-safe"),
        )
        .map_err(CliError::Failed)?;
        write!(io.out, "{text}")?;
        return Ok(exit::OK);
    }
    let Some(caller) = a.caller else {
        return Err(CliError::usage(
            "--caller is required (or --inventory-sync)",
        ));
    };
    let snap = Snapshot::load(&config).map_err(CliError::Config)?;
    let mut roles: Vec<String> = a.roles.into_iter().filter(|r| !r.is_empty()).collect();
    let mut groups: Vec<String> = a.groups.into_iter().filter(|g| !g.is_empty()).collect();
    let mut service_account = a.service_account;
    let mut service_account_namespace = a.service_account_namespace;
    // A ServiceAccount caller (`system:serviceaccount:NS:NAME`, as its
    // projected token names it): the RoleBinding goes to that ServiceAccount,
    // and without --roles/--groups its roles and groups are those of
    // `identity.kubernetes`.
    if let Some((ns, name)) = caller
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains(':'))
    {
        service_account.get_or_insert_with(|| name.to_owned());
        service_account_namespace.get_or_insert_with(|| ns.to_owned());
        if roles.is_empty() && groups.is_empty() {
            (roles, groups) = snap.identity.kubernetes.roles_and_groups(ns, name);
        }
    }
    let req = RbacRequest {
        caller: Caller {
            agent_id: caller,
            agent_name: None,
            roles,
            groups,
            signed: true,
            kubernetes: None,
        },
        namespace: a.namespace,
        cluster: a.cluster,
        service_account,
        service_account_namespace,
        include_approval: !a.unattended,
    };
    let p = plan(&snap, &req);
    for u in &p.custom_resources {
        writeln!(
            io.err,
            "note: `{u}` is a custom resource (`custom_resources`); granted as namespaced"
        )?;
    }
    if !p.other_privileges.is_empty() {
        writeln!(
            io.err,
            "note: left out, not Kubernetes RBAC: {} (grant those with the other provider's own tools)",
            p.other_privileges.join(", ")
        )?;
    }
    if p.clusters.len() > 1 {
        writeln!(
            io.err,
            "warning: the targets span several clusters ({}); the output merges them, so each cluster would get the others' grants: pass --cluster NAME",
            p.clusters.join(", ")
        )?;
    }
    if !p.no_namespace.is_empty() {
        writeln!(
            io.err,
            "warning: reachable on targets that name no namespace, so their namespaced privileges are not granted: {}; add `namespace:` to those inventory targets",
            p.no_namespace.join(", ")
        )?;
    }
    if !p.unknown_target_actions.is_empty() {
        writeln!(
            io.err,
            "warning: the policies could allow {} on targets outside the inventory (`unknown_targets: evaluate_as_critical`); no RBAC is generated for those: add the targets to the inventory",
            p.unknown_target_actions.join(", ")
        )?;
    }
    match a.output {
        RbacFormat::Json => {
            let text = serde_json::to_string_pretty(&p)
                .map_err(|e| CliError::Failed(format!("cannot render the plan: {e}")))?;
            writeln!(io.out, "{text}")?;
        }
        RbacFormat::Yaml => {
            if p.actions.is_empty() {
                writeln!(
                    io.err,
                    "warning: the policies never allow `{}` anything: no RBAC is needed",
                    req.caller.agent_id
                )?;
            }
            let text =
                to_yaml(&p).map_err(|e| CliError::Failed(format!("cannot render YAML: {e}")))?;
            write!(io.out, "{text}")?;
        }
    }
    Ok(exit::OK)
}
