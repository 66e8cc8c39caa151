// `hello-http`: answers every request with the 12-byte body `Hello, wasm!` (the benchmark guest).
// Implements wasi:http/incoming-handler@0.2.12 directly on the wasi:http/types resources.
import {
  Fields,
  OutgoingBody,
  OutgoingResponse,
  ResponseOutparam,
} from 'wasi:http/types@0.2.12';

const encoder = new TextEncoder();
const CONTENT_TYPE = encoder.encode('text/plain');
const BODY = encoder.encode('Hello, wasm!');

export const incomingHandler = {
  handle(_request, responseOut) {
    const headers = Fields.fromList([['content-type', CONTENT_TYPE]]);
    const response = new OutgoingResponse(headers);
    response.setStatusCode(200);
    const body = response.body();
    ResponseOutparam.set(responseOut, { tag: 'ok', val: response });
    const stream = body.write();
    stream.blockingWriteAndFlush(BODY);
    // The stream is a child of the body: drop it before finishing the body.
    stream[Symbol.dispose]();
    OutgoingBody.finish(body, undefined);
  },
};
