"""Loopback stand-in for LLMCloud's remote API, for tests only (Python 3.8+, stdlib only).

    python3 tests/support/llmcloud_standin.py [--port N] [--record FILE] [--keys K1,K2]
                                              [--models M1,M2] [--lifetime SECONDS]
                                              [--port-file FILE] [--reply TEXT]

Binds 127.0.0.1 only. --port 0 (the default) picks a free port. Once it listens it prints one
line `LISTENING 127.0.0.1:<port>` on stdout (and writes the port to --port-file if given), then
serves until --lifetime seconds (default 600) have passed or it gets SIGTERM/SIGINT.

Endpoints (what the real droid client and the byok role's preflight call):
  GET  /v1/models     `Authorization: Bearer <key>` -> 200 {"object": "list", "data": [{"id": M}, ...]}
  POST /v1/messages   Anthropic Messages API, key in `x-api-key` (or Bearer); streams SSE when
                      the body says "stream": true, else one JSON message
  POST /v1/responses  OpenAI Responses API, key in `Authorization: Bearer`; SSE or JSON likewise
  POST /v1/chat/completions  OpenAI Chat Completions (generic-chat-completion-api), same rules
A key not in --keys gets 401 (if --keys is omitted or empty, any non-empty key is accepted); a
model not in --models gets 404 "model not found". The models default to LLMCloud's catalog.

Every request is appended to --record as one JSON object per line:
  {"time", "method", "path", "headers" (lower-case names), "auth" ("x-api-key"|"bearer"|null),
   "api_key", "model", "stream", "status"}
Tests read that file to see exactly which key and model a client sent, and where.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CATALOG_MODELS = (
    "anthropic/claude-opus-4.6",
    "anthropic/claude-opus-4.5-thinking",
    "anthropic/claude-sonnet-4.6",
    "anthropic/claude-sonnet-4.5",
    "anthropic/claude-sonnet-4.5-thinking",
    "anthropic/claude-haiku-4.5",
    "google/gemini-3-flash-preview",
    "google/gemini-3-pro-preview",
)


def _split(text):
    return [part.strip() for part in (text or "").split(",") if part.strip()]


class StandIn(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port, record, keys, models, reply):
        super().__init__(("127.0.0.1", port), Handler)
        self.record_path = record
        self.keys = set(keys)
        self.models = list(models)
        self.reply = reply
        self.lock = threading.Lock()

    def record(self, entry):
        if not self.record_path:
            return
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self.lock:
            with open(self.record_path, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()


class Handler(BaseHTTPRequestHandler):
    server_version = "llmcloud-standin/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        sys.stderr.write("standin: %s %s\n" % (self.address_string(), format % args))

    # -- helpers -----------------------------------------------------------------------------
    def _credentials(self):
        key = self.headers.get("x-api-key")
        if key:
            return "x-api-key", key
        auth = self.headers.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            return "bearer", auth[7:].strip()
        return None, None

    def _body(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            return {}

    def _send_json(self, status, payload):
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_sse(self, events):
        chunks = []
        for name, payload in events:
            prefix = "event: %s\n" % name if name else ""
            chunks.append("%sdata: %s\n\n" % (prefix, payload if isinstance(payload, str) else json.dumps(payload)))
        data = "".join(chunks).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method):
        path = self.path.split("?", 1)[0].rstrip("/")
        auth, key = self._credentials()
        body = self._body() if method == "POST" else {}
        model = body.get("model") if isinstance(body, dict) else None
        stream = bool(body.get("stream")) if isinstance(body, dict) else False
        entry = {
            "time": time.time(),
            "method": method,
            "path": self.path,
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "auth": auth,
            "api_key": key,
            "model": model,
            "stream": stream,
        }
        status = self._respond(method, path, key, model, stream)
        entry["status"] = status
        self.server.record(entry)

    def _respond(self, method, path, key, model, stream):
        routes = {
            ("GET", "/v1/models"): self._models,
            ("POST", "/v1/messages"): self._anthropic,
            ("POST", "/v1/responses"): self._responses,
            ("POST", "/v1/chat/completions"): self._chat,
        }
        route = routes.get((method, path))
        if route is None:
            self._send_json(404, {"error": {"type": "not_found_error", "message": "no route %s %s" % (method, path)}})
            return 404
        if not key or (self.server.keys and key not in self.server.keys):
            error = {"type": "authentication_error", "message": "API key invalid or unauthorized"}
            self._send_json(401, {"type": "error", "error": error})
            return 401
        if method == "POST" and model not in self.server.models:
            error = {"type": "not_found_error", "message": "Model not found: %s" % model}
            self._send_json(404, {"type": "error", "error": error})
            return 404
        return route(model, stream)

    # -- endpoints ---------------------------------------------------------------------------
    def _models(self, model, stream):
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "llmcloud"} for name in self.server.models]
        self._send_json(200, {"object": "list", "data": data})
        return 200

    def _anthropic(self, model, stream):
        text = self.server.reply
        message_id = "msg_" + uuid.uuid4().hex[:24]
        usage = {"input_tokens": 10, "output_tokens": 5}
        if not stream:
            self._send_json(
                200,
                {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": usage,
                },
            )
            return 200
        self._send_sse(
            [
                (
                    "message_start",
                    {
                        "type": "message_start",
                        "message": {
                            "id": message_id,
                            "type": "message",
                            "role": "assistant",
                            "model": model,
                            "content": [],
                            "stop_reason": None,
                            "stop_sequence": None,
                            "usage": {"input_tokens": 10, "output_tokens": 1},
                        },
                    },
                ),
                ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 5}}),
                ("message_stop", {"type": "message_stop"}),
            ]
        )
        return 200

    def _responses(self, model, stream):
        text = self.server.reply
        response_id = "resp_" + uuid.uuid4().hex[:24]
        item_id = "msg_" + uuid.uuid4().hex[:24]
        created = int(time.time())
        part = {"type": "output_text", "text": text, "annotations": []}
        item = {"id": item_id, "type": "message", "status": "completed", "role": "assistant", "content": [part]}
        usage = {
            "input_tokens": 10,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 15,
        }

        def response(status, output):
            return {
                "id": response_id,
                "object": "response",
                "created_at": created,
                "status": status,
                "model": model,
                "output": output,
                "usage": usage if status == "completed" else None,
                "error": None,
                "incomplete_details": None,
            }

        if not stream:
            self._send_json(200, response("completed", [item]))
            return 200
        empty_item = dict(item, status="in_progress", content=[])
        events = [
            {"type": "response.created", "response": response("in_progress", [])},
            {"type": "response.in_progress", "response": response("in_progress", [])},
            {"type": "response.output_item.added", "output_index": 0, "item": empty_item},
            {
                "type": "response.content_part.added",
                "item_id": item_id,
                "output_index": 0,
                "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []},
            },
            {"type": "response.output_text.delta", "item_id": item_id, "output_index": 0, "content_index": 0, "delta": text},
            {"type": "response.output_text.done", "item_id": item_id, "output_index": 0, "content_index": 0, "text": text},
            {"type": "response.content_part.done", "item_id": item_id, "output_index": 0, "content_index": 0, "part": part},
            {"type": "response.output_item.done", "output_index": 0, "item": item},
            {"type": "response.completed", "response": response("completed", [item])},
        ]
        for number, event in enumerate(events):
            event["sequence_number"] = number
        self._send_sse([(event["type"], event) for event in events])
        return 200

    def _chat(self, model, stream):
        text = self.server.reply
        chat_id = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        if not stream:
            self._send_json(
                200,
                {
                    "id": chat_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                },
            )
            return 200
        base = {"id": chat_id, "object": "chat.completion.chunk", "created": created, "model": model}
        self._send_sse(
            [
                (None, dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}])),
                (
                    None,
                    dict(
                        base,
                        choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}],
                        usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    ),
                ),
                (None, "[DONE]"),
            ]
        )
        return 200

    def do_GET(self):  # noqa: N802 - name fixed by the base class
        self._handle("GET")

    def do_POST(self):  # noqa: N802 - name fixed by the base class
        self._handle("POST")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--record", help="append every request as a JSON line to this file")
    parser.add_argument("--keys", default="", help="comma-separated accepted keys (empty: any non-empty key)")
    parser.add_argument("--models", default=",".join(CATALOG_MODELS), help="comma-separated model ids served")
    parser.add_argument("--lifetime", type=float, default=600.0, help="seconds before the server exits")
    parser.add_argument("--port-file", help="write the bound port to this file once listening")
    parser.add_argument("--reply", default="Hello from the LLMCloud stand-in.", help="text every answer carries")
    args = parser.parse_args(argv)

    server = StandIn(args.port, args.record, _split(args.keys), _split(args.models), args.reply)
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file, "w", encoding="utf-8") as handle:
            handle.write("%d\n" % port)
    print("LISTENING 127.0.0.1:%d" % port, flush=True)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    timer = threading.Timer(args.lifetime, stop)
    timer.daemon = True
    timer.start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        timer.cancel()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
