// `greet`: a root export plus the `greeter` interface, which uses every WIT value type.
// The JavaScript twin of crates/test-programs/rust/greet: every function returns what
// the Rust guest returns for the same inputs.
//
// Conventions (ComponentizeJS): an exported interface is an exported object whose
// methods are the camelCased function names; `result<T, E>` returns T or throws E;
// variants are `{ tag, val }`; enums are strings; flags are `{ read, write, execute }`
// booleans; `option<T>` is T or undefined; tuples are arrays; u64/s64 are BigInts;
// a char is a one-code-point string. Throwing from a function without a `result`
// traps, as the Rust guest's panic does.

export function greet(name) {
  return `Hello, ${name}!`;
}

// Traps like Rust's `panic!("greeter failed: {message}")` (a named frame, as in Rust).
function explode(message) {
  throw new Error(`greeter failed: ${message}`);
}

const identity = (v) => v;

export const greeter = {
  greet(name) {
    return `Hello from the greeter, ${name}!`;
  },
  // i32::wrapping_add
  add(a, b) {
    return (a + b) | 0;
  },
  // i32::checked_div: none for b == 0 and for i32::MIN / -1; truncates toward zero.
  divide(a, b) {
    if (b === 0 || (a === -2147483648 && b === -1)) {
      throw `cannot divide ${a} by ${b}`;
    }
    return Math.trunc(a / b);
  },
  area(s) {
    switch (s.tag) {
      case 'circle':
        return Math.PI * s.val * s.val;
      case 'rectangle':
        // `| 0`: ComponentizeJS lifts an s32 that shares a joined i64 slot in a variant
        // (here with circle's f64) without sign extension: -3 arrives as 4294967293.
        return (s.val.x | 0) * (s.val.y | 0);
      case 'empty':
        return 0;
      default:
        throw new Error(`unknown shape ${s.tag}`);
    }
  },
  nothing() {},
  fail(message) {
    explode(message);
  },
  echoBool: identity,
  echoU8: identity,
  echoS8: identity,
  echoU16: identity,
  echoS16: identity,
  echoU32: identity,
  echoS32: identity,
  echoU64: identity,
  echoS64: identity,
  echoF32: identity,
  echoF64: identity,
  echoChar: identity,
  echoString: identity,
  echoList: identity,
  echoRecord: identity,
  echoTuple: identity,
  echoVariant: identity,
  echoEnum: identity,
  echoOption: identity,
  // The argument arrives as `{ tag: 'ok' | 'err', val }`; a returned result is the ok
  // value, and a thrown value is the err payload.
  echoResult(v) {
    if (v.tag === 'err') {
      throw v.val;
    }
    return v.val;
  },
  echoFlags: identity,
  echoNested: identity,
};

export const shouter = {
  // Rust's str::to_uppercase: full Unicode mapping, locale-independent ("ß" -> "SS").
  shout(text) {
    return text.toUpperCase();
  },
  nothing() {},
};
