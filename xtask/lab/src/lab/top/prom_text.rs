//! Reading the agents' `/metrics` (Prometheus / OpenMetrics text): one [`Sample`] per line,
//! labels unescaped. Comments, `# EOF` and lines that do not parse are skipped.

use std::collections::BTreeMap;

/// One sample: series name, labels, value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    /// The value of label `key`, or `""`.
    pub fn label(&self, key: &str) -> &str {
        self.labels.get(key).map_or("", String::as_str)
    }
}

/// Every sample of `text`.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(sample)
        .collect()
}

/// `name{k="v",...} value [timestamp]` or `name value [timestamp]`.
fn sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let (labels, rest) = match line[name_end..].strip_prefix('{') {
        Some(inner) => labels(inner)?,
        None => (BTreeMap::new(), &line[name_end..]),
    };
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// Reads `k="v",...}` and returns the labels and what follows the `}`.
fn labels(mut rest: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let (key, after) = rest.split_once("=\"")?;
        let (value, after) = quoted(after)?;
        labels.insert(key.trim().to_string(), value);
        rest = after;
    }
}

/// An escaped label value up to its closing quote, and what follows it.
fn quoted(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => value.push('\n'),
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_parse_with_their_labels() {
        let text = "# HELP x y\n# TYPE x counter\n\
            istio_requests_total{reporter=\"source\",path=\"a\\\"b\\\\c\"} 12\n\
            mesh_enrolled_pods 3\n\
            le_bucket{le=\"+Inf\"} 7 1700000000\n\
            broken{a=\"b\n# EOF\n";
        let samples = parse(text);
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[0].name, "istio_requests_total");
        assert_eq!(samples[0].label("reporter"), "source");
        assert_eq!(samples[0].label("path"), "a\"b\\c");
        assert_eq!(samples[0].value, 12.0);
        assert_eq!(
            (samples[1].name.as_str(), samples[1].value),
            ("mesh_enrolled_pods", 3.0)
        );
        assert_eq!(samples[2].label("le"), "+Inf");
        assert_eq!(samples[2].label("missing"), "");
    }
}
