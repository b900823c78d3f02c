//! `cargo fastkernels list`: every registry entry, whether this workspace implements it
//! (a package with `[package.metadata.fastkernels] module = …`) and what is in its slot.

use crate::output::{emit, line};
use crate::registry::{Architecture, Registry};
use crate::table::Table;
use crate::workspace::{ArchCrate, Workspace};
use crate::Ctx;
use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;

#[derive(Args)]
pub struct ListArgs {
    /// Only this family (llm, linear_attn, vision, multimodal, edge, 3d_robotics, recsys, world_models)
    #[arg(long, value_name = "FAMILY")]
    family: Option<String>,
    /// Only architectures that have a crate in this workspace
    #[arg(long)]
    implemented: bool,
    /// Print JSON instead of a table
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: ListArgs) -> Result<i32> {
    let reg = Registry::embedded()?;
    // The registry is embedded, so `list` still works outside a workspace; only the
    // "implemented" column needs one.
    let ws = match ctx.workspace() {
        Ok(ws) => Some(ws),
        Err(e) if !args.implemented => {
            eprintln!("warning: {e}\nwarning: showing the registry without the `implemented` column");
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(ws) = &ws {
        for c in &ws.arch_crates {
            if reg.get(&c.module).is_none() {
                eprintln!("warning: {} declares module `{}`, which is not in the registry", c.package, c.module);
            }
        }
    }
    let family = match &args.family {
        Some(f) => {
            let key = f.trim().replace('-', "_").to_lowercase();
            if reg.family(&key).is_none() {
                bail!("unknown family `{f}`; the families are: {}", reg.family_keys().join(", "));
            }
            Some(key)
        }
        None => None,
    };
    let implemented = |a: &Architecture| ws.as_ref().and_then(|w| w.by_module(&a.module));
    let shown: Vec<(&Architecture, Option<&ArchCrate>)> = reg
        .architectures
        .iter()
        .filter(|a| family.as_deref().is_none_or(|f| a.family == f))
        .map(|a| (a, implemented(a)))
        .filter(|(_, c)| !args.implemented || c.is_some())
        .collect();

    if shown.is_empty() && !args.json {
        line("No registry entry matches these filters.");
        return Ok(0);
    }
    if args.json {
        print_json(&reg, ws.as_ref(), &shown);
    } else {
        print_table(&reg, ws.as_ref(), &shown);
    }
    Ok(0)
}

fn print_table(reg: &Registry, ws: Option<&Workspace>, shown: &[(&Architecture, Option<&ArchCrate>)]) {
    let mut t = Table::new(&["FAMILY", "MODULE", "NAME", "MODEL_TYPE", "CHECKPOINT", "IMPLEMENTED"]);
    for (a, c) in shown {
        let model_type = match (&a.model_type, &a.library) {
            (Some(m), _) => m.clone(),
            (None, Some(lib)) => format!("— ({lib})"),
            (None, None) => "—".into(),
        };
        let mut checkpoint = a.checkpoint.clone();
        if let Some(note) = &a.note {
            checkpoint.push_str(&format!(" ({note})"));
        }
        if !a.enabled {
            checkpoint.push_str(" (off by default)");
        }
        let implemented = match (ws, c) {
            (None, _) => "?".to_string(),
            (Some(_), None) => "—".to_string(),
            (Some(_), Some(c)) => {
                let slot = c.slot_override.as_ref().map(|v| format!(" [slot from {v}]")).unwrap_or_default();
                format!("{}, {}{slot}", c.package, c.candidates_text())
            }
        };
        t.row(vec![a.family.clone(), a.module.clone(), a.name.clone(), model_type, checkpoint, implemented]);
    }
    emit(&t.render());

    line("");
    line("Families:");
    let mut f = Table::new(&["FAMILY", "NAME", "ENTRIES", "IMPLEMENTED"]).right_align(&[2, 3]);
    let (mut total, mut total_impl) = (0, 0);
    for fam in &reg.families {
        let entries = shown.iter().filter(|(a, _)| a.family == fam.key).count();
        if entries == 0 {
            continue;
        }
        let implemented = shown.iter().filter(|(a, c)| a.family == fam.key && c.is_some()).count();
        total += entries;
        total_impl += implemented;
        let implemented = if ws.is_some() { implemented.to_string() } else { "?".into() };
        f.row(vec![fam.key.clone(), fam.name.clone(), entries.to_string(), implemented]);
    }
    let total_impl = if ws.is_some() { total_impl.to_string() } else { "?".into() };
    f.row(vec!["total".into(), String::new(), total.to_string(), total_impl]);
    for l in f.render().lines() {
        line(format!("  {l}"));
    }
}

fn print_json(reg: &Registry, ws: Option<&Workspace>, shown: &[(&Architecture, Option<&ArchCrate>)]) {
    let archs: Vec<_> = shown
        .iter()
        .map(|(a, c)| {
            let mut v = serde_json::to_value(a).unwrap_or_default();
            if let Some(obj) = v.as_object_mut() {
                obj.insert("family_name".into(), json!(reg.family(&a.family).map(|f| f.name.as_str())));
                obj.insert("implemented".into(), json!(ws.map(|_| c.is_some())));
                obj.insert("crate".into(), json!(c.map(|c| &c.package)));
                obj.insert("slot".into(), json!(c.map(|c| c.slot.display().to_string())));
                obj.insert("candidates".into(), json!(c.map(|c| &c.candidates)));
            }
            v
        })
        .collect();
    let families: Vec<_> = reg
        .families
        .iter()
        .map(|f| {
            let entries = shown.iter().filter(|(a, _)| a.family == f.key).count();
            let implemented = shown.iter().filter(|(a, c)| a.family == f.key && c.is_some()).count();
            json!({"key": f.key, "name": f.name, "entries": entries, "implemented": ws.map(|_| implemented)})
        })
        .filter(|f| f["entries"].as_u64() != Some(0))
        .collect();
    let doc = json!({
        "schema": "fastkernels.list.v1",
        "workspace": ws.map(|w| w.root.display().to_string()),
        "architectures": archs,
        "families": families,
    });
    line(serde_json::to_string_pretty(&doc).unwrap_or_default());
}
