// `{{name}}`: a wasi:http handler. Edit the body, then `wasmhub dev` rebuilds and reloads it.
import {
  Fields,
  OutgoingBody,
  OutgoingResponse,
  ResponseOutparam,
} from 'wasi:http/types@0.2.12';

const encoder = new TextEncoder();

export const incomingHandler = {
  handle(request, responseOut) {
    const path = request.pathWithQuery() ?? '/';
    const body = encoder.encode(`Hello from {{name}} (JavaScript) at ${path}\n`);
    const headers = Fields.fromList([['content-type', encoder.encode('text/plain')]]);
    const response = new OutgoingResponse(headers);
    response.setStatusCode(200);
    const outgoing = response.body();
    ResponseOutparam.set(responseOut, { tag: 'ok', val: response });
    const stream = outgoing.write();
    stream.blockingWriteAndFlush(body);
    // The stream is a child of the body: drop it before finishing the body.
    stream[Symbol.dispose]();
    OutgoingBody.finish(outgoing, undefined);
  },
};
