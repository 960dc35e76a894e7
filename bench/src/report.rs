//! One result line per run, as `key=value` text or as a JSON object.

use crate::histogram::Histogram;

/// A value in a report.
pub enum Val {
    /// Integer.
    I(u64),
    /// Floating point number (printed with a sensible precision).
    F(f64),
    /// String.
    S(String),
}

/// The ordered fields of one run's result.
pub struct Report {
    fields: Vec<(&'static str, Val)>,
}

impl Report {
    /// Starts a report for `scenario` run against the broker labelled `label`.
    pub fn new(scenario: &str, label: &str) -> Report {
        let mut r = Report { fields: Vec::new() };
        r.text("scenario", scenario);
        r.text("label", label);
        r
    }

    /// Adds an integer field.
    pub fn int(&mut self, k: &'static str, v: u64) -> &mut Self {
        self.fields.push((k, Val::I(v)));
        self
    }

    /// Adds a floating point field.
    pub fn float(&mut self, k: &'static str, v: f64) -> &mut Self {
        self.fields.push((k, Val::F(v)));
        self
    }

    /// Adds a string field.
    pub fn text(&mut self, k: &'static str, v: &str) -> &mut Self {
        self.fields.push((k, Val::S(v.to_string())));
        self
    }

    /// Adds `p50_us`, `p99_us`, `p999_us`, `mean_us` and `max_us` from a
    /// histogram of nanoseconds.
    pub fn latency(&mut self, h: &Histogram) -> &mut Self {
        let us = |ns: u64| ns as f64 / 1000.0;
        self.float("p50_us", us(h.quantile(0.5)))
            .float("p99_us", us(h.quantile(0.99)))
            .float("p999_us", us(h.quantile(0.999)))
            .float("mean_us", h.mean() / 1000.0)
            .float("max_us", us(h.max()))
    }

    /// Renders the report as one line of text or JSON.
    pub fn render(&self, json: bool) -> String {
        let mut s = String::new();
        if json {
            s.push('{');
        }
        for (i, (k, v)) in self.fields.iter().enumerate() {
            let val = match v {
                Val::I(n) => n.to_string(),
                Val::F(f) if !f.is_finite() => "null".to_string(),
                Val::F(f) => fmt_float(*f),
                Val::S(t) if json => json_str(t),
                Val::S(t) => t.clone(),
            };
            if json {
                if i > 0 {
                    s.push(',');
                }
                s.push_str(&json_str(k));
                s.push(':');
                s.push_str(&val);
            } else if i == 0 {
                s.push_str(&val);
            } else {
                s.push(' ');
                s.push_str(k);
                s.push('=');
                s.push_str(&val);
            }
        }
        if json {
            s.push('}');
        }
        s
    }
}

fn fmt_float(f: f64) -> String {
    let a = f.abs();
    if a >= 1000.0 {
        format!("{f:.0}")
    } else if a >= 10.0 {
        format!("{f:.1}")
    } else if a >= 0.01 || a == 0.0 {
        format!("{f:.3}")
    } else {
        format!("{f:.3e}")
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_forms() {
        let mut r = Report::new("fanin", "mo\"sq");
        r.int("sent", 5)
            .float("msg_per_s", 12345.6)
            .float("s", 0.000312);
        assert_eq!(
            r.render(false),
            "fanin label=mo\"sq sent=5 msg_per_s=12346 s=3.120e-4"
        );
        assert_eq!(
            r.render(true),
            r#"{"scenario":"fanin","label":"mo\"sq","sent":5,"msg_per_s":12346,"s":3.120e-4}"#
        );
    }
}
