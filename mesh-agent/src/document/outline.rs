//! One YAML (or JSON) document read for its shape alone, with a parser that keeps positions:
//! where each field is written ([`Written`], for [`super::FieldSpots`]), and whether it stays
//! within its size once aliases are expanded ([`Expansion`]). Syntax errors come with their
//! line and column. The values themselves are read afterwards, from a document known to be
//! bounded.

use std::borrow::Cow;

use granit_parser::{Event, Marker, Parser};

use super::expansion::{Expansion, Size};
use super::spots::{Inner, Spot, Written};

/// Why a document has no outline: where and what.
#[derive(Debug, PartialEq)]
pub(crate) struct OutlineError {
    pub at: Spot,
    pub message: String,
}

/// A collection being read.
struct Open {
    at: Spot,
    anchor: usize,
    before: Size,
    inner: Inner,
    /// In a mapping, the key read and waiting for its value, with where it is written.
    key: Option<(String, Spot)>,
}

/// The outline of the first document of `text`, whose first line is line `first_line` of its
/// file; `None` for a document without content.
pub(crate) fn outline(text: &str, first_line: usize) -> Result<Option<Written>, OutlineError> {
    let spot = |mark: &Marker| Spot {
        line: mark.line() + first_line - 1,
        column: mark.col() + 1,
    };
    let too_large = |(at, message)| OutlineError { at, message };
    let mut size = Expansion::default();
    let mut stack: Vec<Open> = Vec::new();
    for next in Parser::new_from_str(text) {
        let (event, span) = next.map_err(|e| OutlineError {
            at: spot(e.marker()),
            message: e.info(),
        })?;
        let at = spot(&span.start);
        let done = match event {
            Event::Scalar(text, _, anchor, _) => {
                let before = size.node(text.len(), at).map_err(too_large)?;
                size.close(anchor, before);
                attach(&mut stack, leaf(at), Some(text))
            }
            Event::Alias(anchor) => {
                size.alias(anchor, at).map_err(too_large)?;
                attach(&mut stack, leaf(at), None)
            }
            Event::MappingStart(_, anchor, _) | Event::SequenceStart(_, anchor, _) => {
                let before = size.node(0, at).map_err(too_large)?;
                let inner = match event {
                    Event::MappingStart(..) => Inner::Fields(Vec::new()),
                    _ => Inner::Items(Vec::new()),
                };
                let key = None;
                stack.push(Open {
                    at,
                    anchor,
                    before,
                    inner,
                    key,
                });
                None
            }
            Event::MappingEnd | Event::SequenceEnd => match stack.pop() {
                Some(open) => {
                    size.close(open.anchor, open.before);
                    let node = Written {
                        at: open.at,
                        inner: open.inner,
                    };
                    attach(&mut stack, node, None)
                }
                None => None,
            },
            Event::DocumentEnd => return Ok(None),
            _ => None,
        };
        if done.is_some() {
            return Ok(done);
        }
    }
    Ok(None)
}

fn leaf(at: Spot) -> Written {
    Written {
        at,
        inner: Inner::Leaf,
    }
}

/// Puts a finished node into the collection being read; the node back when it is the root.
/// A scalar's `text` names it when it is a mapping key.
fn attach(stack: &mut [Open], node: Written, text: Option<Cow<'_, str>>) -> Option<Written> {
    let Some(open) = stack.last_mut() else {
        return Some(node);
    };
    match &mut open.inner {
        Inner::Items(items) => items.push(node),
        Inner::Fields(fields) => match open.key.take() {
            Some((key, at)) => fields.push((key, Written { at, ..node })),
            None => open.key = Some((text.map(Cow::into_owned).unwrap_or_default(), node.at)),
        },
        Inner::Leaf => {}
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::FieldSpots;
    use super::*;

    fn spots(text: &str) -> FieldSpots {
        FieldSpots::new(outline(text, 10).unwrap().unwrap())
    }

    #[test]
    fn fields_and_items_are_placed_where_written() {
        let found = spots("spec:\n  http:\n  - timeout: 2s\n    route: [{weight: 1}]\n");
        let place = |field: &str| found.locate(field).map(|s| (s.line, s.column));
        assert_eq!(place("spec.http"), Some((11, 3)));
        assert_eq!(place("spec.http[0].timeout"), Some((12, 5)));
        assert_eq!(place("spec.http[0].route[0].weight"), Some((13, 14)));
        assert_eq!(place("spec.http[0].retries.attempts"), Some((12, 5)));
    }

    #[test]
    fn json_is_placed_too() {
        let found = spots("{\"spec\": {\"hosts\": [\"a\",\n \"b\"]}}");
        let place = |field: &str| found.locate(field).map(|s| (s.line, s.column));
        assert_eq!(place("spec.hosts[1]"), Some((11, 2)));
    }

    #[test]
    fn a_syntax_error_has_its_line_and_column() {
        let error = outline("a: 1\nb: [x\n", 1).unwrap_err();
        assert_eq!((error.at.line, error.at.column), (2, 4), "{error:?}");
    }
}
