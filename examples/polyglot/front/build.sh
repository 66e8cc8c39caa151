#!/bin/sh
# Stages the WIT the front's world uses into wit/deps (componentize-js reads only its
# working directory), then builds front.wasm.
set -e
rm -rf wit/deps
mkdir -p wit/deps/compute wit/deps/words
cp ../compute/wit/calc.wit wit/deps/compute/
cp ../words/wit/text.wit wit/deps/words/
for pkg in node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12/wasi-*; do
  mkdir -p "wit/deps/$(basename "$pkg")"
  cp "$pkg/package.wit" "wit/deps/$(basename "$pkg")/"
done
node_modules/.bin/componentize-js app.js --wit wit --world-name front \
  --disable stdio random clocks http fetch-event --out front.wasm
