//! The flow chart of a runbook's steps drawn as inline SVG, for the HTML page: no script, no
//! font, nothing fetched. The edges are [`crate::flow::edges`], the same the executor, lint and
//! the Mermaid chart follow.
//!
//! The layout is a layered one of our own: the steps stay in a single column in the order they
//! are written and numbered (the order a reader follows, and the order a run takes unless a step
//! says otherwise), so an arrow to the step below is a short vertical line; every other edge runs
//! in a lane of its own beside the column — jumps forward on the right, back on the left — and
//! lanes are shared only by edges whose spans do not overlap, so no two lines run on top of each
//! other. General graph layout (a crate such as `layout-rs`) reorders the steps to cut
//! crossings, which breaks the link between a box and its number.
//!
//! Colours come from CSS classes (`flow-*`) of the page, so the chart follows its light and dark
//! schemes; each box links to its step's anchor `#step-ID`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::flow::{EdgeKind, Target, edges};
use crate::model::{Sp, Step, StepKind};

use super::html::escape;

const NODE_W: i32 = 300;
const GAP: i32 = 34;
const LANE_W: i32 = 18;
const MARGIN: i32 = 8;
const LINE_H: i32 = 18;
/// Characters of a label per line inside a box, at the page's font size.
const LABEL_CHARS: usize = 34;
/// Width of a character of an edge label, generously.
const CHAR_W: i32 = 7;
/// Least room between two lines leaving or entering the same side of a box.
const PORT_GAP: i32 = 16;
/// Characters of an edge label; the whole label is in its tooltip and in the step's text.
const EDGE_LABEL_CHARS: usize = 32;
/// Half the width of the end box.
const END_HALF_W: i32 = 40;

/// A box of the column: a step, or the end of the run.
struct Node {
    y: i32,
    h: i32,
}

/// Edges between the same two places, drawn as one line with their labels joined.
struct Line {
    from: usize,
    to: usize,
    /// `then`, `fail` or `skip`: the strongest kind among the edges, for the style.
    class: &'static str,
    label: String,
}

/// The whole `<svg>` element.
pub fn flow_svg(steps: &[Sp<Step>]) -> String {
    let edges = edges(steps);
    let has_end = edges.iter().any(|e| e.to == Target::End);
    let count = steps.len() + usize::from(has_end);

    // Lines: edges grouped by (from, to), in the order flow gives them.
    let mut grouped: BTreeMap<(usize, usize), Vec<&EdgeKind>> = BTreeMap::new();
    let mut order = Vec::new();
    for edge in &edges {
        let to = match edge.to {
            Target::Step(index) => index,
            Target::End => steps.len(),
        };
        let key = (edge.from, to);
        if !grouped.contains_key(&key) {
            order.push(key);
        }
        grouped.entry(key).or_default().push(&edge.kind);
    }
    let lines: Vec<Line> = order
        .iter()
        .map(|key| {
            let kinds = &grouped[key];
            let rank = |kind: &EdgeKind| match kind {
                EdgeKind::Then | EdgeKind::Choice(_) => 0,
                EdgeKind::OnFailure => 1,
                EdgeKind::Skip => 2,
            };
            let strongest = kinds.iter().map(|k| rank(k)).min().unwrap_or(0);
            let labels: Vec<String> = kinds
                .iter()
                .filter_map(|kind| match kind {
                    EdgeKind::Then => None,
                    EdgeKind::Choice(label) => Some(format!("“{label}”")),
                    EdgeKind::Skip => Some("if skipped".to_string()),
                    EdgeKind::OnFailure => Some("on failure".to_string()),
                })
                .collect();
            Line {
                from: key.0,
                to: key.1,
                class: ["then", "fail", "skip"][strongest],
                label: labels.join(" / "),
            }
        })
        .collect();

    // Lanes: a line to the box right below runs down the middle; the others get a lane.
    let side_lines: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].to != lines[i].from + 1)
        .collect();
    let mut lane_of: BTreeMap<usize, (bool, i32)> = BTreeMap::new();
    for right in [true, false] {
        let mut on_side: Vec<usize> = side_lines
            .iter()
            .copied()
            .filter(|&i| (lines[i].to > lines[i].from) == right)
            .collect();
        on_side.sort_by_key(|&i| lines[i].to.abs_diff(lines[i].from));
        let mut lanes: Vec<Vec<(usize, usize)>> = Vec::new();
        for i in on_side {
            let span = (
                lines[i].from.min(lines[i].to),
                lines[i].from.max(lines[i].to),
            );
            let free = lanes
                .iter()
                .position(|taken| taken.iter().all(|t| span.1 < t.0 || t.1 < span.0));
            let lane = free.unwrap_or_else(|| {
                lanes.push(Vec::new());
                lanes.len() - 1
            });
            lanes[lane].push(span);
            lane_of.insert(i, (right, lane as i32));
        }
    }
    let lanes_on = |right: bool| {
        lane_of
            .values()
            .filter(|(r, _)| *r == right)
            .map(|(_, lane)| lane + 1)
            .max()
            .unwrap_or(0)
    };
    let label_w = |right: bool| {
        side_lines
            .iter()
            .filter(|i| lane_of[i].0 == right)
            .map(|&i| text_width(&short(&lines[i].label)))
            .max()
            .unwrap_or(0)
    };
    let left_room = (lanes_on(false) * LANE_W).max(label_w(false) + 6);
    let right_room = (lanes_on(true) * LANE_W).max(label_w(true) + 6);
    let node_x = MARGIN + left_room;
    let center = node_x + NODE_W / 2;
    let width = node_x + NODE_W + right_room + MARGIN;

    // Where lines leave and enter the sides of each box, spread out along its height: lines
    // that enter first (from above), then lines that leave, nearest lanes outermost.
    let mut ports: BTreeMap<(usize, bool), Vec<(usize, bool)>> = BTreeMap::new();
    for &i in &side_lines {
        let right = lane_of[&i].0;
        ports
            .entry((lines[i].from, right))
            .or_default()
            .push((i, true));
        ports
            .entry((lines[i].to, right))
            .or_default()
            .push((i, false));
    }
    for ((node, _), at) in ports.iter_mut() {
        // Lines from above come in at the top (inner lanes higher), lines going down leave at
        // the bottom (outer lanes higher), so that no line crosses another at a box.
        let above = |&(line, leaving): &(usize, bool)| {
            let other = if leaving {
                lines[line].to
            } else {
                lines[line].from
            };
            let lane = lane_of[&line].1;
            if other < *node {
                (0, lane)
            } else if other == *node {
                (1, 0)
            } else {
                (2, -lane)
            }
        };
        at.sort_by_key(above);
    }
    let ports_on = |node: usize| {
        [true, false]
            .iter()
            .map(|&right| ports.get(&(node, right)).map_or(0, Vec::len) as i32)
            .max()
            .unwrap_or(0)
    };

    // Boxes, top to bottom, tall enough for their wrapped labels and their ports.
    let labels: Vec<Vec<String>> = steps
        .iter()
        .enumerate()
        .map(|(i, step)| wrap(&format!("{}. {}", i + 1, step.name.value)))
        .collect();
    let mut nodes = Vec::with_capacity(count);
    let mut y = MARGIN;
    for index in 0..count {
        let h = match labels.get(index) {
            Some(lines) => 22 + LINE_H * lines.len() as i32,
            None => 30,
        };
        let h = h.max((ports_on(index) + 1) * PORT_GAP);
        nodes.push(Node { y, h });
        y += h + GAP;
    }
    let height = y - GAP + MARGIN;
    let port_y = |node: usize, right: bool, line: usize, leaving: bool| {
        let at = &ports[&(node, right)];
        let k = at.iter().position(|p| *p == (line, leaving)).unwrap_or(0) as i32;
        let n = &nodes[node];
        n.y + n.h * (k + 1) / (at.len() as i32 + 1)
    };

    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="flow" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="Flow chart of the steps">"#
    );
    out.push_str(concat!(
        "<defs>",
        r#"<marker id="flow-arrow" class="flow-head then" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z"/></marker>"#,
        r#"<marker id="flow-arrow-fail" class="flow-head fail" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z"/></marker>"#,
        r#"<marker id="flow-arrow-skip" class="flow-head skip" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z"/></marker>"#,
        "</defs>",
    ));

    // Lines first, so that boxes and labels sit on top.
    let mut texts = String::new();
    for (i, line) in lines.iter().enumerate() {
        let marker = match line.class {
            "fail" => "flow-arrow-fail",
            "skip" => "flow-arrow-skip",
            _ => "flow-arrow",
        };
        let (from, to) = (&nodes[line.from], &nodes[line.to]);
        let path = match lane_of.get(&i) {
            None => {
                let (y1, y2) = (from.y + from.h, to.y);
                if !line.label.is_empty() {
                    let _ = write!(
                        texts,
                        r#"<text class="flow-label {class}" x="{x}" y="{y}"><title>{label}</title>{short}</text>"#,
                        class = line.class,
                        x = center + 6,
                        y = (y1 + y2) / 2 + 4,
                        label = escape(&line.label),
                        short = escape(&short(&line.label)),
                    );
                }
                format!("M{center},{y1} V{y2}")
            }
            Some(&(right, lane)) => {
                // The side of a box; the end box is narrower.
                let side = |node: usize| {
                    let half = if node < steps.len() {
                        NODE_W / 2
                    } else {
                        END_HALF_W
                    };
                    if right { center + half } else { center - half }
                };
                let lane_x = if right {
                    node_x + NODE_W + (lane + 1) * LANE_W
                } else {
                    node_x - (lane + 1) * LANE_W
                };
                let (x1, x2) = (side(line.from), side(line.to));
                let y1 = port_y(line.from, right, i, true);
                let y2 = port_y(line.to, right, i, false);
                if !line.label.is_empty() {
                    let (x, anchor) = if right {
                        (x1 + 4, "start")
                    } else {
                        (x1 - 4, "end")
                    };
                    let _ = write!(
                        texts,
                        r#"<text class="flow-label {class}" x="{x}" y="{y}" text-anchor="{anchor}"><title>{label}</title>{short}</text>"#,
                        class = line.class,
                        y = y1 - 3,
                        label = escape(&line.label),
                        short = escape(&short(&line.label)),
                    );
                }
                format!("M{x1},{y1} H{lane_x} V{y2} H{x2}")
            }
        };
        let _ = write!(
            out,
            r#"<path class="flow-edge {class}" d="{path}" marker-end="url(#{marker})"/>"#,
            class = line.class,
        );
    }

    for (index, node) in nodes.iter().enumerate() {
        let Some(step) = steps.get(index) else {
            // The end of the run.
            let _ = write!(
                out,
                r#"<g class="flow-node end"><rect x="{x}" y="{y}" width="{w}" height="{h}" rx="15"/><text x="{cx}" y="{ty}" text-anchor="middle">end</text></g>"#,
                x = center - END_HALF_W,
                w = 2 * END_HALF_W,
                y = node.y,
                h = node.h,
                cx = center,
                ty = node.y + node.h / 2 + 5,
            );
            continue;
        };
        let kind = step.kind();
        let (x, y, w, h) = (node_x, node.y, NODE_W, node.h);
        let shape = match kind {
            StepKind::Ask => format!(
                r#"<polygon points="{},{} {},{} {},{} {},{} {},{} {},{}"/>"#,
                x + 12,
                y,
                x + w - 12,
                y,
                x + w,
                y + h / 2,
                x + w - 12,
                y + h,
                x + 12,
                y + h,
                x,
                y + h / 2
            ),
            StepKind::Wait => format!(
                r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{r}"/>"#,
                r = h / 2
            ),
            StepKind::Uses => format!(
                r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="4"/><rect class="inner" x="{}" y="{y}" width="{}" height="{h}"/>"#,
                x + 8,
                w - 16
            ),
            StepKind::Manual | StepKind::Check | StepKind::Action => {
                format!(r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6"/>"#)
            }
        };
        let inset = match kind {
            StepKind::Ask | StepKind::Wait => 22,
            StepKind::Uses => 16,
            _ => 10,
        };
        let mut text = format!(
            r#"<text class="kind" x="{}" y="{}">{}</text>"#,
            x + inset,
            y + 15,
            kind.as_str()
        );
        for (n, label) in labels[index].iter().enumerate() {
            let _ = write!(
                text,
                r#"<text class="name" x="{}" y="{}">{}</text>"#,
                x + inset,
                y + 17 + LINE_H * (n as i32 + 1),
                escape(label)
            );
        }
        let _ = write!(
            out,
            r##"<a href="#step-{id}"><g class="flow-node {kind}"><title>{number}. {name} ({kind_word} step {id})</title>{shape}{text}</g></a>"##,
            id = escape(&step.id.value),
            kind = kind_class(kind),
            kind_word = kind.as_str(),
            number = index + 1,
            name = escape(&step.name.value),
        );
    }
    out.push_str(&texts);
    out.push_str("</svg>");
    out
}

fn kind_class(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Manual => "manual",
        StepKind::Check => "check",
        StepKind::Action => "action",
        StepKind::Ask => "ask",
        StepKind::Wait => "wait",
        StepKind::Uses => "uses",
    }
}

/// A label on at most two lines of [`LABEL_CHARS`], broken between words; what does not fit
/// ends with `…` (the box's tooltip holds the whole name).
fn wrap(label: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in label.split_whitespace() {
        let len = current.chars().count();
        if len > 0 && len + 1 + word.chars().count() > LABEL_CHARS {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    lines.push(current);
    if lines.len() > 2 {
        lines.truncate(2);
        lines[1].push_str(" …");
    }
    for line in &mut lines {
        if line.chars().count() > LABEL_CHARS + 2 {
            *line = line.chars().take(LABEL_CHARS).collect::<String>() + "…";
        }
    }
    lines
}

/// An edge label cut to [`EDGE_LABEL_CHARS`].
fn short(label: &str) -> String {
    if label.chars().count() <= EDGE_LABEL_CHARS {
        return label.to_string();
    }
    let cut: String = label.chars().take(EDGE_LABEL_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

fn text_width(text: &str) -> i32 {
    text.chars().count() as i32 * CHAR_W
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(yaml: &str) -> Vec<Sp<Step>> {
        serde_saphyr::from_str(yaml).expect("test steps are valid YAML")
    }

    #[test]
    fn a_box_per_step_linked_to_its_anchor_and_an_end() {
        let svg = flow_svg(&steps("[{id: a, name: A}, {id: b, name: 'B <x>'}]"));
        assert!(svg.starts_with("<svg class=\"flow\""), "{svg}");
        assert!(svg.contains(r##"<a href="#step-a">"##), "{svg}");
        assert!(svg.contains(r##"<a href="#step-b">"##), "{svg}");
        assert!(svg.contains("2. B &lt;x&gt;"), "{svg}");
        assert!(svg.contains(">end</text>"), "{svg}");
        assert_eq!(svg.matches("class=\"flow-edge").count(), 2, "{svg}");
        assert!(!svg.contains("<script") && !svg.contains("http"), "{svg}");
    }

    #[test]
    fn jumps_get_lanes_that_do_not_overlap() {
        // a → c skips b (right lane), c → a goes back (left lane), a fails to c too.
        let svg = flow_svg(&steps(
            "[{id: a, name: A, next: c, on_failure: c}, {id: b, name: B}, {id: c, name: C, next: a}]",
        ));
        assert!(svg.contains("“") || svg.contains("on failure"), "{svg}");
        // One line for the two edges a → c, labelled with the failure.
        assert_eq!(svg.matches(">on failure</text>").count(), 1, "{svg}");
        let paths: Vec<&str> = svg
            .match_indices(" d=\"M")
            .map(|(at, _)| &svg[at + 4..at + 4 + svg[at + 4..].find('"').unwrap()])
            .collect();
        // a→c, b→c, c→a: two side lines with distinct vertical x.
        let side: Vec<&&str> = paths.iter().filter(|p| p.contains(" H")).collect();
        assert_eq!(side.len(), 2, "{paths:?}");
        assert_ne!(side[0], side[1]);
    }

    #[test]
    fn long_names_wrap_on_two_lines() {
        assert_eq!(wrap("1. Short"), ["1. Short"]);
        let lines = wrap(&"word ".repeat(30));
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'));
        assert!(lines.iter().all(|l| l.chars().count() <= LABEL_CHARS + 2));
    }
}
