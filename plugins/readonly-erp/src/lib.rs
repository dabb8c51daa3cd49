//! A read-only ERP provider on the SDK: `productCount` products in memory.
use b2connect_provider::types::{Money, Product, ProductFilter};
use b2connect_provider::{Context, Cursor, ErpProvider, Provider, ProviderError, export_provider};

pub struct Shop(Vec<Product>);

impl Provider for Shop {
    fn new(ctx: &Context) -> Result<Self, ProviderError> {
        let n: u32 = ctx.setting_or("productCount", 3)?;
        Ok(Shop((1..=n).map(product).collect()))
    }
}

impl ErpProvider for Shop {
    fn get_product(&mut self, id: String) -> Result<Product, ProviderError> {
        let found = self.0.iter().find(|p| p.id == id);
        found.cloned().ok_or_else(|| ProviderError::not_found(format!("no product {id}")))
    }

    fn stream_products(&mut self, filter: ProductFilter) -> Result<Cursor<Product>, ProviderError> {
        Ok(Cursor::from_iter(self.0.iter().filter(|p| filter.matches(p)).cloned().collect::<Vec<_>>()))
    }
}

fn product(i: u32) -> Product {
    Product {
        id: format!("P{i}"),
        sku: format!("SKU-{i}"),
        name: format!("Product {i}"),
        description: String::new(),
        category_id: "C1".into(),
        price: Money { amount_minor: 100 * i as i64, currency: "EUR".into() },
        stock: i as i64,
        unit: "pcs".into(),
        active: true,
        modified_at: 1_700_000_000_000 + i as i64,
    }
}

export_provider!(Shop: erp);
