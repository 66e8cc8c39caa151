// `{{name}}`: a library component exporting `local:{{name}}/api` (see wit/world.wit).
// Try it: `wasmhub invoke PATH.wasm 'api.greet("you")'`.
export const api = {
  greet(name) {
    return `Hello, ${name}, from {{name}} (JavaScript)!`;
  },
};
