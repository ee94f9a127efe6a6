//! latch's one async-graphql extension. Every hook of every extension runs on every
//! request (and the field hook on every field resolved the general way) through a
//! boxed future, so latch keeps its additions in a single extension: the limits after
//! parsing (`limits`), validation under the document cache (`documents`), and
//! `__schema { description }` answered `null` (`schema_description`).

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextResolve, NextValidation,
    ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerError, ServerResult, ValidationResult, Value, Variables};

use super::{documents, limits, schema_description};

pub struct Latch;

impl ExtensionFactory for Latch {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Latch)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Latch {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        // A document the cache knows passed validation before, limits included.
        if !documents::known(ctx) {
            limits::check(&doc)?;
        }
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        documents::validation(ctx, next).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if schema_description::is_schema_description(&info) {
            return Ok(Some(Value::Null));
        }
        next.run(ctx, info).await
    }
}
