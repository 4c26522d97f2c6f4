"""An OTLP/HTTP trace receiver on loopback: what an OpenTelemetry collector's `otlp` receiver
does with `POST /v1/traces`, and nothing more.

It decodes each export (protobuf, optionally gzip-compressed) with `opentelemetry-proto`, keeps
the spans in memory, and answers with an `ExportTraceServiceResponse` as the collector does. The
end-to-end tracing test reads the spans back; the gateway benchmark runs it as a process of
its own (`python -m junction_emulate.otlp --port P`; `GET /_sink/count` says how many spans came)
as the endpoint that tracing exports to.
"""

from __future__ import annotations

import argparse
import gzip
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

_MAX_BODY = 64 * 1024 * 1024


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as it arrived: ids as hex, attributes as plain Python values."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: int  # the OTLP enum: 2 server, 3 client, 1 internal
    status_code: int  # 0 unset, 1 ok, 2 error
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which) if which else None


class OtlpSink:
    """Collects the spans exported to it; `url` is the OTLP endpoint to configure."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.exports = 0
        self.rejected = 0
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the sink is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def receive(self, body: bytes, encoding: str | None) -> bytes:
        """Decode one export request, keep its spans, and return the response body."""
        if encoding == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        received = []
        for resource_spans in request.resource_spans:
            resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(ReceivedSpan(
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        kind=span.kind,
                        status_code=span.status.code,
                        attributes={kv.key: _value(kv.value) for kv in span.attributes},
                        resource=resource,
                        scope=scope_spans.scope.name,
                    ))
        with self._arrived:
            self.spans.extend(received)
            self.exports += 1
            self._arrived.notify_all()
        answer: bytes = ExportTraceServiceResponse().SerializeToString()
        return answer

    def wait_for(self, done: Callable[[list[ReceivedSpan]], bool],
                 timeout_s: float) -> list[ReceivedSpan]:
        """The spans received once `done(spans)` holds (or all there are at the timeout)."""
        with self._arrived:
            self._arrived.wait_for(lambda: done(self.spans), timeout_s)
            return list(self.spans)

    @contextmanager
    def running(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[OtlpSink]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if self.path != "/v1/traces" or not 0 < length <= _MAX_BODY:
                    sink.rejected += 1
                    self.send_error(404 if self.path != "/v1/traces" else 400)
                    return
                body = self.rfile.read(length)
                try:
                    answer = sink.receive(body, self.headers.get("content-encoding"))
                except Exception:  # a malformed export is the exporter's 400, not a crash
                    sink.rejected += 1
                    self.send_error(400, "not an ExportTraceServiceRequest")
                    return
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_GET(self) -> None:
                if self.path != "/_sink/count":
                    self.send_error(404)
                    return
                answer = json.dumps({"spans": len(sink.spans), "exports": sink.exports,
                                     "rejected": sink.rejected}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: tests and benchmarks read the spans, not an access log

        self._server = ThreadingHTTPServer((host, port), Handler)
        thread = threading.Thread(target=self._server.serve_forever, name="otlp-sink",
                                  daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m junction_emulate.otlp",
                                     description="An OTLP/HTTP trace receiver that keeps spans.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4318)
    args = parser.parse_args()
    with OtlpSink().running(args.host, args.port):
        threading.Event().wait()


if __name__ == "__main__":
    main()
