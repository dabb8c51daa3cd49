//! The contract's `pim-provider` interface as a trait.

use crate::bindings::b2connect::provider::types::{
    CatalogFilter, CatalogPage, Category, Product, ProductDetails, ProductFilter, ProviderError,
};
use crate::cursor::Cursor;

type Result<T> = std::result::Result<T, ProviderError>;

/// A PIM provider (the seed's `IPimProvider`).
pub trait PimProvider: crate::Provider {
    /// One product with its PIM content; unknown is `not-found`.
    fn get_product_details(&mut self, id: String) -> Result<ProductDetails> {
        let _ = id;
        Err(ProviderError::unsupported("get-product-details"))
    }

    /// The category tree, parents before children.
    fn get_categories(&mut self) -> Result<Vec<Category>> {
        Err(ProviderError::unsupported("get-categories"))
    }

    /// One catalog page of at most `page_size` entries (the SDK refuses a
    /// longer answer as the provider's bug). `continuation` is a token this
    /// provider issued; one it did not is `invalid-input`.
    fn get_catalog(
        &mut self,
        filter: CatalogFilter,
        page_size: u32,
        continuation: Option<String>,
    ) -> Result<CatalogPage> {
        let _ = (filter, page_size, continuation);
        Err(ProviderError::unsupported("get-catalog"))
    }

    /// The catalog as a stream.
    fn stream_catalog(&mut self, filter: CatalogFilter) -> Result<Cursor<ProductDetails>> {
        let _ = filter;
        Err(ProviderError::unsupported("stream-catalog"))
    }
}

/// The ERP filter a catalog filter selects (no name or active condition;
/// `search` matches name or SKU and is applied with
/// [`CatalogFilter::matches`]).
impl From<CatalogFilter> for ProductFilter {
    fn from(f: CatalogFilter) -> Self {
        ProductFilter {
            modified_since: f.modified_since,
            category_id: f.category_id,
            name_contains: None,
            active_only: false,
        }
    }
}

impl CatalogFilter {
    /// Whether `d` passes the filter, with the provider's category test
    /// (see `ProductFilter::matches_with`).
    pub fn matches_with(&self, d: &ProductDetails, in_category: impl Fn(&str, &str) -> bool) -> bool {
        self.matches_product(&d.product, in_category)
    }

    /// The same test on the product alone, so a provider can filter before
    /// it builds the PIM content of an entry.
    pub fn matches_product(&self, p: &Product, in_category: impl Fn(&str, &str) -> bool) -> bool {
        self.modified_since.is_none_or(|s| p.modified_at >= s)
            && self.category_id.as_deref().is_none_or(|c| in_category(&p.category_id, c))
            && self.search.as_deref().is_none_or(|q| crate::contains_ci(&p.name, q) || crate::contains_ci(&p.sku, q))
    }

    /// Whether `d` passes the filter, for a flat category list.
    pub fn matches(&self, d: &ProductDetails) -> bool {
        self.matches_with(d, |mine, wanted| mine == wanted)
    }
}

macro_rules! impl_pim {
    ($($world:tt)*) => {
        const _: () = {
            use $($world)*::exports::b2connect::provider::pim_provider as pim;
            use crate::{Cursor, Exports, PimProvider, provider::with_instance as with};
            use crate::types::*;
            use std::result::Result;

            impl<P: PimProvider> pim::Guest for Exports<P> {
                type CatalogCursor = Cursor<ProductDetails>;

                fn get_product_details(id: String) -> Result<ProductDetails, ProviderError> {
                    with(|p: &mut P| p.get_product_details(id))
                }
                fn get_categories() -> Result<Vec<Category>, ProviderError> {
                    with(|p: &mut P| p.get_categories())
                }
                fn get_catalog(
                    filter: CatalogFilter,
                    page_size: u32,
                    continuation: Option<String>,
                ) -> Result<CatalogPage, ProviderError> {
                    let page = with(|p: &mut P| p.get_catalog(filter, page_size, continuation))?;
                    if page.items.len() > page_size as usize {
                        return Err(ProviderError::internal(format!(
                            "get-catalog answered {} entries for a page of {page_size}",
                            page.items.len()
                        )));
                    }
                    Ok(page)
                }
                fn stream_catalog(filter: CatalogFilter) -> Result<pim::CatalogCursor, ProviderError> {
                    with(|p: &mut P| p.stream_catalog(filter)).map(pim::CatalogCursor::new)
                }
            }

            impl pim::GuestCatalogCursor for Cursor<ProductDetails> {
                fn next(&self, max: u32) -> Result<Vec<ProductDetails>, ProviderError> {
                    self.next_batch(max)
                }
            }
        };
    };
}

impl_pim!(crate::bindings);
