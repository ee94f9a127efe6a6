//! The depth and complexity limits of docs/api.md §5, over latch's own types only.
//!
//! async-graphql's own limits count every field, introspection included, so the
//! standard introspection query of graphql-js, graphql-core and GraphiQL (nine nested
//! `ofType` levels in its `TypeRef` fragment) was refused as too deep, and no tool
//! could learn the schema. This extension measures the parsed document instead: each
//! selected field counts 1 toward complexity (aliases included, fragments expanded
//! where they are spread) and one level toward depth, except `__schema`, `__type` and
//! everything below them, which count toward neither. [`check`] runs right after
//! parsing, so a refused document is refused before validation and before anything runs.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult};

/// Deepest nesting of fields allowed.
pub const MAX_DEPTH: u32 = 12;
/// Most fields one operation may select.
pub const MAX_COMPLEXITY: u32 = 400;
/// Introspection has limits of its own, or a few fragments that spread each other
/// under `__type { fields { type { … } } }` would select billions of fields while
/// counting toward neither limit above: at most this many list levels among
/// `fields`, `inputFields`, `interfaces` and `possibleTypes` (graphql-js 16.9's
/// `MaxIntrospectionDepthRule` allows fewer than 3)…
pub const MAX_INTROSPECTION_LISTS: u32 = 2;
/// …and at most this many fields below `__schema` and `__type` in all (the standard
/// introspection queries select well under a thousand).
pub const MAX_INTROSPECTION_FIELDS: u32 = 5000;

/// Depth and complexity of a selection set (the deepest and the largest operation of
/// a document), and of its introspection part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measure {
    pub depth: u32,
    pub complexity: u32,
    /// Fields below `__schema` and `__type`, fragments expanded.
    pub introspection_fields: u32,
    /// Most nested list levels (`fields`, `inputFields`, `interfaces`,
    /// `possibleTypes`) below `__schema` and `__type`.
    pub introspection_lists: u32,
}

/// Measures every operation of `doc`; the result is the largest of each figure.
pub fn measure(doc: &ExecutableDocument) -> Measure {
    let mut walk = Walk {
        doc,
        fragments: HashMap::new(),
    };
    let mut out = Measure::default();
    for (_, op) in doc.operations.iter() {
        let m = walk.selection_set(&op.node.selection_set.node, false);
        out.depth = out.depth.max(m.depth);
        out.complexity = out.complexity.max(m.complexity);
        out.introspection_fields = out.introspection_fields.max(m.introspection_fields);
        out.introspection_lists = out.introspection_lists.max(m.introspection_lists);
    }
    out
}

struct Walk<'a> {
    doc: &'a ExecutableDocument,
    /// Each fragment measured once per context (outside or inside introspection; its
    /// figures do not depend on where else it is spread); `None` while it is being
    /// measured, so a cycle (refused by validation anyway) ends instead of recursing.
    fragments: HashMap<(&'a str, bool), Option<Measure>>,
}

/// The list fields of the introspection types that multiply what a query selects.
fn introspection_list(name: &str) -> bool {
    matches!(
        name,
        "fields" | "inputFields" | "interfaces" | "possibleTypes"
    )
}

impl<'a> Walk<'a> {
    /// Measures `set`; `inside` is true below `__schema` or `__type`, where fields
    /// count toward the introspection figures instead of depth and complexity.
    fn selection_set(&mut self, set: &'a SelectionSet, inside: bool) -> Measure {
        let mut out = Measure::default();
        for item in &set.items {
            let m = match &item.node {
                Selection::Field(f) => {
                    let name = f.node.name.node.as_str();
                    let enters = !inside && (name == "__schema" || name == "__type");
                    let inner = self.selection_set(&f.node.selection_set.node, inside || enters);
                    if inside || enters {
                        let list = u32::from(inside && introspection_list(name));
                        Measure {
                            introspection_fields: inner
                                .introspection_fields
                                .saturating_add(u32::from(inside)),
                            introspection_lists: inner.introspection_lists.saturating_add(list),
                            ..Measure::default()
                        }
                    } else {
                        Measure {
                            depth: inner.depth.saturating_add(1),
                            complexity: inner.complexity.saturating_add(1),
                            ..inner
                        }
                    }
                }
                Selection::InlineFragment(f) => {
                    self.selection_set(&f.node.selection_set.node, inside)
                }
                Selection::FragmentSpread(s) => {
                    self.fragment(s.node.fragment_name.node.as_str(), inside)
                }
            };
            out.depth = out.depth.max(m.depth);
            out.complexity = out.complexity.saturating_add(m.complexity);
            out.introspection_fields = out
                .introspection_fields
                .saturating_add(m.introspection_fields);
            out.introspection_lists = out.introspection_lists.max(m.introspection_lists);
        }
        out
    }

    fn fragment(&mut self, name: &'a str, inside: bool) -> Measure {
        match self.fragments.get(&(name, inside)) {
            Some(Some(m)) => return *m,
            Some(None) => return Measure::default(),
            None => {}
        }
        let Some(def) = self.doc.fragments.get(name) else {
            return Measure::default();
        };
        self.fragments.insert((name, inside), None);
        let m = self.selection_set(&def.node.selection_set.node, inside);
        self.fragments.insert((name, inside), Some(m));
        m
    }
}

/// Refuses a document past any limit (run right after parsing, see `extension`).
pub fn check(doc: &ExecutableDocument) -> ServerResult<()> {
    let m = measure(doc);
    if m.depth > MAX_DEPTH {
        return Err(ServerError::new("Query is nested too deep.", None));
    }
    if m.complexity > MAX_COMPLEXITY {
        return Err(ServerError::new("Query is too complex.", None));
    }
    if m.introspection_lists > MAX_INTROSPECTION_LISTS
        || m.introspection_fields > MAX_INTROSPECTION_FIELDS
    {
        return Err(ServerError::new(
            "Introspection query is too deep or too large.",
            None,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(q: &str) -> Measure {
        measure(&async_graphql::parser::parse_query(q).unwrap())
    }

    fn own(depth: u32, complexity: u32) -> Measure {
        Measure {
            depth,
            complexity,
            ..Measure::default()
        }
    }

    #[test]
    fn introspection_that_multiplies_itself_is_caught() {
        // Ten aliases of `fields` per level, three levels through fragments.
        let mut q = String::from("{ __type(name: \"User\") { ...A } }");
        for (name, next) in [("A", Some("B")), ("B", Some("C")), ("C", None)] {
            let inner = next.map_or("name".to_string(), |n| format!("type {{ ...{n} }}"));
            let aliases: String = (0..10)
                .map(|i| format!("f{i}: fields {{ {inner} }} "))
                .collect();
            q.push_str(&format!(" fragment {name} on __Type {{ {aliases} }}"));
        }
        let m = of(&q);
        assert_eq!(m.introspection_lists, 3);
        assert!(m.introspection_lists > MAX_INTROSPECTION_LISTS);
        // Wide instead of deep.
        let aliases: String = (0..=MAX_INTROSPECTION_FIELDS)
            .map(|i| format!("x{i}: name "))
            .collect();
        let wide =
            format!("{{ __schema {{ types {{ ...T }} }} }} fragment T on __Type {{ {aliases} }}");
        assert!(of(&wide).introspection_fields > MAX_INTROSPECTION_FIELDS);
    }

    #[test]
    fn the_limits_are_inclusive() {
        let mut deep = String::from("{ me ");
        for _ in 0..11 {
            deep.push_str("{ user ");
        }
        deep.push_str(&"}".repeat(11));
        deep.push_str(" }");
        assert_eq!(of(&deep).depth, MAX_DEPTH);
        let wide: String = (0..100)
            .map(|i| format!("s{i}: session {{ user {{ id }} }} "))
            .collect();
        assert_eq!(of(&format!("{{ {wide} }}")).complexity, 300);
        let wide: String = (0..400).map(|i| format!("t{i}: __typename ")).collect();
        assert_eq!(of(&format!("{{ {wide} }}")).complexity, MAX_COMPLEXITY);
    }

    #[test]
    fn fields_count_once_each_and_one_level_each() {
        assert_eq!(of("{ session { user { id email } } }"), own(3, 4));
        assert_eq!(
            of("{ a: session { user { id } } b: session { user { id } } __typename }"),
            own(3, 7)
        );
    }

    #[test]
    fn fragments_count_where_they_are_spread() {
        let q = "query { me { ...U } session { ... on SessionInfo { user { ...F } } } }
                 fragment U on Me { user { ...F } }
                 fragment F on User { id name }";
        assert_eq!(of(q), own(3, 8));
        let cycle = "{ me { ...A } } fragment A on Me { ...B } fragment B on Me { ...A }";
        assert_eq!(of(cycle), own(1, 1));
    }

    #[test]
    fn introspection_counts_toward_neither_limit() {
        let mut nested = String::from("name");
        for _ in 0..10 {
            nested = format!("ofType {{ {nested} }}");
        }
        let deep = format!(
            "{{ __schema {{ types {{ fields {{ type {{ {nested} }} }} }} }} \
             __type(name: \"User\") {{ fields {{ name }} }} me {{ user {{ id }} }} }}"
        );
        let m = of(&deep);
        assert_eq!((m.depth, m.complexity), (3, 3));
        assert_eq!(m.introspection_lists, 1);
        assert_eq!(m.introspection_fields, 3 + 10 + 1 + 2);
    }

    #[test]
    fn nesting_over_latchs_own_fields_still_counts() {
        let mut q = String::from("{ me ");
        for _ in 0..12 {
            q.push_str("{ user ");
        }
        q.push_str(&"}".repeat(12));
        q.push_str(" }");
        assert_eq!(of(&q).depth, 13);
    }
}
