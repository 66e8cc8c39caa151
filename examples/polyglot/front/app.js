// `front`: GET /?n=N&text=T answers with fib(N) from Rust and T in title case from Python.
import { fib } from 'polyglot:compute/calc';
import { title } from 'polyglot:words/text';
import {
  Fields,
  OutgoingBody,
  OutgoingResponse,
  ResponseOutparam,
} from 'wasi:http/types@0.2.12';

const encoder = new TextEncoder();

function query(pathWithQuery) {
  const params = {};
  const q = pathWithQuery.split('?')[1] ?? '';
  for (const pair of q.split('&')) {
    const [k, v] = pair.split('=');
    if (k) params[k] = decodeURIComponent((v ?? '').replace(/\+/g, ' '));
  }
  return params;
}

export const incomingHandler = {
  handle(request, responseOut) {
    const params = query(request.pathWithQuery() ?? '/');
    const n = Number.parseInt(params.n ?? '10', 10);
    const text = params.text ?? 'hello from three languages';
    const body = encoder.encode(
      `fib(${n}) = ${fib(n)} (Rust)\n"${text}" -> "${title(text)}" (Python)\n` +
        `answered by JavaScript\n`,
    );
    const headers = Fields.fromList([['content-type', encoder.encode('text/plain')]]);
    const response = new OutgoingResponse(headers);
    response.setStatusCode(200);
    const outgoing = response.body();
    ResponseOutparam.set(responseOut, { tag: 'ok', val: response });
    const stream = outgoing.write();
    stream.blockingWriteAndFlush(body);
    stream[Symbol.dispose]();
    OutgoingBody.finish(outgoing, undefined);
  },
};
