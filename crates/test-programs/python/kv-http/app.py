"""`kv-http` (Python): wasi:keyvalue@0.2.0-draft2 and wasi:config over HTTP, a subset of
rust/kv-http with the same routes and answers.

The action is the path's last segment, its arguments the query (percent-decoded):
`incr?store=S&key=K&by=N` answers the new value, `get` the value (404 `none` when
missing), `set` stores the request body, `delete`, `exists`, `cas-incr` (the new value,
retrying a failed swap), `config?key=K`. A store error answers 403 `access-denied`,
404 `no-such-store` or 500 `other: MESSAGE`."""

from urllib.parse import parse_qs, urlsplit

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import atomics, wasi_config_store, wasi_keyvalue_store
from wit_world.imports.streams import StreamError_Closed
from wit_world.imports.types import (
    Fields,
    IncomingBody,
    IncomingRequest,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)


def respond(out: ResponseOutparam, status: int, body: bytes) -> None:
    response = OutgoingResponse(Fields.from_list([("content-type", b"text/plain")]))
    response.set_status_code(status)
    outgoing = response.body()
    ResponseOutparam.set(out, Ok(response))
    # The stream is a child of the body: drop it (leave the `with`) before finish.
    with outgoing.write() as stream:
        stream.blocking_write_and_flush(body)
    OutgoingBody.finish(outgoing, None)


def read_body(request: IncomingRequest) -> bytes:
    incoming = request.consume()
    data = b""
    with incoming.stream() as stream:
        while True:
            try:
                data += stream.blocking_read(65536)
            except Err as e:
                if isinstance(e.value, StreamError_Closed):
                    break
                raise
    IncomingBody.finish(incoming)
    return data


def counter(value) -> int:
    """An 8-byte little-endian signed counter; no value counts as 0."""
    if value is None:
        return 0
    if len(value) != 8:
        raise ValueError("not an 8-byte counter")
    return int.from_bytes(value, "little", signed=True)


def cas_increment(bucket, key: str) -> bytes:
    cas = atomics.Cas.new(bucket, key)
    while True:
        n = counter(cas.current()) + 1
        try:
            atomics.swap(cas, n.to_bytes(8, "little", signed=True))
            return str(n).encode()
        except Err as e:
            if isinstance(e.value, atomics.CasError_CasFailed):
                cas = e.value.value
            else:
                raise Err(e.value.value)


def route(action: str, arg, body: bytes):
    """The (status, body) answering `action`; raises `Err` with a store error."""
    if action == "config":
        value = wasi_config_store.get(arg("key", ""))
        return (404, b"none") if value is None else (200, value.encode())
    bucket = wasi_keyvalue_store.open(arg("store", "default"))
    key = arg("key", "key")
    if action == "incr":
        return 200, str(atomics.increment(bucket, key, int(arg("by", "1")))).encode()
    if action == "get":
        value = bucket.get(key)
        return (404, b"none") if value is None else (200, value)
    if action == "set":
        bucket.set(key, body)
        return 200, b"ok"
    if action == "delete":
        bucket.delete(key)
        return 200, b"ok"
    if action == "exists":
        return 200, str(bucket.exists(key)).lower().encode()
    if action == "cas-incr":
        return 200, cas_increment(bucket, key)
    return 400, f"unknown action {action!r}".encode()


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        target = urlsplit(request.path_with_query() or "/")
        params = parse_qs(target.query, keep_blank_values=True)
        body = read_body(request)

        def arg(name: str, default: str) -> str:
            return params[name][0] if name in params else default

        try:
            status, answer = route(target.path.rsplit("/", 1)[-1], arg, body)
        except Err as e:
            error = e.value
            if isinstance(error, wasi_keyvalue_store.Error_AccessDenied):
                status, answer = 403, b"access-denied"
            elif isinstance(error, wasi_keyvalue_store.Error_NoSuchStore):
                status, answer = 404, b"no-such-store"
            else:
                status, answer = 500, f"other: {error.value}".encode()
        respond(response_out, status, answer)
