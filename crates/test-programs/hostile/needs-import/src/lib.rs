//! `needs-import`: imports an interface no host provides, for the missing-import error.

wit_bindgen::generate!({ path: "wit", world: "needs-import" });

struct Component;

impl Guest for Component {
    fn reveal() -> String {
        wasmhub::hostile::vault::secret()
    }
}

export!(Component);
