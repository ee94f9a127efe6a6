//! The depth and complexity limits of contract §5, over latch's own types only.
//!
//! async-graphql's own limits count every field, introspection included, so the
//! standard introspection query of graphql-js, graphql-core and GraphiQL (nine nested
//! `ofType` levels in its `TypeRef` fragment) was refused as too deep, and no tool
//! could learn the schema. This extension measures the parsed document instead: each
//! selected field counts 1 toward complexity (aliases included, fragments expanded
//! where they are spread) and one level toward depth, except `__schema`, `__type` and
//! everything below them, which count toward neither. It runs right after parsing, so
//! a refused document is refused before validation and before anything runs.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};

/// Deepest nesting of fields allowed.
pub const MAX_DEPTH: u32 = 12;
/// Most fields one operation may select.
pub const MAX_COMPLEXITY: u32 = 400;

/// Depth and complexity of a selection set (the deepest and the largest operation of
/// a document).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measure {
    pub depth: u32,
    pub complexity: u32,
}

/// Measures every operation of `doc`; the result is the largest of each figure.
pub fn measure(doc: &ExecutableDocument) -> Measure {
    let mut walk = Walk {
        doc,
        fragments: HashMap::new(),
    };
    let mut out = Measure::default();
    for (_, op) in doc.operations.iter() {
        let m = walk.selection_set(&op.node.selection_set.node);
        out.depth = out.depth.max(m.depth);
        out.complexity = out.complexity.max(m.complexity);
    }
    out
}

struct Walk<'a> {
    doc: &'a ExecutableDocument,
    /// Each fragment measured once (its figures do not depend on where it is spread);
    /// `None` while it is being measured, so a cycle (refused by validation anyway)
    /// ends instead of recursing.
    fragments: HashMap<&'a str, Option<Measure>>,
}

impl<'a> Walk<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet) -> Measure {
        let mut out = Measure::default();
        for item in &set.items {
            let m = match &item.node {
                Selection::Field(f) => {
                    let name = f.node.name.node.as_str();
                    if name == "__schema" || name == "__type" {
                        continue;
                    }
                    let inner = self.selection_set(&f.node.selection_set.node);
                    out.complexity = out.complexity.saturating_add(1);
                    Measure {
                        depth: inner.depth.saturating_add(1),
                        complexity: inner.complexity,
                    }
                }
                Selection::InlineFragment(f) => self.selection_set(&f.node.selection_set.node),
                Selection::FragmentSpread(s) => self.fragment(s.node.fragment_name.node.as_str()),
            };
            out.depth = out.depth.max(m.depth);
            out.complexity = out.complexity.saturating_add(m.complexity);
        }
        out
    }

    fn fragment(&mut self, name: &'a str) -> Measure {
        match self.fragments.get(name) {
            Some(Some(m)) => return *m,
            Some(None) => return Measure::default(),
            None => {}
        }
        let Some(def) = self.doc.fragments.get(name) else {
            return Measure::default();
        };
        self.fragments.insert(name, None);
        let m = self.selection_set(&def.node.selection_set.node);
        self.fragments.insert(name, Some(m));
        m
    }
}

/// The schema's extension that applies [`MAX_DEPTH`] and [`MAX_COMPLEXITY`].
pub struct Limits;

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Limits)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Limits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let m = measure(&doc);
        if m.depth > MAX_DEPTH {
            return Err(ServerError::new("Query is nested too deep.", None));
        }
        if m.complexity > MAX_COMPLEXITY {
            return Err(ServerError::new("Query is too complex.", None));
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(q: &str) -> Measure {
        measure(&async_graphql::parser::parse_query(q).unwrap())
    }

    #[test]
    fn fields_count_once_each_and_one_level_each() {
        assert_eq!(
            of("{ session { user { id email } } }"),
            Measure {
                depth: 3,
                complexity: 4
            }
        );
        assert_eq!(
            of("{ a: session { user { id } } b: session { user { id } } __typename }"),
            Measure {
                depth: 3,
                complexity: 7
            }
        );
    }

    #[test]
    fn fragments_count_where_they_are_spread() {
        let q = "query { me { ...U } session { ... on SessionInfo { user { ...F } } } }
                 fragment U on Me { user { ...F } }
                 fragment F on User { id name }";
        assert_eq!(
            of(q),
            Measure {
                depth: 3,
                complexity: 8
            }
        );
        let cycle = "{ me { ...A } } fragment A on Me { ...B } fragment B on Me { ...A }";
        assert_eq!(
            of(cycle),
            Measure {
                depth: 1,
                complexity: 1
            }
        );
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
        assert_eq!(
            of(&deep),
            Measure {
                depth: 3,
                complexity: 3
            }
        );
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
