//! The C API's documentation, checked: every function in `include/mqlite.h`
//! says what its parameters are, what it returns and who owns each pointer
//! for how long, every callback type says the same of what it is given,
//! and the ownership table of `docs/C_API.md` names every one of them (and
//! nothing the header lacks), so that neither can fall behind the other.

use std::collections::BTreeSet;
use std::path::Path;

/// One function or callback type of the header, with the doc comment
/// before it.
struct Declaration {
    name: String,
    doc: String,
    callback: bool,
    takes_pointer: bool,
}

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The functions and callback types of a cbindgen header. Line-based, which
/// is enough for what cbindgen writes: a comment, then one declaration
/// ending in `;` (a struct's body balanced in braces).
fn declarations(header: &str) -> Vec<Declaration> {
    let mut found = Vec::new();
    let mut doc = String::new();
    let mut in_comment = false;
    let mut statement = String::new();
    let mut depth = 0i32;
    for line in header.lines() {
        let text = line.trim();
        if statement.is_empty() {
            if in_comment {
                doc.push_str(text);
                doc.push('\n');
                in_comment = !text.ends_with("*/");
                continue;
            }
            if text.starts_with("/*") {
                // Only a doc comment (`/**`) belongs to what follows.
                doc.clear();
                if text.starts_with("/**") {
                    doc.push_str(text);
                    doc.push('\n');
                }
                in_comment = !text.ends_with("*/");
                continue;
            }
            // Preprocessor lines and the `extern "C" { ... }` guard.
            if text.is_empty() || text.starts_with('#') || text.starts_with("extern \"C\"") {
                continue;
            }
            if text.starts_with('}') {
                doc.clear();
                continue;
            }
        }
        statement.push_str(text);
        statement.push(' ');
        depth += text.matches('{').count() as i32 - text.matches('}').count() as i32;
        if depth == 0 && text.ends_with(';') {
            if let Some(declaration) = classify(&statement, &doc) {
                found.push(declaration);
            }
            statement.clear();
            doc.clear();
        }
    }
    found
}

fn classify(statement: &str, doc: &str) -> Option<Declaration> {
    // A struct's body (whose field comments may hold parentheses).
    if statement.contains('{') {
        return None;
    }
    let (head, arguments) = statement.split_once('(')?;
    let (name, callback, arguments) = if statement.starts_with("typedef") {
        // `typedef R (*name)(arguments);`
        let name = arguments.strip_prefix('*')?.split(')').next()?;
        (name, true, arguments.split_once('(')?.1)
    } else {
        // `R name(arguments);`, R perhaps a pointer.
        let name = head.split_whitespace().last()?.trim_start_matches('*');
        (name, false, arguments)
    };
    name.starts_with("mqlite_").then(|| Declaration {
        name: name.to_string(),
        doc: doc.to_string(),
        callback,
        takes_pointer: arguments.contains('*'),
    })
}

#[test]
fn the_parser_finds_the_whole_api() {
    let header = read("include/mqlite.h");
    let found = declarations(&header);
    let functions = found.iter().filter(|d| !d.callback).count();
    let callbacks: BTreeSet<&str> = found
        .iter()
        .filter(|d| d.callback)
        .map(|d| d.name.as_str())
        .collect();
    // Every prototype line names a function the parser saw.
    let prototypes = header
        .lines()
        .filter(|line| line.starts_with(char::is_alphabetic) && !line.starts_with("typedef"))
        .filter(|line| line.contains("mqlite_") && line.contains('('))
        .count();
    assert_eq!(functions, prototypes);
    assert!(functions > 100, "only {functions} functions found");
    for name in [
        "mqlite_auth_callback",
        "mqlite_acl_callback",
        "mqlite_message_callback",
        "mqlite_event_callback",
        "mqlite_local_callback",
        "mqlite_log_callback",
    ] {
        assert!(callbacks.contains(name), "{name} not found");
    }
}

#[test]
fn every_function_documents_parameters_returns_and_ownership() {
    let mut missing = Vec::new();
    for declaration in declarations(&read("include/mqlite.h")) {
        let sections: &[&str] = match (declaration.callback, declaration.takes_pointer) {
            (true, _) => &["Parameters:", "Memory and lifetimes:"],
            (false, true) => &[
                "# Parameters",
                "# Returns",
                "# Memory and lifetimes",
                "# Safety",
            ],
            (false, false) => &["# Parameters", "# Returns", "# Memory and lifetimes"],
        };
        for section in sections {
            if !declaration.doc.contains(section) {
                missing.push(format!("{}: {section}", declaration.name));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "undocumented in src/ffi:\n{}",
        missing.join("\n")
    );
}

/// The names in the first column of the table under "### Who owns what".
fn ownership_table_names(guide: &str) -> BTreeSet<String> {
    let start = guide
        .find("### Who owns what")
        .expect("docs/C_API.md has a \"Who owns what\" section");
    let section = &guide[start..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut names = BTreeSet::new();
    for row in section.lines().filter(|line| line.starts_with('|')).skip(2) {
        let first = row.split('|').nth(1).unwrap_or_default();
        for quoted in first.split('`').skip(1).step_by(2) {
            let name = quoted.trim_end_matches("()");
            if name.starts_with("mqlite_") {
                names.insert(name.to_string());
            }
        }
    }
    names
}

#[test]
fn ownership_table_names_every_function_and_callback() {
    let api: BTreeSet<String> = declarations(&read("include/mqlite.h"))
        .into_iter()
        .map(|declaration| declaration.name)
        .collect();
    let table = ownership_table_names(&read("docs/C_API.md"));
    let absent: Vec<&String> = api.difference(&table).collect();
    let unknown: Vec<&String> = table.difference(&api).collect();
    assert!(
        absent.is_empty(),
        "docs/C_API.md, \"Who owns what\", has no row for {absent:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/C_API.md, \"Who owns what\", names what the header lacks: {unknown:?}"
    );
}
