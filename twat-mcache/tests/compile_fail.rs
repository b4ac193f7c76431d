//! Every error message of the macros, checked against its expected text.

#[test]
fn macro_errors_point_at_the_attribute_and_explain() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
