//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, nothing from
//! the network). Every string that came from a result file is escaped.

use html_escape::encode_text;

use super::charts::Chart;
use super::tables::Table;

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.25rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
p.intro { color: #444; max-width: 60rem; }
nav a { margin-right: 1rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #d0d0d0; padding: 0.25rem 0.5rem; text-align: right;
         white-space: nowrap; }
th { background: #f3f5f8; position: sticky; top: 0; }
td:first-child, th:first-child { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
figure { margin: 1.5rem 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9rem; }
";

fn cell(s: &str) -> String {
    // `**x**` marks averages in the Markdown; render it bold here.
    match s.strip_prefix("**").and_then(|t| t.strip_suffix("**")) {
        Some(inner) => format!("<strong>{}</strong>", encode_text(inner)),
        None => encode_text(s).into_owned(),
    }
}

fn anchor(i: usize) -> String {
    format!("t{i}")
}

/// The whole page.
pub fn page(tables: &[Table], charts: &[Chart]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>flopsbench report</title>\n<style>",
    );
    out += STYLE;
    out += "</style>\n</head>\n<body>\n<h1>flopsbench report</h1>\n\
            <p class=\"intro\">Do fewer FLOPs make a network faster here? Measured rows beside \
            the paper's (Chen et al., CVPR 2023, &ldquo;Run, Don&rsquo;t Walk: Chasing Higher \
            FLOPS for Faster Neural Networks&rdquo;).</p>\n<nav>";
    for (i, t) in tables.iter().enumerate() {
        out += &format!("<a href=\"#{}\">{}</a>", anchor(i), encode_text(&t.title));
    }
    if !charts.is_empty() {
        out += "<a href=\"#charts\">Charts</a>";
    }
    out += "</nav>\n";
    for (i, t) in tables.iter().enumerate() {
        out += &format!(
            "<h2 id=\"{}\">{}</h2>\n<p class=\"intro\">{}</p>\n<div class=\"scroll\"><table>\n<thead><tr>",
            anchor(i),
            encode_text(&t.title),
            encode_text(&t.intro)
        );
        for h in &t.header {
            out += &format!("<th>{}</th>", encode_text(h));
        }
        out += "</tr></thead>\n<tbody>\n";
        for row in &t.rows {
            out += "<tr>";
            for c in row {
                out += &format!("<td>{}</td>", cell(c));
            }
            out += "</tr>\n";
        }
        out += "</tbody></table></div>\n";
    }
    if !charts.is_empty() {
        out += "<h2 id=\"charts\">Charts</h2>\n";
        for c in charts {
            // plotters escapes the text it writes; the SVG is inlined as it is.
            let svg = c.svg.find("<svg").map_or(c.svg.as_str(), |i| &c.svg[i..]);
            out += &format!(
                "<figure>\n{svg}\n<figcaption>{} ({})</figcaption>\n</figure>\n",
                encode_text(&c.title),
                encode_text(&c.file)
            );
        }
    }
    out += "</body>\n</html>\n";
    out
}
