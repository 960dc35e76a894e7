//! mosquitto.conf's lines: where each is (for messages), the option and
//! its value read as mosquitto reads them, and `include_dir`'s files in
//! mosquitto's order.
//!
//! mosquitto treats a line as a comment when `#` is its very first
//! character and splits on single spaces; mqlite also takes a `#` after
//! leading blanks as a comment and tabs as separators, so everything
//! mosquitto reads is read the same, and a little more.

use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Where a line is: file and line number (from 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc {
    pub file: Rc<Path>,
    pub line: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A refused line: where, which option, why.
#[derive(Debug, PartialEq, Eq)]
pub struct Fault {
    pub loc: Loc,
    pub option: String,
    pub reason: String,
}

impl Fault {
    pub fn new(loc: &Loc, option: &str, reason: impl Into<String>) -> Fault {
        Fault {
            loc: loc.clone(),
            option: option.to_string(),
            reason: reason.into(),
        }
    }

    /// The binary's error: the file, then `line N: `option`: reason`.
    pub fn into_error(self) -> mqlite::Error {
        mqlite::Error::ConfigFile {
            path: self.loc.file.display().to_string(),
            reason: format!("line {}: `{}`: {}", self.loc.line, self.option, self.reason),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: `{}`: {}", self.loc, self.option, self.reason)
    }
}

/// A warning about a line, in the same words as a [`Fault`].
pub fn warning(loc: &Loc, option: &str, text: &str) -> String {
    format!(
        "config file {}: line {}: `{option}`: {text}",
        loc.file.display(),
        loc.line
    )
}

/// One setting line: its option and what follows it.
pub struct Line<'a> {
    pub loc: Loc,
    pub option: &'a str,
    /// Everything after the option, without the blanks around it.
    pub rest: &'a str,
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The setting lines of a file's text: comments and blank lines left out,
/// `\r` of CRLF files removed.
pub fn lines<'a>(file: &Rc<Path>, text: &'a str) -> impl Iterator<Item = Line<'a>> + 'a {
    let file = file.clone();
    text.lines().enumerate().filter_map(move |(index, raw)| {
        let line = raw.trim_end_matches('\r').trim_matches(is_blank);
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let (option, rest) = line.split_once(is_blank).unwrap_or((line, ""));
        Some(Line {
            loc: Loc {
                file: file.clone(),
                line: index + 1,
            },
            option,
            rest: rest.trim_matches(is_blank),
        })
    })
}

impl Line<'_> {
    fn fault(&self, reason: impl Into<String>) -> Fault {
        Fault::new(&self.loc, self.option, reason)
    }

    /// The whole value (a path, a prefix: mosquitto takes the rest of the
    /// line, blanks inside included).
    pub fn text(&self) -> Result<&str, Fault> {
        if self.rest.is_empty() {
            return Err(self.fault("needs a value"));
        }
        Ok(self.rest)
    }

    /// The words of the value; a word starting with `#` ends them (a
    /// comment after the value).
    pub fn words(&self) -> Vec<&str> {
        self.all_words()
            .take_while(|word| !word.starts_with('#'))
            .collect()
    }

    /// Every word of the value, those starting with `#` included: where a
    /// `#` is a value (a bridge's `topic #`), the caller decides.
    pub fn all_words(&self) -> impl Iterator<Item = &str> {
        self.rest.split(is_blank).filter(|word| !word.is_empty())
    }

    /// The one word of the value. Words after it are ignored, as mosquitto
    /// does; `warnings` names them.
    pub fn word(&self, warnings: &mut Vec<String>) -> Result<&str, Fault> {
        let words = self.words();
        let Some(first) = words.first() else {
            return Err(self.fault("needs a value"));
        };
        if words.len() > 1 {
            warnings.push(warning(
                &self.loc,
                self.option,
                &format!(
                    "`{}` after the value ignored (as mosquitto)",
                    words[1..].join(" ")
                ),
            ));
        }
        Ok(first)
    }

    /// A `true` / `false` (or `1` / `0`) value.
    pub fn bool(&self, warnings: &mut Vec<String>) -> Result<bool, Fault> {
        match self.word(warnings)? {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => Err(self.fault(format!("`{other}` is not true or false"))),
        }
    }

    /// A whole number, negative ones included. mosquitto reads numbers
    /// with `atoi(3)`: `10s` is 10. mqlite reads them so too, with a
    /// warning, but refuses a value without leading digits (which `atoi`
    /// would read as 0).
    pub fn int(&self, warnings: &mut Vec<String>) -> Result<i64, Fault> {
        let word = self.word(warnings)?;
        self.int_of(word, warnings)
    }

    /// `word`, one of this line's, read as [`Line::int`] reads its value.
    pub fn int_of(&self, word: &str, warnings: &mut Vec<String>) -> Result<i64, Fault> {
        if let Ok(value) = word.parse() {
            return Ok(value);
        }
        let sign = usize::from(word.starts_with(['-', '+']));
        let end = word[sign..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(word.len(), |at| at + sign);
        match word[..end].parse::<i64>() {
            Ok(value) if end > sign => {
                warnings.push(self.warn(&format!(
                    "`{word}` read as {value}, as mosquitto reads it (the rest ignored)"
                )));
                Ok(value)
            }
            _ => Err(self.fault(format!("`{word}` is not a whole number"))),
        }
    }

    /// A whole number within `min..=max`.
    pub fn int_in(&self, min: i64, max: i64, warnings: &mut Vec<String>) -> Result<i64, Fault> {
        let value = self.int(warnings)?;
        if value < min || value > max {
            return Err(self.fault(format!("{value} is not within {min}..{max}")));
        }
        Ok(value)
    }

    /// A refusal of this line.
    pub fn refuse(&self, reason: impl Into<String>) -> Fault {
        self.fault(reason)
    }

    /// A warning about this line.
    pub fn warn(&self, text: &str) -> String {
        warning(&self.loc, self.option, text)
    }
}

/// The `*.conf` files of an `include_dir`, in mosquitto's order: by name,
/// letters compared without case first, an upper case letter before the
/// same letter in lower case (`00.conf 01.conf A.conf a.conf B.conf`).
pub fn include_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| format!("cannot read {}: {error}", dir.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if name.len() > ".conf".len() && name.ends_with(".conf") {
            names.push(name.to_string());
        }
    }
    names.sort_by(|a, b| mosquitto_order(a, b));
    Ok(names.into_iter().map(|name| dir.join(name)).collect())
}

/// mosquitto's `scmp_p`: character by character, without case first, then
/// with case (upper before lower); a shorter name first.
fn mosquitto_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for (x, y) in a.iter().zip(b) {
        let order = x
            .to_ascii_uppercase()
            .cmp(&y.to_ascii_uppercase())
            .then(x.cmp(y));
        if order != std::cmp::Ordering::Equal {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Rc<Path> {
        Rc::from(Path::new("/etc/m.conf"))
    }

    #[test]
    fn comments_blanks_and_separators() {
        let text = "# comment\n\n  # indented comment\r\nport 1883\r\n\tlistener\t8883  0.0.0.0 # tls\npassword_file /a b/pw \n";
        let file = file();
        let all: Vec<Line<'_>> = lines(&file, text).collect();
        assert_eq!(all.len(), 3);
        assert_eq!(
            (all[0].option, all[0].rest, all[0].loc.line),
            ("port", "1883", 4)
        );
        assert_eq!(all[1].option, "listener");
        assert_eq!(all[1].words(), vec!["8883", "0.0.0.0"]);
        assert_eq!(all[2].text().unwrap(), "/a b/pw");
        assert_eq!(all[2].loc.to_string(), "/etc/m.conf:6");
    }

    #[test]
    fn values() {
        let file = file();
        let mut warnings = Vec::new();
        let text = "a true\nb 0\nc maybe\nd -1\ne 12x\nf\ng 5 extra\n";
        let all: Vec<Line<'_>> = lines(&file, text).collect();
        assert_eq!(all[0].bool(&mut warnings), Ok(true));
        assert_eq!(all[1].bool(&mut warnings), Ok(false));
        let fault = all[2].bool(&mut warnings).unwrap_err();
        assert_eq!(
            fault.to_string(),
            "/etc/m.conf:3: `c`: `maybe` is not true or false"
        );
        assert_eq!(all[3].int(&mut warnings), Ok(-1));
        assert_eq!(all[5].text().unwrap_err().reason, "needs a value");
        assert!(warnings.is_empty());
        // atoi's reading, with a warning.
        assert_eq!(all[4].int(&mut warnings), Ok(12));
        assert!(warnings.pop().unwrap().contains("`12x` read as 12"));
        assert!(all[2].int(&mut warnings).is_err());
        assert_eq!(all[6].int_in(0, 10, &mut warnings), Ok(5));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("line 7: `g`: `extra`"), "{warnings:?}");
        assert!(all[6].int_in(6, 10, &mut warnings).is_err());
    }

    #[test]
    fn include_order_is_mosquittos() {
        let mut names = vec!["b.conf", "A.conf", "01.conf", "a.conf", "B.conf", "00.conf"];
        names.sort_by(|a, b| mosquitto_order(a, b));
        assert_eq!(
            names,
            vec!["00.conf", "01.conf", "A.conf", "a.conf", "B.conf", "b.conf"]
        );
    }
}
