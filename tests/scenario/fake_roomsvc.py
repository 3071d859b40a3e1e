#!/usr/bin/python3
"""fake_roomsvc: a stand-in for LiveKit's RoomService (Twirp over HTTP) in scenario 0061.

    /usr/bin/python3 fake_roomsvc.py --dir DIR

Listens on 127.0.0.1 (a free port, written to DIR/port once listening) and answers
POST /twirp/livekit.RoomService/<Method>. Every request is appended to DIR/requests as one JSON
line {"t": unix seconds, "method", "auth" (the Authorization header), "body" (parsed JSON),
"status" (what was answered, or "hang")}, written when the request arrives for hangs and when it
is answered otherwise.

Behaviour comes from DIR/mode, read at each request:
  ok        200 {}
  fail N    500 {"code":"internal"} for the first N requests of each distinct body, then 200
  hang      no answer until the mode changes (or 60 s)
  notfound  404 {"code":"not_found"}
"""
import argparse
import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
SEEN = {}


def mode():
    try:
        with open(os.path.join(ARGS.dir, 'mode')) as f:
            return f.read().split()
    except OSError:
        return ['ok']


def record(entry):
    with open(os.path.join(ARGS.dir, 'requests'), 'a') as f:
        f.write(json.dumps(entry) + '\n')


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def answer(self, status, doc):
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get('Content-Length', '0')))
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode('utf-8', 'replace')
        entry = {'t': time.time(), 'method': self.path.rsplit('/', 1)[-1],
                 'path': self.path, 'auth': self.headers.get('Authorization', ''),
                 'ctype': self.headers.get('Content-Type', ''), 'body': body}
        m = mode()
        if m[0] == 'hang':
            record(dict(entry, status='hang'))
            end = time.time() + 60
            while time.time() < end and mode()[0] == 'hang':
                time.sleep(0.05)
            return  # the client gave up long ago; close without answering
        status, doc = 200, {}
        if m[0] == 'fail':
            key = json.dumps([self.path, body], sort_keys=True)
            SEEN[key] = SEEN.get(key, 0) + 1
            if SEEN[key] <= int(m[1]):
                status, doc = 500, {'code': 'internal', 'msg': 'fake failure'}
        elif m[0] == 'notfound':
            status, doc = 404, {'code': 'not_found', 'msg': 'participant not found'}
        record(dict(entry, status=status))
        self.answer(status, doc)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument('--dir', required=True)
    ARGS = p.parse_args()
    srv = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    srv.daemon_threads = True
    tmp = os.path.join(ARGS.dir, 'port.tmp')
    with open(tmp, 'w') as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, os.path.join(ARGS.dir, 'port'))
    srv.serve_forever()


if __name__ == '__main__':
    main()
