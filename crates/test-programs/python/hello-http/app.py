"""`hello-http` (Python): answers every request with 200, content-type: text/plain,
and the 12-byte body `Hello, wasm!` — the Python twin of rust/hello-http."""

from componentize_py_types import Ok
from wit_world import exports
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)

BODY = b"Hello, wasm!"


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        response = OutgoingResponse(Fields.from_list([("content-type", b"text/plain")]))
        response.set_status_code(200)
        body = response.body()
        ResponseOutparam.set(response_out, Ok(response))
        # The stream is a child of the body: drop it (leave the `with`) before finish.
        with body.write() as stream:
            stream.blocking_write_and_flush(BODY)
        OutgoingBody.finish(body, None)
