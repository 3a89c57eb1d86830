#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 proxy between pgsweep and an object store, for tests.

Usage: fault-proxy.py UPSTREAM_PORT FAULT

Listens on a free loopback port, prints it on the first line of stdout, and relays each
connection to 127.0.0.1:UPSTREAM_PORT, counting requests (1, 2, ...) across connections.
FAULT says what happens to them:
  none            relay everything
  drop:N          request N: forward its headers and half its body, then close both sides
  status:N:CODE   request N: answer CODE with an S3 error body, without forwarding it
  storm:N:CODE    requests N and later: answer CODE, without forwarding them
  stall:N         request N: read it, forward nothing, answer nothing, keep the connection
The requests are read whole (Content-Length bodies, as libcurl sends them); answers are
relayed as bytes.
"""
import socket
import sys
import threading

upstream_port = int(sys.argv[1])
fault = sys.argv[2].split(":")
lock = threading.Lock()
count = 0


def next_number():
    global count
    with lock:
        count += 1
        return count


def error_answer(code):
    reason = {500: "InternalError", 503: "SlowDown"}.get(code, "InjectedFault")
    body = f"<?xml version=\"1.0\"?><Error><Code>{reason}</Code><Message>injected by fault-proxy</Message></Error>".encode()
    return (f"HTTP/1.1 {code} Injected\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def read_request(client, buffered):
    """One request's head and body, and the bytes after it; None when the client closed."""
    while b"\r\n\r\n" not in buffered:
        chunk = client.recv(65536)
        if not chunk:
            return None
        buffered += chunk
    head, rest = buffered.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = client.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return head + b"\r\n\r\n", rest[:length], rest[length:]


def pipe_answers(upstream, client):
    try:
        while True:
            chunk = upstream.recv(65536)
            if not chunk:
                break
            client.sendall(chunk)
    except OSError:
        pass
    finally:
        try:
            client.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(client):
    upstream = socket.create_connection(("127.0.0.1", upstream_port))
    threading.Thread(target=pipe_answers, args=(upstream, client), daemon=True).start()
    buffered = b""
    try:
        while True:
            request = read_request(client, buffered)
            if request is None:
                break
            head, body, buffered = request
            number = next_number()
            kind = fault[0]
            if kind == "drop" and number == int(fault[1]):
                upstream.sendall(head + body[: len(body) // 2])
                break
            if (kind == "status" and number == int(fault[1])) or (kind == "storm" and number >= int(fault[1])):
                client.sendall(error_answer(int(fault[2])))
                continue
            if kind == "stall" and number == int(fault[1]):
                while client.recv(65536):
                    pass
                break
            upstream.sendall(head + body)
    except OSError:
        pass
    finally:
        for side in (client, upstream):
            try:
                side.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            side.close()


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print(listener.getsockname()[1], flush=True)
while True:
    connection, _ = listener.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
