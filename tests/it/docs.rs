//! Documentation that the walkthrough and the README rely on stays true to the code.

/// The bond the README tour registers is the domain's own Osaka green bond example, and valid.
#[test]
fn the_walkthrough_bond_is_the_validated_green_example() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/examples/green-bond.json");
    let generated =
        serde_json::to_string_pretty(&midori::domain::bond::examples::green()).unwrap() + "\n";
    if std::env::var_os("MIDORI_BLESS").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/examples/green-bond.json is stale: MIDORI_BLESS=1 cargo test docs"
    );
    let spec: midori::domain::bond::BondSpec = serde_json::from_str(&committed).unwrap();
    assert!(spec.validate().is_ok());
}
