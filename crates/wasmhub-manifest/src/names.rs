//! Validated names: component names and routes.

use std::fmt;

/// A component's name: lowercase letters, digits and `-`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct ComponentName(String);

impl TryFrom<String> for ComponentName {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let ok = s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.ends_with('-');
        if ok {
            Ok(Self(s))
        } else {
            Err(format!(
                "invalid component name `{s}`: use lowercase letters, digits and `-`, starting with a letter (like `cart` or `price-v2`)"
            ))
        }
    }
}

impl ComponentName {
    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ComponentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A route: an exact path (`/hello`) or a prefix (`/cart/...`, `/...` for everything);
/// a `:name` segment (`/users/:id`) matches any one segment, as in Spin.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Route {
    /// The path, without the trailing `/...`; empty for `/...`.
    path: String,
    /// Whether the route matches everything below `path`.
    prefix: bool,
}

impl TryFrom<String> for Route {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        let bad = |why: &str| {
            Err(format!(
                "invalid route `{s}`: {why}; write an exact path like \"/hello\" or a prefix like \"/cart/...\""
            ))
        };
        if !s.starts_with('/') {
            return bad("a route starts with `/`");
        }
        let (path, prefix) = match s.strip_suffix("/...") {
            Some(p) => (p.to_owned(), true),
            None => (s.clone(), false),
        };
        if path.contains("...") || path.contains(['*', '?', '#', ' ']) {
            return bad(
                "only a trailing `/...` is a wildcard, and `*`, `?`, `#` and spaces are not allowed",
            );
        }
        if path.contains("//") || (path.len() > 1 && path.ends_with('/')) {
            return bad("no empty segments or trailing `/`");
        }
        let param_ok = |seg: &str| {
            seg.strip_prefix(':').is_none_or(|name| {
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
        };
        if !path.split('/').all(param_ok) {
            return bad(
                "a `:name` segment is `:` and letters, digits, `_` or `-`, alone in its segment",
            );
        }
        Ok(Self { path, prefix })
    }
}

impl Route {
    /// The route that matches every path.
    pub fn everything() -> Self {
        Self {
            path: String::new(),
            prefix: true,
        }
    }

    /// Whether `path` (a request path, without query) is served by this route.
    pub fn matches(&self, path: &str) -> bool {
        if self.has_params() {
            return self.params(path).is_some();
        }
        if self.prefix {
            path == self.path
                || (path.starts_with(&self.path) && path[self.path.len()..].starts_with('/'))
                || (self.path.is_empty() && path.starts_with('/'))
        } else {
            path == self.path
        }
    }

    /// Orders matches: longer paths first, then exact before prefix.
    pub fn specificity(&self) -> (usize, bool) {
        (self.path.len(), !self.prefix)
    }

    /// Whether the route has `:name` segments.
    pub fn has_params(&self) -> bool {
        self.path.split('/').any(|s| s.starts_with(':'))
    }

    /// The `:name` segments' values if `path` matches (empty for a route without any);
    /// `None` if it does not match.
    pub fn params(&self, path: &str) -> Option<Vec<(String, String)>> {
        if !self.has_params() {
            return self.matches(path).then(Vec::new);
        }
        let mut want = self.path.split('/');
        let mut got = path.split('/');
        let mut out = Vec::new();
        for w in want.by_ref() {
            let g = got.next()?;
            match w.strip_prefix(':') {
                Some(name) if !g.is_empty() => out.push((name.to_owned(), g.to_owned())),
                Some(_) => return None,
                None if w == g => {}
                None => return None,
            }
        }
        let rest: Vec<&str> = got.collect();
        (rest.is_empty() || self.prefix).then_some(out)
    }

    /// The part of `path` past the route's own segments (`/a/b` of `/x/...` for `/x/a/b`);
    /// empty for an exact route.
    pub fn trailing<'p>(&self, path: &'p str) -> &'p str {
        if !self.prefix {
            return "";
        }
        let n = self.path.split('/').count();
        let mut idx = 0;
        for (i, _) in path.match_indices('/').chain([(path.len(), "")]) {
            idx = i;
            if path[..i].split('/').count() >= n {
                break;
            }
        }
        if self.path.is_empty() {
            path
        } else {
            &path[idx..]
        }
    }

    /// The route without its trailing wildcard (`/cart` of `/cart/...`).
    pub fn base(&self) -> &str {
        &self.path
    }

    /// Whether it matches everything below its path.
    pub fn is_prefix(&self) -> bool {
        self.prefix
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix {
            write!(f, "{}/...", self.path)
        } else {
            f.write_str(&self.path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(s: &str) -> Route {
        Route::try_from(s.to_owned()).unwrap()
    }

    #[test]
    fn routes_match() {
        let cart = route("/cart/...");
        assert!(cart.matches("/cart"));
        assert!(cart.matches("/cart/items/1"));
        assert!(!cart.matches("/cartography"));
        let all = route("/...");
        assert!(all.matches("/"));
        assert!(all.matches("/anything/at/all"));
        let exact = route("/hello");
        assert!(exact.matches("/hello"));
        assert!(!exact.matches("/hello/x"));
        assert!(route("/cart/items").specificity() > cart.specificity());
        assert!(route("/cart").specificity() > cart.specificity());
        assert_eq!(all.to_string(), "/...");
        assert_eq!(cart.to_string(), "/cart/...");
    }

    #[test]
    fn param_routes_match_one_segment() {
        let user = route("/users/:id");
        assert!(user.matches("/users/7"));
        assert!(!user.matches("/users"));
        assert!(!user.matches("/users/7/x"));
        assert_eq!(
            user.params("/users/7"),
            Some(vec![("id".into(), "7".into())])
        );
        let files = route("/u/:who/files/...");
        assert_eq!(
            files.params("/u/ann/files/a/b"),
            Some(vec![("who".into(), "ann".into())])
        );
        assert_eq!(files.trailing("/u/ann/files/a/b"), "/a/b");
        assert_eq!(route("/cart/...").trailing("/cart"), "");
        assert_eq!(route("/...").trailing("/x/y"), "/x/y");
        assert!(Route::try_from("/a/:".to_owned()).is_err());
        assert!(Route::try_from("/a/x:y".to_owned()).is_ok());
    }

    #[test]
    fn bad_routes_and_names() {
        for bad in ["cart", "/cart/*", "/a//b", "/a/", "/a/.../b"] {
            assert!(Route::try_from(bad.to_owned()).is_err(), "{bad}");
        }
        for bad in ["Cart", "1cart", "cart_x", "cart-", ""] {
            assert!(ComponentName::try_from(bad.to_owned()).is_err(), "{bad}");
        }
        assert!(ComponentName::try_from("price-v2".to_owned()).is_ok());
    }
}
