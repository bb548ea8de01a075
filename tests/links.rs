//! The project stands alone: every relative link in its Markdown files resolves to a file
//! inside the repository (and an anchor, `page.md#section`, to a heading of that page),
//! and no file refers to a path outside it.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Folders that hold no project files: build output, installed dependencies, git.
fn skipped(rel: &Path) -> bool {
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    // (gpu/ holds the binary scripts/gpu-check builds)
    matches!(first.as_deref(), Some("target" | ".deps" | ".git" | "gpu"))
        // Generated runs under reports/ (ignored); its README and the sample are committed.
        || (rel.starts_with("reports")
            && rel.components().count() > 1
            && !rel.starts_with("reports/sample")
            && rel != Path::new("reports/README.md"))
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let rel = path.strip_prefix(root()).unwrap().to_path_buf();
        if skipped(&rel) {
            continue;
        }
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn project_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    files(&root(), &mut out);
    out.sort();
    out
}

/// The targets of `[text](target)` and `![alt](target)` links in `text`.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].trim().to_string());
            rest = &rest[end..];
        }
    }
    out
}

#[test]
fn every_relative_link_resolves_inside_the_repository() {
    let root = root().canonicalize().unwrap();
    let mut checked = 0;
    for path in project_files()
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
    {
        let text = std::fs::read_to_string(path).unwrap();
        let shown = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (target, anchor) = match link.split_once('#') {
                Some((t, a)) => (t, Some(a)),
                None => (link.as_str(), None),
            };
            let found = if target.is_empty() {
                path.canonicalize().unwrap()
            } else {
                path.parent()
                    .unwrap()
                    .join(target)
                    .canonicalize()
                    .unwrap_or_else(|e| panic!("{shown}: link ({link}) does not resolve: {e}"))
            };
            assert!(
                found.starts_with(&root),
                "{shown}: link ({link}) points outside the repository"
            );
            if let Some(anchor) = anchor.filter(|_| found.extension().is_some_and(|e| e == "md")) {
                let page = std::fs::read_to_string(&found).unwrap();
                assert!(
                    anchors(&page).iter().any(|a| a == anchor),
                    "{shown}: link ({link}) names no heading of {}",
                    found.display()
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 5,
        "only {checked} links found: is the README there?"
    );
}

#[test]
fn no_file_refers_to_paths_outside_the_repository() {
    // Spelled in pieces so that this file does not match itself.
    let outside = [
        ["..", "/shared"].concat(),
        ["BACKENDS", ".md"].concat(),
        ["DESIGN", ".md"].concat(),
        ["STYLE", ".md"].concat(),
        ["/work", "/"].concat(),
    ];
    let mut read = 0;
    for path in project_files() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // binary files
        };
        read += 1;
        for o in &outside {
            assert!(
                !text.contains(o.as_str()),
                "{} refers to {o}, which is not part of this repository",
                path.display()
            );
        }
    }
    assert!(read > 50, "only {read} files read");
}

/// The anchors a code host gives the headings of a Markdown page: lower case, letters,
/// digits, `-` and `_` kept, spaces to `-`, everything else dropped; a repeated one gets
/// `-1`, `-2`, …. Headings inside code fences are not headings.
fn anchors(page: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut fenced = false;
    for line in page.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let Some(title) = line.strip_prefix('#').filter(|_| !fenced) else {
            continue;
        };
        let title = title.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let slug: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let seen = counts.entry(slug.clone()).or_insert(0);
        out.push(if *seen == 0 {
            slug
        } else {
            format!("{slug}-{seen}")
        });
        *seen += 1;
    }
    out
}

#[test]
fn headings_get_the_anchors_a_code_host_gives_them() {
    let page = "# flopsbench\n## Lower precision: `--dtype f32,int8`\n```\n# not a heading\n```\n## Exit codes\n## Exit codes\n";
    assert_eq!(
        anchors(page),
        [
            "flopsbench",
            "lower-precision---dtype-f32int8",
            "exit-codes",
            "exit-codes-1"
        ]
    );
}

#[test]
fn the_link_parser_finds_links_and_images() {
    assert_eq!(
        links("see [a](x/y.md) and ![c](d.svg#top) [e](https://e.org)"),
        ["x/y.md", "d.svg#top", "https://e.org"]
    );
}
