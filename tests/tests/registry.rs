//! Registry completeness: `registry/architectures.toml` holds the 47 entries of the original
//! FastKernels in 8 families, and every architecture crate of the workspace matches its entry.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

fn registry() -> toml::Table {
    let path = workspace_root().join("registry/architectures.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn array<'a>(t: &'a toml::Table, key: &str) -> Vec<&'a toml::Table> {
    t.get(key)
        .and_then(|v| v.as_array())
        .unwrap_or_else(|| panic!("registry has no [[{key}]]"))
        .iter()
        .map(|v| v.as_table().unwrap_or_else(|| panic!("[[{key}]] entry is not a table")))
        .collect()
}

fn str_of<'a>(t: &'a toml::Table, key: &str) -> Option<&'a str> {
    t.get(key).and_then(|v| v.as_str())
}

#[test]
fn schema_is_declared() {
    assert_eq!(str_of(&registry(), "schema"), Some("fastkernels.registry.v1"));
}

#[test]
fn has_the_47_entries_in_8_families() {
    let reg = registry();
    let families = array(&reg, "family");
    let keys: Vec<&str> = families.iter().map(|f| str_of(f, "key").expect("family.key")).collect();
    assert_eq!(keys, ["llm", "linear_attn", "vision", "multimodal", "edge", "3d_robotics", "recsys", "world_models"]);
    for f in &families {
        assert!(str_of(f, "name").is_some_and(|n| !n.is_empty()), "family {f:?} has no display name");
    }
    let family_name: BTreeMap<&str, &str> = families.iter().map(|f| (str_of(f, "key").unwrap(), str_of(f, "name").unwrap())).collect();
    assert_eq!(family_name["llm"], "Dense & MoE LLMs");
    assert_eq!(family_name["3d_robotics"], "3D / Robotics / Science");

    let archs = array(&reg, "architecture");
    assert_eq!(archs.len(), 47);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &archs {
        let family = str_of(a, "family").expect("architecture.family");
        assert!(keys.contains(&family), "{a:?}: unknown family {family}");
        *counts.entry(family).or_default() += 1;
    }
    let expected = [
        ("llm", 8),
        ("linear_attn", 9),
        ("vision", 6),
        ("multimodal", 6),
        ("edge", 5),
        ("3d_robotics", 6),
        ("recsys", 5),
        ("world_models", 2),
    ];
    assert_eq!(counts, expected.into_iter().collect::<BTreeMap<_, _>>());
}

#[test]
fn entries_are_well_formed_and_unique() {
    let reg = registry();
    let mut modules = HashSet::new();
    for a in array(&reg, "architecture") {
        let module = str_of(a, "module").expect("architecture.module");
        assert!(modules.insert(module), "module {module} is listed twice");
        assert!(
            module.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "module {module}: use lowercase, digits and _"
        );
        for key in ["name", "checkpoint", "dtype"] {
            assert!(str_of(a, key).is_some_and(|v| !v.is_empty()), "{module}: missing {key}");
        }
        let tp = a.get("tp").and_then(|v| v.as_integer()).unwrap_or_else(|| panic!("{module}: missing tp"));
        assert!([1, 2, 4, 8].contains(&tp), "{module}: tp {tp}");
        if let Some(mt) = a.get("model_type") {
            assert!(mt.as_str().is_some_and(|s| !s.is_empty() && !s.contains('—')), "{module}: model_type {mt}");
        }
        let allowed = ["module", "name", "family", "model_type", "library", "checkpoint", "note", "tp", "dtype", "enabled"];
        for key in a.keys() {
            assert!(allowed.contains(&key.as_str()), "{module}: unknown key {key}");
        }
    }
    // Spot checks against the original's table.
    let get = |m: &str| array(&reg, "architecture").into_iter().find(|a| str_of(a, "module") == Some(m)).unwrap().clone();
    assert_eq!(str_of(&get("deepseek"), "model_type"), Some("deepseek_v32"));
    assert_eq!(get("deepseek").get("enabled").and_then(|v| v.as_bool()), Some(false));
    assert_eq!(get("deepseek").get("tp").and_then(|v| v.as_integer()), Some(8));
    assert_eq!(str_of(&get("flux"), "model_type"), None);
    assert_eq!(str_of(&get("flux"), "library"), Some("diffusers"));
    assert_eq!(str_of(&get("bge_m3"), "model_type"), Some("xlm-roberta"));
    assert_eq!(str_of(&get("llama"), "checkpoint"), Some("meta-llama/Llama-3.1-8B-Instruct"));
}

/// Every package with `[package.metadata.fastkernels]` claims a registry module, agrees with
/// its entry, follows the naming convention, and has only baseline ops in its slot.
#[test]
fn workspace_crates_match_the_registry() {
    let reg = registry();
    let archs = array(&reg, "architecture");
    let root = workspace_root();
    let meta = cargo_metadata::MetadataCommand::new().manifest_path(root.join("Cargo.toml")).no_deps().exec().expect("cargo metadata");
    let baseline_ops: HashSet<String> = std::fs::read_dir(root.join("baselines/kernels"))
        .expect("baselines/kernels")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cu"))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(String::from))
        .collect();
    assert!(!baseline_ops.is_empty());

    let mut seen = HashSet::new();
    let mut n = 0;
    for pkg in &meta.packages {
        let Some(fk) = pkg.metadata.get("fastkernels") else { continue };
        n += 1;
        let name = pkg.name.to_string();
        let field = |k: &str| fk.get(k).and_then(|v| v.as_str());
        let module = field("module").unwrap_or_else(|| panic!("{name}: [package.metadata.fastkernels] has no module"));
        assert!(seen.insert(module.to_string()), "two crates claim module {module}");
        let entry = archs
            .iter()
            .find(|a| str_of(a, "module") == Some(module))
            .unwrap_or_else(|| panic!("{name}: module {module} is not in registry/architectures.toml"));
        assert_eq!(field("family"), str_of(entry, "family"), "{name}: family differs from the registry");
        let mt = field("model_type").filter(|s| !s.is_empty());
        assert_eq!(mt, str_of(entry, "model_type"), "{name}: model_type differs from the registry");
        let crate_name = format!("fk-{}", module.replace('_', "-"));
        assert_eq!(name, crate_name, "crate for module {module} must be named {crate_name}");
        let dir = pkg.manifest_path.parent().expect("manifest dir").as_std_path();
        assert_eq!(dir, root.join("architectures").join(module.replace('_', "-")), "{name} lives in the wrong folder");
        assert!(
            pkg.targets.iter().any(|t| t.name == "ops" && t.kind.contains(&cargo_metadata::TargetKind::Bench)),
            "{name} has no `ops` bench target"
        );
        if let Ok(entries) = std::fs::read_dir(dir.join("kernels")) {
            for p in entries.filter_map(|e| e.ok().map(|e| e.path())) {
                if p.extension().is_some_and(|x| x == "cu") {
                    let op = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                    assert!(baseline_ops.contains(op), "{}: `{op}` is not a baseline op", p.display());
                }
            }
        }
    }
    assert!(n >= 1, "no architecture crate found (expected at least fk-llama)");
}
