//! `__schema { description }` answers `null`: latch's schema has no description.
//!
//! async-graphql 7 answers every schema with the same fixed text (the documentation
//! of the `__Schema` type), which no SDL declares: tools that ask for the schema
//! description (graphql-js `getIntrospectionQuery({schemaDescription: true})`,
//! graphql-core's `schema_description`) then build a schema that differs from
//! `schema.graphql`. The GraphQL specification lets the field be null.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ServerResult, Value};

pub struct SchemaDescription;

impl ExtensionFactory for SchemaDescription {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SchemaDescription)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for SchemaDescription {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.parent_type == "__Schema" && info.name == "description" {
            return Ok(Some(Value::Null));
        }
        next.run(ctx, info).await
    }
}
