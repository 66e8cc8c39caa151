"""`greet` (Python): the world `greet` in wit/demo/greet.wit.

Mirrors crates/test-programs/rust/greet/src/lib.rs exactly: same strings, same
`result` errors, a trap where the Rust guest panics.
"""

import math

import wit_world
from componentize_py_types import Err, Ok, Result
from wit_world import exports
from wit_world.exports.greeter import Point, Shape, Shape_Circle, Shape_Rectangle

_I32_MIN = -(2**31)


def _wrap_i32(n: int) -> int:
    """Two's-complement wrap, like Rust's `i32::wrapping_add`."""
    return ((n + 2**31) % 2**32) - 2**31


class WitWorld(wit_world.WitWorld):
    def greet(self, name: str) -> str:
        return f"Hello, {name}!"


class Greeter(exports.Greeter):
    def greet(self, name: str) -> str:
        return f"Hello from the greeter, {name}!"

    def add(self, a: int, b: int) -> int:
        return _wrap_i32(a + b)

    def divide(self, a: int, b: int) -> int:
        # Rust `i32::checked_div`: None on b == 0 and on MIN / -1 (overflow);
        # otherwise the quotient truncates toward zero (Python's // floors).
        if b == 0 or (a == _I32_MIN and b == -1):
            raise Err(f"cannot divide {a} by {b}")
        q = abs(a) // abs(b)
        return q if (a < 0) == (b < 0) else -q

    def area(self, s: Shape) -> float:
        if isinstance(s, Shape_Circle):
            return math.pi * s.value * s.value
        if isinstance(s, Shape_Rectangle):
            return float(s.value.x) * float(s.value.y)
        return 0.0

    def nothing(self) -> None:
        return None

    def fail(self, message: str) -> None:
        # An uncaught exception in an export without a `result` traps the
        # instance (componentize-py prints the traceback to stderr first),
        # like the Rust guest's `panic!`.
        _explode(message)

    def echo_bool(self, v): return v
    def echo_u8(self, v): return v
    def echo_s8(self, v): return v
    def echo_u16(self, v): return v
    def echo_s16(self, v): return v
    def echo_u32(self, v): return v
    def echo_s32(self, v): return v
    def echo_u64(self, v): return v
    def echo_s64(self, v): return v
    def echo_f32(self, v): return v
    def echo_f64(self, v): return v
    def echo_char(self, v): return v
    def echo_string(self, v): return v
    def echo_list(self, v): return v
    def echo_record(self, v: Point) -> Point: return v
    def echo_tuple(self, v): return v
    def echo_variant(self, v: Shape) -> Shape: return v
    def echo_enum(self, v): return v
    def echo_option(self, v): return v

    def echo_result(self, v: Result[int, str]) -> int:
        # `result` exports return the ok value and raise `Err` for the error.
        if isinstance(v, Ok):
            return v.value
        raise v

    def echo_flags(self, v): return v
    def echo_nested(self, v): return v


class Shouter(exports.Shouter):
    def shout(self, text: str) -> str:
        return text.upper()  # full Unicode case mapping, like Rust's to_uppercase

    def nothing(self) -> None:
        return None


def _explode(message: str) -> None:
    raise RuntimeError(f"greeter failed: {message}")
