//! The report as Markdown: its tables, then its charts as linked images.

use super::charts::Chart;
use super::tables::Table;

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The report as Markdown: tables, then the charts as linked images.
pub fn markdown(tables: &[Table], charts: &[Chart]) -> String {
    let mut out = String::from(
        "# flopsbench report\n\nDo fewer FLOPs make a network faster here? Measured rows \
         beside the paper's (Chen et al., CVPR 2023, \"Run, Don't Walk\").\n",
    );
    for t in tables {
        out += &format!("\n## {}\n\n{}\n\n", t.title, t.intro);
        out += &format!(
            "| {} |\n",
            t.header
                .iter()
                .map(|h| md_cell(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        out += "|";
        for i in 0..t.header.len() {
            out += if i == 0 { " --- |" } else { " ---: |" };
        }
        out += "\n";
        for row in &t.rows {
            out += &format!(
                "| {} |\n",
                row.iter()
                    .map(|c| md_cell(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
    }
    if !charts.is_empty() {
        out += "\n## Charts\n\n";
        for c in charts {
            out += &format!("### {}\n\n![{}]({})\n\n", c.title, c.title, c.file);
        }
    }
    out
}
