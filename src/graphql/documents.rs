//! Parsed query documents, kept by their text.
//!
//! A dashboard sends the same few query texts over and over; parsing one (pest) and
//! checking it against every validation rule were most of a GraphQL `session`
//! query's work (README, Performance). The cache keeps the parsed document of a query text, and the
//! result strict validation gave it for an operation name with no variables:
//! validation is a pure function of schema,
//! document, variables and operation name, so a later request with the same text, the
//! same operation name and no variables reuses that result instead of validating again.
//! Anything else is validated in full.
//!
//! Only documents with a single query operation are kept: mutations carry passwords
//! and tokens as literals, and nothing secret may linger in memory. The cache is
//! bounded (entries and query length); when full it starts over, so a client sending
//! endless distinct queries costs itself parse time and nothing more.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{ExtensionContext, NextValidation};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{ServerError, ValidationResult};

const MAX_ENTRIES: usize = 256;
const MAX_QUERY_LEN: usize = 4096;

struct Entry {
    doc: ExecutableDocument,
    /// The operation name strict validation passed for (with no variables), and its
    /// result.
    validated_for: Option<(Option<String>, ValidationResult)>,
}

/// The cache of one schema.
#[derive(Default)]
pub struct Documents {
    map: Mutex<HashMap<String, Entry>>,
}

/// What the cache did for a request.
pub struct Prepared {
    /// What strict validation gave the document before, for exactly this request.
    pub validated: Option<KnownValidation>,
    /// Set by [`validation`] when strict validation passes; `Some` when the
    /// outcome should be remembered.
    pub probe: Option<Arc<ValidationPassed>>,
}

/// Request data through which [`validation`] reports a passed validation.
#[derive(Default)]
pub struct ValidationPassed(Mutex<Option<ValidationResult>>);

/// Request data: the result strict validation gave this document before.
#[derive(Clone, Copy)]
pub struct KnownValidation(ValidationResult);

impl Documents {
    /// Gives the request its parsed document from the cache (or parses and keeps it).
    pub fn prepare(&self, req: &mut async_graphql::Request) -> Prepared {
        let none = Prepared {
            validated: None,
            probe: None,
        };
        if req.query.len() > MAX_QUERY_LEN {
            return none;
        }
        let no_variables = req.variables.is_empty();
        let Ok(map) = self.map.lock() else {
            return none;
        };
        if let Some(e) = map.get(req.query.as_str()) {
            let validated = e
                .validated_for
                .as_ref()
                .filter(|(op, _)| no_variables && *op == req.operation_name)
                .map(|(_, v)| KnownValidation(*v));
            req.set_parsed_query(e.doc.clone());
            return Prepared {
                probe: (validated.is_none() && no_variables).then(Default::default),
                validated,
            };
        }
        drop(map);
        // Parsed outside the lock; an invalid text is left for the executor to report.
        let Ok(doc) = async_graphql::parser::parse_query(&req.query) else {
            return none;
        };
        if !single_query(&doc) {
            req.set_parsed_query(doc);
            return none;
        }
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(
                req.query.clone(),
                Entry {
                    doc: doc.clone(),
                    validated_for: None,
                },
            );
        }
        req.set_parsed_query(doc);
        Prepared {
            validated: None,
            probe: no_variables.then(Default::default),
        }
    }

    /// Records that the document of `query` passed strict validation for `operation`.
    pub fn validated(&self, query: &str, operation: Option<&str>, result: ValidationResult) {
        if let Ok(mut map) = self.map.lock()
            && let Some(e) = map.get_mut(query)
        {
            e.validated_for = Some((operation.map(str::to_owned), result));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }
}

impl ValidationPassed {
    pub fn passed(&self) -> Option<ValidationResult> {
        self.0.lock().ok().and_then(|r| *r)
    }
}

fn single_query(doc: &ExecutableDocument) -> bool {
    match &doc.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Query,
        DocumentOperations::Multiple(ops) => {
            ops.len() == 1 && ops.values().all(|op| op.node.ty == OperationType::Query)
        }
    }
}

/// Whether the request carries a [`KnownValidation`]: its document passed strict
/// validation and the limits before.
pub fn known(ctx: &ExtensionContext<'_>) -> bool {
    ctx.data_opt::<KnownValidation>().is_some()
}

/// Validation under the document cache: the request's [`KnownValidation`] when it
/// carries one; otherwise strict validation, reporting a pass to the request's
/// [`ValidationPassed`] when it has one.
pub async fn validation(
    ctx: &ExtensionContext<'_>,
    next: NextValidation<'_>,
) -> Result<ValidationResult, Vec<ServerError>> {
    if let Some(known) = ctx.data_opt::<KnownValidation>() {
        return Ok(known.0);
    }
    let res = next.run(ctx).await;
    if let Ok(v) = &res
        && let Some(probe) = ctx.data_opt::<Arc<ValidationPassed>>()
        && let Ok(mut slot) = probe.0.lock()
    {
        *slot = Some(*v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_query_documents_are_kept() {
        let docs = Documents::default();
        let mut q = async_graphql::Request::new("{ session { user { id } } }");
        let p = docs.prepare(&mut q);
        assert!(p.validated.is_none() && p.probe.is_some());
        assert_eq!(docs.len(), 1);
        let mut m = async_graphql::Request::new(
            r#"mutation { signInEmail(input: {email: "a", password: "secret"}) { token } }"#,
        );
        docs.prepare(&mut m);
        let mut two = async_graphql::Request::new(
            "query A { me { user { id } } } query B { me { user { id } } }",
        );
        docs.prepare(&mut two);
        assert_eq!(
            docs.len(),
            1,
            "mutations and multi-operation documents are not kept"
        );
    }

    #[test]
    fn validation_is_skipped_only_for_the_same_operation_without_variables() {
        let docs = Documents::default();
        let text = "query S { session { user { id } } }";
        docs.prepare(&mut async_graphql::Request::new(text));
        let result = ValidationResult {
            cache_control: Default::default(),
            complexity: 3,
            depth: 2,
        };
        docs.validated(text, Some("S"), result);
        let hit = docs.prepare(&mut async_graphql::Request::new(text).operation_name("S"));
        let known = hit.validated.expect("validated before");
        assert_eq!((known.0.complexity, known.0.depth), (3, 2));
        let other = docs.prepare(&mut async_graphql::Request::new(text));
        assert!(
            other.validated.is_none(),
            "another operation name is validated again"
        );
        let vars = async_graphql::Variables::from_json(serde_json::json!({"x": 1}));
        let with_vars = docs.prepare(
            &mut async_graphql::Request::new(text)
                .operation_name("S")
                .variables(vars),
        );
        assert!(with_vars.validated.is_none() && with_vars.probe.is_none());
    }

    #[test]
    fn a_full_cache_starts_over() {
        let docs = Documents::default();
        for i in 0..=MAX_ENTRIES {
            docs.prepare(&mut async_graphql::Request::new(format!(
                "{{ a{i}: session {{ user {{ id }} }} }}"
            )));
        }
        assert_eq!(docs.len(), 1);
    }
}
