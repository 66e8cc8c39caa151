//! The link graph as text: component -> import -> target, as a tree from each root.

use std::fmt::Write as _;

use super::Graph;

impl Graph {
    /// The tree of links below component `root`, one `import -> target` per line.
    pub fn draw(&self, root: usize) -> String {
        let mut out = self.names[root].clone();
        out.push('\n');
        self.draw_below(root, "", &mut out);
        out
    }

    fn draw_below(&self, i: usize, indent: &str, out: &mut String) {
        let links = &self.links[i];
        for (k, r) in links.iter().enumerate() {
            let last = k + 1 == links.len();
            let (branch, next) = if last {
                ("└─ ", "   ")
            } else {
                ("├─ ", "│  ")
            };
            let _ = writeln!(
                out,
                "{indent}{branch}{} -> {} ({})",
                r.import, self.names[r.target], r.at
            );
            self.draw_below(r.target, &format!("{indent}{next}"), out);
        }
    }
}
