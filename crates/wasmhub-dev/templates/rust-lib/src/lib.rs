//! `{{name}}`: a library component exporting `local:{{name}}/api` (see wit/world.wit).
//! Try it: `wasmhub invoke PATH.wasm 'api.greet("you")'`; other components link to it
//! with `"local:{{name}}/api" = "{{name}}"` under their `[component.NAME.link]`.

wit_bindgen::generate!({ path: "wit", world: "{{name}}" });

use exports::local::{{name_snake}}::api::Guest;

struct Component;

impl Guest for Component {
    fn greet(name: String) -> String {
        format!("Hello, {name}, from {{name}} (Rust)!")
    }
}

export!(Component);
