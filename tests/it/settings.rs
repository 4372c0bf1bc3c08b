//! The settings, each defined once beside the code that reads it (`every_setting` gathers them): the table of docs/configuration.md is generated from
//! them, and they name every variable the configuration reads and the SAM template sets.

use crate::support::root;
use logmeter::config::settings::{TABLE_HEADER, markdown_table, names};
use logmeter::pipeline::config::every_setting;

const START: &str = "<!-- settings: generated from each settings.rs, gathered by src/pipeline/config.rs (LOGMETER_BLESS=1 cargo test --test it settings) -->\n";
const END: &str = "<!-- /settings -->";

#[test]
fn settings_docs_table_is_the_generated_one() {
    let path = root().join("docs/configuration.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (before, rest) = doc.split_once(START).expect("the generated block's start marker");
    let (table, after) = rest.split_once(END).expect("the generated block's end marker");
    let want = markdown_table(&every_setting());
    if std::env::var_os("LOGMETER_BLESS").is_some() && table != want {
        std::fs::write(&path, format!("{before}{START}{want}{END}{after}")).unwrap();
        return;
    }
    assert_eq!(table, want, "docs/configuration.md's table is not the generated one: LOGMETER_BLESS=1 rewrites it");
    assert!(table.starts_with(TABLE_HEADER));
}

#[test]
fn settings_name_every_variable_once() {
    let table = every_setting();
    let named: Vec<&str> = table.iter().copied().flat_map(names).collect();
    let mut distinct = named.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), named.len(), "a variable in two rows");
    // That the rows name exactly what the configuration reads is checked where it reads them
    // (`pipeline::config`'s `variables_lists_exactly_what_the_code_reads`).
    // Every row has its meaning, its default and an output.
    for s in &table {
        assert!(!s.meaning.is_empty() && !s.default.is_empty() && !s.output.is_empty(), "{s:?}");
    }
}
