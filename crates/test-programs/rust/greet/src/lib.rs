//! `greet`: a root export plus the `greeter` interface, which uses every WIT value type.

wit_bindgen::generate!({ path: "../../../../wit/demo", world: "greet" });

use exports::wasmhub::demo::greeter::{Color, Permissions, Point, Shape};

struct Component;

impl Guest for Component {
    fn greet(name: String) -> String {
        format!("Hello, {name}!")
    }
}

impl exports::wasmhub::demo::greeter::Guest for Component {
    fn greet(name: String) -> String {
        format!("Hello from the greeter, {name}!")
    }
    fn add(a: i32, b: i32) -> i32 {
        a.wrapping_add(b)
    }
    fn divide(a: i32, b: i32) -> Result<i32, String> {
        a.checked_div(b)
            .ok_or_else(|| format!("cannot divide {a} by {b}"))
    }
    fn area(s: Shape) -> f64 {
        match s {
            Shape::Circle(r) => std::f64::consts::PI * r * r,
            Shape::Rectangle(p) => f64::from(p.x) * f64::from(p.y),
            Shape::Empty => 0.0,
        }
    }
    fn nothing() {}
    fn fail(message: String) {
        explode(&message)
    }
    fn echo_bool(v: bool) -> bool {
        v
    }
    fn echo_u8(v: u8) -> u8 {
        v
    }
    fn echo_s8(v: i8) -> i8 {
        v
    }
    fn echo_u16(v: u16) -> u16 {
        v
    }
    fn echo_s16(v: i16) -> i16 {
        v
    }
    fn echo_u32(v: u32) -> u32 {
        v
    }
    fn echo_s32(v: i32) -> i32 {
        v
    }
    fn echo_u64(v: u64) -> u64 {
        v
    }
    fn echo_s64(v: i64) -> i64 {
        v
    }
    fn echo_f32(v: f32) -> f32 {
        v
    }
    fn echo_f64(v: f64) -> f64 {
        v
    }
    fn echo_char(v: char) -> char {
        v
    }
    fn echo_string(v: String) -> String {
        v
    }
    fn echo_list(v: Vec<u32>) -> Vec<u32> {
        v
    }
    fn echo_record(v: Point) -> Point {
        v
    }
    fn echo_tuple(v: (String, u8, bool)) -> (String, u8, bool) {
        v
    }
    fn echo_variant(v: Shape) -> Shape {
        v
    }
    fn echo_enum(v: Color) -> Color {
        v
    }
    fn echo_option(v: Option<String>) -> Option<String> {
        v
    }
    fn echo_result(v: Result<u32, String>) -> Result<u32, String> {
        v
    }
    fn echo_flags(v: Permissions) -> Permissions {
        v
    }
    fn echo_nested(v: Vec<Option<Point>>) -> Vec<Option<Point>> {
        v
    }
}

impl exports::wasmhub::demo::shouter::Guest for Component {
    fn shout(text: String) -> String {
        text.to_uppercase()
    }
    fn nothing() {}
}

/// A named frame for the trap's backtrace.
#[inline(never)]
fn explode(message: &str) -> ! {
    panic!("greeter failed: {message}")
}

export!(Component);
