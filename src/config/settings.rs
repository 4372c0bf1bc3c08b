//! A row of the settings table: a setting's name (or names), default, the output it belongs to and what it means,
//! defined once beside the code that reads it (each output's `settings.rs`, the pipeline's, the stores'). The
//! `--help` text and the table of docs/configuration.md are rendered from the whole table
//! (`crate::pipeline::config::every_setting`; a test keeps the docs' copy equal to it, `LOGMETER_BLESS=1 cargo test
//! --test it settings` rewrites it); the SAM template's environment and the variables the code reads are checked
//! against it.

/// One row of the settings table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The variable, or several read together, as Markdown (each in backticks).
    pub names: &'static str,
    /// The default, as Markdown.
    pub default: &'static str,
    /// The output (or part of logmeter) it configures.
    pub output: &'static str,
    /// What it does, as Markdown.
    pub meaning: &'static str,
}

/// The header of the settings table in docs/configuration.md.
pub const TABLE_HEADER: &str = "| variable | default | output | meaning |";

/// The settings table, as docs/configuration.md holds it.
pub fn markdown_table(table: &[&Setting]) -> String {
    let mut out = format!("{TABLE_HEADER}\n|---|---|---|---|\n");
    for s in table {
        out.push_str(&format!("| {} | {} | {} | {} |\n", s.names, s.default, s.output, s.meaning));
    }
    out
}

/// The settings as plain text for `--help`.
pub fn help_text(table: &[&Setting]) -> String {
    let mut out = String::from("Settings (environment variables, read once at start; docs/configuration.md):\n");
    let plain = |s: &str| s.replace('`', "");
    for s in table {
        out.push_str(&format!(
            "\n  {}\n      default {} ({}): {}\n",
            plain(s.names),
            plain(s.default),
            s.output,
            plain(s.meaning)
        ));
    }
    out
}

/// The variable names a row names (`` `A`, `B` `` gives `A` and `B`).
pub fn names(setting: &Setting) -> Vec<&'static str> {
    setting.names.split('`').skip(1).step_by(2).collect()
}
