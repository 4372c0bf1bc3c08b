//! The settings, defined once in `src/config/settings.rs`: the table of docs/configuration.md is generated from
//! them, and they name every variable the configuration reads and the SAM template sets.

use crate::support::root;
use logmeter::config::settings::{SETTINGS, TABLE_HEADER, markdown_table, names};

const START: &str =
    "<!-- settings: generated from src/config/settings.rs (LOGMETER_BLESS=1 cargo test --test it settings) -->\n";
const END: &str = "<!-- /settings -->";

#[test]
fn settings_docs_table_is_the_generated_one() {
    let path = root().join("docs/configuration.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (before, rest) = doc.split_once(START).expect("the generated block's start marker");
    let (table, after) = rest.split_once(END).expect("the generated block's end marker");
    let want = markdown_table();
    if std::env::var_os("LOGMETER_BLESS").is_some() && table != want {
        std::fs::write(&path, format!("{before}{START}{want}{END}{after}")).unwrap();
        return;
    }
    assert_eq!(table, want, "docs/configuration.md's table is not the generated one: LOGMETER_BLESS=1 rewrites it");
    assert!(table.starts_with(TABLE_HEADER));
}

#[test]
fn settings_name_every_variable_once() {
    let named: Vec<&str> = SETTINGS.iter().flat_map(names).collect();
    let mut distinct = named.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), named.len(), "a variable in two rows");
    let missing: Vec<&&str> = logmeter::config::VARIABLES.iter().filter(|v| !named.contains(v)).collect();
    assert!(missing.is_empty(), "read but without a setting row: {missing:?}");
    // Every row has its meaning, its default and an output.
    for s in SETTINGS {
        assert!(!s.meaning.is_empty() && !s.default.is_empty() && !s.output.is_empty(), "{s:?}");
    }
}
