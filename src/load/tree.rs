//! The YAML document as a tree of nodes, each with its line and column, read from the parser's
//! events. The shape check walks it to find every structural mistake of a file at once, and
//! reading it is where explicit tags (`!!binary`, `!!str`, `!custom`) are refused.

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span};

use crate::model::Pos;

/// Deeper documents are not turned into a tree; the typed parse reports them.
const MAX_DEPTH: usize = 64;

/// More nodes than this (aliases can multiply them) are not turned into a tree either.
const MAX_NODES: usize = 200_000;

/// One YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar and whether it was written plain (unquoted, so `1` and `true` are not text).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key: its text and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

/// An explicit tag in the document, which the format does not accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagUse {
    pub pos: Pos,
    pub tag: String,
}

/// What reading the events gave: the tree (when the document is a plain, small enough YAML
/// document) and every explicit tag met on the way.
#[derive(Debug, Default)]
pub struct Reading {
    pub tree: Option<Node>,
    pub tags: Vec<TagUse>,
}

fn pos_of(span: &Span) -> Pos {
    let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Pos::new(
        clamp(span.start.line()),
        clamp(span.start.col()).saturating_add(1),
    )
}

/// A collection being built.
enum Open {
    Seq(Pos, Vec<Node>),
    /// The entries so far, and a key waiting for its value.
    Map(Pos, Vec<(Key, Node)>, Option<Key>),
}

/// Reads the first document of `text`. Never fails: a document the parser refuses, or one too
/// deep or too big, has no tree (the typed parse says why).
pub fn read(text: &str) -> Reading {
    let mut reading = Reading::default();
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: std::collections::HashMap<usize, Node> = std::collections::HashMap::new();
    // Which anchor each open collection defines, to record it when it closes.
    let mut open_anchors: Vec<usize> = Vec::new();
    let mut nodes = 0usize;
    let mut root = None;
    let mut usable = true;
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else {
            usable = false;
            break;
        };
        let pos = pos_of(&span);
        let tag = match &event {
            Event::Scalar(_, _, _, tag)
            | Event::SequenceStart(_, _, tag)
            | Event::MappingStart(_, _, tag) => tag.as_ref(),
            _ => None,
        };
        if let Some(tag) = tag {
            reading.tags.push(TagUse {
                pos,
                tag: format!("{}{}", tag.original_handle(), tag.suffix()),
            });
        }
        let finished = match event {
            Event::DocumentEnd => break,
            Event::Scalar(value, style, anchor, _) => {
                let node = Node {
                    pos,
                    kind: NodeKind::Scalar {
                        text: value.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                };
                if anchor != 0 {
                    anchors.insert(anchor, node.clone());
                }
                Some(node)
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(node) => {
                    nodes = nodes.saturating_add(count(node));
                    Some(Node {
                        pos,
                        kind: node.kind.clone(),
                    })
                }
                None => {
                    usable = false;
                    break;
                }
            },
            Event::SequenceStart(_, anchor, _) => {
                stack.push(Open::Seq(pos, Vec::new()));
                open_anchors.push(anchor);
                None
            }
            Event::MappingStart(_, anchor, _) => {
                stack.push(Open::Map(pos, Vec::new(), None));
                open_anchors.push(anchor);
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match stack.pop() {
                    Some(Open::Seq(pos, items)) => Node {
                        pos,
                        kind: NodeKind::Seq(items),
                    },
                    Some(Open::Map(pos, entries, _)) => Node {
                        pos,
                        kind: NodeKind::Map(entries),
                    },
                    None => {
                        usable = false;
                        break;
                    }
                };
                let anchor = open_anchors.pop().unwrap_or(0);
                if anchor != 0 {
                    anchors.insert(anchor, node.clone());
                }
                Some(node)
            }
            _ => None,
        };
        if stack.len() > MAX_DEPTH {
            usable = false;
            break;
        }
        let Some(node) = finished else { continue };
        nodes += 1;
        if nodes > MAX_NODES {
            usable = false;
            break;
        }
        match stack.last_mut() {
            None => {
                root = Some(node);
            }
            Some(Open::Seq(_, items)) => items.push(node),
            Some(Open::Map(_, entries, pending)) => match pending.take() {
                Some(key) => entries.push((key, node)),
                None => {
                    *pending = Some(Key {
                        name: key_text(&node),
                        pos: node.pos,
                    });
                }
            },
        }
    }
    if usable && stack.is_empty() {
        reading.tree = root;
    }
    reading
}

/// A key as text: a scalar as written, anything else as a placeholder no schema allows.
fn key_text(node: &Node) -> String {
    match &node.kind {
        NodeKind::Scalar { text, .. } => text.clone(),
        NodeKind::Seq(_) => "[…]".into(),
        NodeKind::Map(_) => "{…}".into(),
    }
}

fn count(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Scalar { .. } => 1,
        NodeKind::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        NodeKind::Map(entries) => 1 + entries.iter().map(|(_, n)| count(n)).sum::<usize>(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_keep_their_positions() {
        let reading = read("a: 1\nb:\n  - x\n  - 'y'\n");
        let Some(Node {
            kind: NodeKind::Map(entries),
            ..
        }) = reading.tree
        else {
            panic!("a mapping")
        };
        assert_eq!(entries[0].0.name, "a");
        assert_eq!(entries[0].0.pos, Pos::new(1, 1));
        assert_eq!(entries[0].1.pos, Pos::new(1, 4));
        assert_eq!(entries[1].0.pos, Pos::new(2, 1));
        let NodeKind::Seq(items) = &entries[1].1.kind else {
            panic!("a list")
        };
        assert_eq!(items[1].pos, Pos::new(4, 5));
        assert!(matches!(
            &items[1].kind,
            NodeKind::Scalar { plain: false, .. }
        ));
        assert!(reading.tags.is_empty());
    }

    #[test]
    fn explicit_tags_are_found_where_they_are() {
        let reading = read("a: !!binary aGVsbG8=\nb: !custom x\nc: !!str 1\n");
        let tags: Vec<(String, Pos)> = reading.tags.into_iter().map(|t| (t.tag, t.pos)).collect();
        assert_eq!(tags.len(), 3, "{tags:?}");
        assert_eq!(tags[0].0, "!!binary");
        assert_eq!(tags[0].1.line, 1);
        assert_eq!(tags[1].0, "!custom");
        assert_eq!(tags[2].1.line, 3);
    }

    #[test]
    fn broken_deep_or_huge_documents_have_no_tree() {
        assert!(read("a: [1, 2").tree.is_none());
        assert!(read(&"[".repeat(10_000)).tree.is_none());
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
        assert!(read(bomb).tree.is_none());
    }
}
