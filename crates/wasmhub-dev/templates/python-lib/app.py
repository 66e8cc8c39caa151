"""`{{name}}`: a library component exporting `local:{{name}}/api` (see wit/world.wit).

Try it: `wasmhub invoke PATH.wasm 'api.greet("you")'`.
"""

from wit_world import exports


class Api(exports.Api):
    def greet(self, name: str) -> str:
        return f"Hello, {name}, from {{name}} (Python)!"
