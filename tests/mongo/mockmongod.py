#!/usr/bin/python3
"""mockmongod: a MongoDB-wire test server for callsig's integration tests.

    /usr/bin/python3 tests/mongo/mockmongod.py [--host 127.0.0.1] [--port 0] [--port-file FILE]
                                               [--rs] [--verbose]

Use Debian's /usr/bin/python3: the first python3 on PATH may be a pyenv that cannot see Debian's
dist-packages.  Once listening it writes the port to --port-file (temp file + rename) and prints
"READY <port>"; SIGTERM or SIGINT make it exit with status 0.

Design
* mockupdb (python3-mockupdb 1.8) accepts connections, one thread each, and parses OP_QUERY and
  OP_MSG frames (with document sequences).  Server replaces mockupdb's per-connection loop so that
  each request is handled while holding mockupdb's server lock: commands run one at a time, which
  makes every command (a findAndModify, an update_one compare-and-set) atomic.  Unparsable frames
  close the connection; a failing handler only produces an ok:0 reply.
* mongomock (python3-mongomock 4.1) stores the data and evaluates queries, updates and
  aggregations.  Engine maps each command onto it (one handler per command, see Engine.table) and
  shapes replies like mongod 6.0: writeErrors with code 11000 and keyPattern/keyValue, cursors
  with getMore, lastErrorObject, codes and codeNames.
* Where mongomock falls short it is patched or worked around: $inc/$mul keep int64 and promote
  int32 on overflow; $pull/$addToSet work below array indexes; "$", "$[]" and "$[id]" (with
  arrayFilters) are resolved to concrete indexes before mongomock sees the update; a document is
  restored if its update fails half-way; upserted documents get _id first; filters with a
  scalar _id look the document up instead of scanning; unique index builds honour
  partialFilterExpression.
* Replies are encoded with UUID representation "standard": subtype-4 UUIDs round-trip unchanged.
* configureFailPoint "failCommand" (admin db only): errorCode, errorLabels (RetryableWriteError is
  added like mongod does for retryable codes on retryable writes), closeConnection,
  blockConnection + blockTimeMS (other connections keep running), writeConcernError, appName, and
  modes "alwaysOn", "off", {times: N}, {skip: N}.
* Retryable writes: a retry of a session's last txnNumber gets the stored reply, not a re-run.

Limits: no transactions (code 20), no pipeline updates, collation or $text/geo; every other query
is a scan; TTL documents vanish at the next access rather than within 60 s.  See README.md.
"""

import argparse
import copy
import datetime
import itertools
import json
import os
import signal
import socket
import struct
import sys
import time
from collections import OrderedDict

import bson
import mockupdb
import mongomock
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions
from bson.int64 import Int64
from bson.objectid import ObjectId
from bson.regex import Regex
from bson.timestamp import Timestamp
from mongomock import collection as mm_collection
from mongomock import helpers as mm_helpers
from mongomock.filtering import filter_applies
from pymongo.errors import DuplicateKeyError, OperationFailure, WriteError

CODEC = CodecOptions(document_class=dict, uuid_representation=UuidRepresentation.STANDARD)
mockupdb.CODEC_OPTIONS = CODEC  # mockupdb decodes requests with this
MAX_BSON = 16 * 1024 * 1024
MISSING = object()
CODE_NAMES = {
    1: 'InternalError', 2: 'BadValue', 9: 'FailedToParse', 13: 'Unauthorized',
    14: 'TypeMismatch', 20: 'IllegalOperation', 26: 'NamespaceNotFound', 27: 'IndexNotFound',
    43: 'CursorNotFound', 48: 'NamespaceExists', 53: 'InvalidIdField', 59: 'CommandNotFound',
    66: 'ImmutableField', 67: 'CannotCreateIndex', 72: 'InvalidOptions', 73: 'InvalidNamespace',
    85: 'IndexOptionsConflict', 86: 'IndexKeySpecsConflict', 89: 'NetworkTimeout',
    91: 'ShutdownInProgress', 189: 'PrimarySteppedDown', 10107: 'NotWritablePrimary',
    11000: 'DuplicateKey', 11600: 'InterruptedAtShutdown'}
RETRYABLE_CODES = {6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436}
RETRYABLE_WRITES = {'insert', 'update', 'delete', 'findAndModify'}
UPDATE_OPS = {'$set', '$unset', '$inc', '$mul', '$min', '$max', '$rename', '$currentDate',
              '$setOnInsert', '$push', '$pull', '$pullAll', '$addToSet', '$pop'}


class CmdError(Exception):
    """A failure reported to the client as ok:0 or as a writeErrors entry."""

    def __init__(self, code, msg, **extra):
        super().__init__(msg)
        self.code, self.extra = code, extra


class Close(Exception):
    """failCommand closeConnection: drop the connection without replying."""


class Stop(Exception):
    """SIGTERM or SIGINT."""


def error_fields(exc):
    if isinstance(exc, CmdError):
        code, msg, extra = exc.code, str(exc), exc.extra
    elif isinstance(exc, OperationFailure):
        code, msg, extra = exc.code or 2, str(exc), {}
    else:  # a mongomock limitation or a bug here: report it, keep serving
        code, msg, extra = 1, '%s: %s' % (type(exc).__name__, exc), {}
    out = {'code': code, 'errmsg': msg}
    if code in CODE_NAMES:
        out['codeName'] = CODE_NAMES[code]
    out.update(extra)
    return out


# ---- document helpers and the update operators mongomock lacks or gets wrong ----

def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def bson_eq(a, b):
    """Equality as BSON sees it: field order matters and true != 1."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(bson_eq(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(bson_eq, a, b))
    return a == b if is_num(a) and is_num(b) else type(a) is type(b) and a == b


def get_path(node, part):
    if isinstance(node, dict):
        return node.get(part, MISSING)
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return MISSING


def put_path(node, part, value):
    if isinstance(node, list):
        node.extend([None] * (int(part) + 1 - len(node)))
        node[int(part)] = value
    else:
        node[part] = value


def id_first(doc):
    if isinstance(doc, dict) and '_id' in doc and next(iter(doc)) != '_id':
        rest = [(k, v) for k, v in doc.items() if k != '_id']
        _id = doc['_id']
        doc.clear()
        doc['_id'] = _id
        doc.update(rest)
    return doc


def store_key(_id):
    return mm_helpers.hashdict(_id) if isinstance(_id, dict) else _id


def fmt_value(v):
    if isinstance(v, str):
        return json.dumps(v)
    return "ObjectId('%s')" % v if isinstance(v, ObjectId) else 'null' if v is None else str(v)


def _arith(name, op):  # mongomock updaters are called as (parent, field, value)
    def updater(parent, field, value):
        old = get_path(parent, field)
        if not is_num(value):
            raise WriteError('Cannot %s with non-numeric argument: {%s: %r}'
                             % (name, field, value), 14)
        if old is MISSING:  # $inc: 0 + v, $mul: 0 of the multiplier's type
            old = type(value)(0)
        elif not is_num(old):
            raise WriteError("Cannot apply %s to a value of non-numeric type: field '%s' is a %s"
                             % (name, field, type(old).__name__), 14)
        res = op(old, value)
        if not isinstance(res, float) and (isinstance(old, Int64) or isinstance(value, Int64)
                                           or not -2 ** 31 <= res < 2 ** 31):
            res = Int64(res)
        put_path(parent, field, res)
    return updater


def pull_matches(cond, el):
    """Does array element `el` match a $pull (or $elemMatch) condition?"""
    if isinstance(cond, dict) and cond:
        if all(k.startswith('$') for k in cond) and not set(cond) & {'$and', '$or', '$nor'}:
            return filter_applies({'v': cond}, {'v': el})
        return isinstance(el, dict) and filter_applies(cond, el)
    return bson_eq(cond, el)


def _pull(parent, field, cond):
    arr = get_path(parent, field)
    if isinstance(arr, list):
        arr[:] = [el for el in arr if not pull_matches(cond, el)]
    elif arr is not MISSING:
        raise WriteError('Cannot apply $pull to a non-array value', 2)


def _add_to_set(parent, field, value):
    arr = get_path(parent, field)
    if arr is MISSING:
        arr = []
        put_path(parent, field, arr)
    if not isinstance(arr, list):
        raise WriteError("Cannot apply $addToSet to non-array field '%s'" % field, 2)
    for item in value['$each'] if isinstance(value, dict) and '$each' in value else [value]:
        if not any(bson_eq(item, x) for x in arr):
            arr.append(copy.deepcopy(item))


mm_collection._updaters.update({'$inc': _arith('$inc', lambda a, b: a + b),
                                '$mul': _arith('$mul', lambda a, b: a * b),
                                '$pull': _pull, '$addToSet': _add_to_set})
_scan_documents = mm_collection.Collection._iter_documents


def _iter_documents(self, filter):
    """Filters with {_id: <scalar>} look the document up instead of scanning the collection."""
    _id = filter.get('_id') if type(filter) is dict else None
    if isinstance(_id, (str, int, float, ObjectId, datetime.datetime)) and \
            not isinstance(_id, bool):
        try:
            doc = self._store[_id]
        except KeyError:
            return iter(())
        return iter([doc] if len(filter) == 1 or filter_applies(filter, doc) else [])
    return _scan_documents(self, filter)


mm_collection.Collection._iter_documents = _iter_documents


# ---- the command engine (every method runs with the server lock held) ----

class Conn(object):
    ids = itertools.count(1)

    def __init__(self, sock):
        self.sock, self.id, self.appname = sock, next(Conn.ids), None


class Engine(object):
    def __init__(self, rs=False, verbose=False):
        self.client = mongomock.MongoClient()
        self.rs, self.verbose, self.me = rs, verbose, '127.0.0.1:27017'
        self.cursors, self.failpoint = {}, None
        self.retries = OrderedDict()  # lsid id -> (txnNumber, reply)
        self.reply_ids = itertools.count(1)
        hello, fam = self.cmd_hello, self.cmd_find_and_modify
        self.table = {
            'hello': hello, 'isMaster': hello, 'ismaster': hello, 'ping': self.cmd_ok,
            'buildInfo': self.cmd_build_info, 'buildinfo': self.cmd_build_info,
            'insert': self.cmd_insert, 'update': self.cmd_update, 'delete': self.cmd_delete,
            'find': self.cmd_find, 'getMore': self.cmd_get_more,
            'killCursors': self.cmd_kill_cursors, 'count': self.cmd_count,
            'distinct': self.cmd_distinct, 'aggregate': self.cmd_aggregate,
            'findAndModify': fam, 'findandmodify': fam,
            'createIndexes': self.cmd_create_indexes, 'listIndexes': self.cmd_list_indexes,
            'dropIndexes': self.cmd_drop_indexes, 'create': self.cmd_create,
            'drop': self.cmd_drop, 'dropDatabase': self.cmd_drop_database,
            'listCollections': self.cmd_list_collections,
            'listDatabases': self.cmd_list_databases,
            'endSessions': self.cmd_ok, 'refreshSessions': self.cmd_ok,
            'commitTransaction': self.cmd_no_txn, 'abortTransaction': self.cmd_no_txn,
            'configureFailPoint': self.cmd_configure_fail_point}

    def handle(self, conn, req, unlocked):
        """Answer one request; False means: close the connection."""
        start = time.monotonic()
        if not isinstance(req, mockupdb.CommandBase):  # legacy opcodes: drivers do not use them
            if isinstance(req, (mockupdb.OpQuery, mockupdb.OpGetMore)):
                self.send(conn, req, {'$err': 'legacy opcodes are not supported', 'code': 2}, 2)
            return True
        cmd = req.doc.get('$query', req.doc)
        db, name = req.namespace, next(iter(cmd), '')
        try:
            reply = self.run(conn, db, name, cmd, unlocked)
            reply['ok'] = 1.0
        except Close:
            self.log(conn, db, name, cmd, 'closeConnection', start)
            return False
        except Exception as exc:
            reply = dict(ok=0.0, **error_fields(exc))
        if isinstance(req, mockupdb.OpMsg) and req.flags & mockupdb.OP_MSG_FLAGS['moreToCome']:
            status = 'w:0, no reply'
        else:
            try:
                self.send(conn, req, reply)
            except OSError:
                return False
            status = 'ok' if reply['ok'] else 'code %s' % reply['code']
        self.log(conn, db, name, cmd, status, start)
        return True

    def run(self, conn, db, name, cmd, unlocked):
        handler = self.table.get(name)
        if handler is None:
            raise CmdError(59, "no such command: '%s'" % name)
        wce = self.check_failpoint(conn, name, cmd, unlocked)
        if 'startTransaction' in cmd or 'autocommit' in cmd:
            self.cmd_no_txn()
        retry = None
        if name in RETRYABLE_WRITES and 'txnNumber' in cmd and isinstance(cmd.get('lsid'), dict):
            retry = (cmd['lsid'].get('id'), cmd['txnNumber'])
            if self.retries.get(retry[0], (None,))[0] == retry[1]:
                return copy.deepcopy(self.retries[retry[0]][1])
        reply = handler(conn, db, cmd)
        if retry:
            self.retries[retry[0]] = (retry[1], copy.deepcopy(reply))
            self.retries.move_to_end(retry[0])
            if len(self.retries) > 10000:
                self.retries.popitem(last=False)
        if wce:
            reply['writeConcernError'] = dict(wce)
        return reply

    def send(self, conn, req, doc, flags=0):
        try:
            body = bson.encode(doc, codec_options=CODEC)
        except Exception as exc:
            body = bson.encode(dict(ok=0.0, **error_fields(exc)))
        if isinstance(req, mockupdb.OpMsg):
            opcode, payload = 2013, struct.pack('<IB', 0, 0) + body
        else:  # OP_REPLY to an OP_QUERY (the handshake of older drivers)
            opcode, payload = 1, struct.pack('<iqii', flags, 0, 0, 1) + body
        conn.sock.sendall(struct.pack('<iiii', 16 + len(payload), next(self.reply_ids),
                                      req.request_id, opcode) + payload)

    def log(self, conn, db, name, cmd, status, start):
        if self.verbose:
            target = cmd.get(name) if isinstance(cmd.get(name), str) else ''
            sys.stderr.write('%s conn%d %s %s %s -> %s %.1fms\n' % (
                time.strftime('%H:%M:%S'), conn.id, db, name, target, status,
                (time.monotonic() - start) * 1000))
            sys.stderr.flush()

    def check_failpoint(self, conn, name, cmd, unlocked):
        """Apply failCommand; returns a writeConcernError to attach, if any."""
        fp = self.failpoint
        if not fp or name == 'configureFailPoint' or name not in fp['data']['failCommands']:
            return None
        data = fp['data']
        if data.get('appName') is not None and data['appName'] != conn.appname:
            return None
        if fp['skip'] > 0:
            fp['skip'] -= 1
            return None
        if fp['times'] is not None:
            fp['times'] -= 1
            if fp['times'] <= 0:
                self.failpoint = None
        if data.get('blockConnection'):
            with unlocked():  # other connections keep running meanwhile
                time.sleep(max(0, data.get('blockTimeMS', 0)) / 1000.0)
        if data.get('closeConnection'):
            raise Close()
        if data.get('errorCode') is not None:
            code, labels = int(data['errorCode']), data.get('errorLabels')
            if labels is None and code in RETRYABLE_CODES and name in RETRYABLE_WRITES \
                    and 'txnNumber' in cmd:
                labels = ['RetryableWriteError']
            extra = {'errorLabels': list(labels)} if labels else {}
            raise CmdError(code, "Failing command via 'failCommand' failpoint", **extra)
        return data.get('writeConcernError')

    # -- argument helpers --

    @staticmethod
    def arg(cmd, field, types, default=None, required=False):
        value = cmd.get(field)
        if value is None:
            if required:
                raise CmdError(40414, "BSON field '%s.%s' is missing but a required field"
                               % (next(iter(cmd)), field))
            return default
        if not isinstance(value, types):
            raise CmdError(14, "BSON field '%s.%s' is the wrong type '%s'"
                           % (next(iter(cmd)), field, type(value).__name__))
        return value

    def coll(self, db, cmd):
        name = cmd[next(iter(cmd))]
        if not db or set(db) & set(' ./\\"$\0'):
            raise CmdError(73, "Invalid database name: '%s'" % db)
        if not isinstance(name, str) or not name or set(name) & set('$\0') or \
                name.startswith('.') or name.endswith('.'):
            raise CmdError(73, "Invalid namespace specified '%s.%s'" % (db, name))
        return self.client[db][name]

    @staticmethod
    def sort_spec(sort):
        if not sort:
            return None
        if not isinstance(sort, dict) or not all(is_num(d) and d in (1, -1)
                                                 for d in sort.values()):
            raise CmdError(2, 'bad sort specification %s (only 1 and -1 are supported)' % sort)
        return [(k, int(d)) for k, d in sort.items()]

    @staticmethod
    def batch_size(value):
        if value is not None and (not is_num(value) or value < 0):
            raise CmdError(2, 'batchSize must be a non-negative number')
        return None if value is None else int(value)

    # -- cursors --

    def make_cursor(self, ns, docs, batch_size, single=False):
        first = self.take(docs, 101 if batch_size is None else batch_size)
        cid = 0
        if len(docs) > first and not single:
            cid = int.from_bytes(os.urandom(8), 'big') & (2 ** 63 - 1) or 1
            self.cursors[cid] = {'ns': ns, 'docs': docs[first:], 'used': time.monotonic()}
        return {'cursor': {'firstBatch': docs[:first], 'id': Int64(cid), 'ns': ns}}

    @staticmethod
    def take(docs, limit):
        """How many of `docs` fit in one batch (limit None: as many as fit in 16 MiB)."""
        n = size = 0
        while n < len(docs) and (limit is None or n < limit):
            size += len(bson.encode(docs[n], codec_options=CODEC))
            if n and size > MAX_BSON:
                break
            n += 1
        return n

    # -- command handlers: each returns its reply without 'ok' --

    def cmd_ok(self, conn, db, cmd):
        return {}

    def cmd_no_txn(self, *_):
        raise CmdError(20, 'Transactions are not supported by mockmongod')

    def cmd_hello(self, conn, db, cmd):
        app = cmd.get('client', {}).get('application') if isinstance(cmd.get('client'), dict) \
            else None
        if isinstance(app, dict):
            conn.appname = app.get('name')
        now = datetime.datetime.utcnow()
        # No topologyVersion: libmongoc pools would switch to streaming hello with the
        # exhaustAllowed flag, which mockupdb cannot serve.
        reply = {'helloOk': True, 'isWritablePrimary' if next(iter(cmd)) == 'hello'
                 else 'ismaster': True, 'maxBsonObjectSize': MAX_BSON,
                 'maxMessageSizeBytes': 48000000, 'maxWriteBatchSize': 100000, 'localTime': now,
                 'logicalSessionTimeoutMinutes': 30, 'connectionId': conn.id,
                 'minWireVersion': 0, 'maxWireVersion': 17, 'readOnly': False}
        if self.rs:
            reply.update(setName='rs0', setVersion=1, hosts=[self.me], primary=self.me,
                         me=self.me, secondary=False,
                         electionId=ObjectId('7fffffff0000000000000001'),
                         lastWrite={'opTime': {'ts': Timestamp(int(time.time()), 1),
                                               't': Int64(1)}, 'lastWriteDate': now})
        return reply

    def cmd_build_info(self, conn, db, cmd):
        return {'version': '6.0.0', 'versionArray': [6, 0, 0, 0], 'gitVersion': 'mockmongod',
                'bits': 64, 'debug': False, 'maxBsonObjectSize': MAX_BSON}

    def cmd_configure_fail_point(self, conn, db, cmd):
        if db != 'admin':
            raise CmdError(13, 'configureFailPoint may only be run against the admin database.')
        if cmd['configureFailPoint'] != 'failCommand':
            raise CmdError(2, 'mockmongod only implements the failCommand failpoint')
        mode, data = cmd.get('mode'), self.arg(cmd, 'data', dict, {})
        if mode == 'off':
            self.failpoint = None
            return {'count': 0}
        if mode == 'alwaysOn':
            times, skip = None, 0
        elif isinstance(mode, dict) and mode and set(mode) <= {'times', 'skip'}:
            times, skip = mode.get('times'), int(mode.get('skip', 0))
        else:
            raise CmdError(2, 'mode must be "alwaysOn", "off", {times: N} or {skip: N}')
        if not isinstance(data.get('failCommands'), list):
            raise CmdError(2, 'data.failCommands must be an array of command names')
        on = times is None or times > 0
        self.failpoint = {'times': times, 'skip': skip, 'data': data} if on else None
        return {'count': 0}

    def write_error(self, index, exc):
        fields = error_fields(exc)
        fields.pop('codeName', None)
        return dict(index=index, **fields)

    def write_batch(self, cmd, field, one):
        """Run one(i, statement) over a write command's statements: (reply, counts)."""
        errors = []
        for i, st in enumerate(self.arg(cmd, field, list, required=True)):
            try:
                if not isinstance(st, dict):
                    raise CmdError(14, "'%s' entries must be documents" % field)
                one(i, st)
            except Exception as exc:
                errors.append(self.write_error(i, exc))
                if cmd.get('ordered', True):
                    break
        return {'writeErrors': errors} if errors else {}

    def cmd_insert(self, conn, db, cmd):
        coll, n = self.coll(db, cmd), [0]

        def one(i, doc):
            doc = id_first(dict(doc)) if '_id' in doc else dict(_id=ObjectId(), **doc)
            if isinstance(doc['_id'], (list, Regex)):
                raise CmdError(53, "The '_id' value cannot be of type %s"
                               % type(doc['_id']).__name__)
            try:
                coll.insert_one(doc)
            except DuplicateKeyError:
                raise self.dup_error(coll, doc, check_id=True)
            n[0] += 1
        errors = self.write_batch(cmd, 'documents', one)
        return dict({'n': n[0]}, **errors)

    def cmd_update(self, conn, db, cmd):
        coll, counts, upserted = self.coll(db, cmd), [0, 0], []

        def one(i, st):
            m, mod, up = self.update(coll, st.get('q') or {}, st.get('u'), bool(st.get('multi')),
                                     bool(st.get('upsert')), st.get('arrayFilters'))
            counts[0] += m + (up is not MISSING)
            counts[1] += mod
            if up is not MISSING:
                upserted.append({'index': i, '_id': up})
        errors = self.write_batch(cmd, 'updates', one)
        reply = {'n': counts[0], 'nModified': counts[1]}
        if upserted:
            reply['upserted'] = upserted
        return dict(reply, **errors)

    def cmd_delete(self, conn, db, cmd):
        coll, n = self.coll(db, cmd), [0]

        def one(i, st):
            if st.get('limit', 0) not in (0, 1):
                raise CmdError(9, 'The limit field in delete objects must be 0 or 1. Got %s'
                               % st['limit'])
            n[0] += (coll.delete_one if st.get('limit') else coll.delete_many)(
                st.get('q') or {}).deleted_count
        errors = self.write_batch(cmd, 'deletes', one)
        return dict({'n': n[0]}, **errors)

    # -- updates: mongomock does the work, one document at a time --

    @staticmethod
    def check_update(u, multi):
        """Validate an update document; True if it is a replacement."""
        if isinstance(u, list):
            raise CmdError(2, 'pipeline-style updates are not supported by mockmongod')
        if not isinstance(u, dict):
            raise CmdError(14, 'the update must be a document')
        if not any(k.startswith('$') for k in u):
            if multi:
                raise CmdError(9, 'multi update is not supported for replacement-style update')
            return True
        for key, fields in u.items():
            if key not in UPDATE_OPS:
                raise CmdError(9, 'Unknown modifier: %s. Expected a valid update modifier or '
                               'pipeline-style update specified as an array' % key)
            if not isinstance(fields, dict):
                raise CmdError(9, 'Modifiers operate on fields but we found type %s instead'
                               % type(fields).__name__)
        return False

    def update(self, coll, q, u, multi, upsert, array_filters, docs=None):
        """Run one update statement; returns (matched, modified, upserted _id or MISSING)."""
        repl = self.check_update(u, multi)
        if not isinstance(q, dict):
            raise CmdError(14, 'the query must be a document')
        filters = self.array_filters(u, array_filters, repl)
        if docs is None:
            docs = list(coll.find(q, limit=0 if multi else 1))
        modified = 0
        for old in docs:
            if repl and '_id' in u and not bson_eq(u['_id'], old['_id']):
                raise CmdError(66, "After applying the update, the (immutable) field '_id' was "
                               "found to have been altered to _id: %s" % fmt_value(u['_id']))
            new = u if repl else {op: self.expand_fields(fields, old, q, filters)
                                  for op, fields in u.items()}
            try:
                res = (coll.replace_one if repl else coll.update_one)({'_id': old['_id']}, new)
            except Exception as exc:
                coll._store[store_key(old['_id'])] = old  # undo a half-applied update
                if isinstance(exc, DuplicateKeyError):
                    raise self.dup_error(coll, self.simulate(old, q, new, repl), check_id=False)
                if isinstance(exc, OperationFailure) and 'immutable' in str(exc):
                    raise CmdError(66, str(exc))
                raise
            modified += res.modified_count or 0
        if docs or not upsert:
            return len(docs), modified, MISSING
        if not repl and any(p.startswith('$') for f in u.values() for path in f
                            for p in path.split('.')):
            raise CmdError(2, 'The positional operator did not find the match needed from the '
                           'query.')
        try:
            res = (coll.replace_one if repl else coll.update_one)(q, u, upsert=True)
        except DuplicateKeyError:
            raise self.dup_error(coll, self.simulate(None, q, u, repl), check_id=True)
        if store_key(res.upserted_id) in coll._store:  # unless a TTL index removed it
            id_first(coll._store[store_key(res.upserted_id)])
        return 0, 0, res.upserted_id

    @staticmethod
    def array_filters(u, array_filters, repl):
        filters = {}
        for f in array_filters or []:
            if not isinstance(f, dict) or not f:
                raise CmdError(9, 'arrayFilters entries must be non-empty documents')
            key = next(iter(f))
            while key.startswith('$') and isinstance(f[key], list) and f[key]:  # $and/$or
                key = next(iter(f[key][0]), '')
            filters[key.split('.')[0]] = f
        if filters and repl:
            raise CmdError(9, 'arrayFilters may not be used with a replacement-style update')
        used = {p[2:-1] for fields in ([] if repl else u.values()) for path in fields
                for p in path.split('.') if p.startswith('$[') and p != '$[]'}
        for ident in set(filters) - used:
            raise CmdError(9, "The array filter for identifier '%s' was not used in the update"
                           % ident)
        return filters

    def expand_fields(self, fields, doc, q, filters):
        """Rewrite the $, $[] and $[id] parts of update paths as indexes into `doc`."""
        out = {}
        for path, value in fields.items():
            parts, found = path.split('.'), []
            if not any(p.startswith('$') for p in parts):
                out[path] = value
                continue
            self.walk(doc, parts, [], q, filters, found)
            out.update((concrete, value) for concrete in found)
        return out

    def walk(self, node, parts, prefix, q, filters, found):
        if len(prefix) == len(parts):
            found.append('.'.join(prefix))
            return
        part = parts[len(prefix)]
        if not (part == '$' or part.startswith('$[') and part.endswith(']')):
            return self.walk(get_path(node, part), parts, prefix + [part], q, filters, found)
        if not isinstance(node, list):
            raise CmdError(2, "The path '%s' must exist in the document in order to apply array "
                           "updates." % '.'.join(prefix))
        if part == '$':
            idx = [self.positional(node, '.'.join(p for p in prefix if not p.isdigit()), q)]
        elif part == '$[]':
            idx = range(len(node))
        else:
            ident = part[2:-1]
            if ident not in filters:
                raise CmdError(2, "No array filter found for identifier '%s' in path '%s'"
                               % (ident, '.'.join(parts)))
            idx = [j for j, el in enumerate(node) if filter_applies(filters[ident], {ident: el})]
        for j in idx:
            self.walk(node[j], parts, prefix + [str(j)], q, filters, found)

    @staticmethod
    def positional(arr, where, q):
        """Index of the element of array `where` that the query matched (for "$")."""
        conds = []

        def collect(query):
            for key, cond in query.items():
                if key == '$and' and isinstance(cond, list):
                    for sub in cond:
                        collect(sub)
                elif key == where and isinstance(cond, dict) and '$elemMatch' in cond:
                    conds.append(lambda el, c=cond['$elemMatch']: pull_matches(c, el))
                elif key == where:
                    conds.append(lambda el, c=cond: filter_applies({'v': c}, {'v': el}))
                elif key.startswith(where + '.'):
                    sub = {key[len(where) + 1:]: cond}
                    conds.append(lambda el, s=sub: isinstance(el, dict) and filter_applies(s, el))
        collect(q)
        for j, el in enumerate(arr):
            if conds and all(c(el) for c in conds):
                return j
        raise CmdError(2, 'The positional operator did not find the match needed from the query.')

    @staticmethod
    def simulate(old, q, u, repl):
        """The document an update would produce, computed on a scratch copy."""
        try:
            scratch = mongomock.MongoClient().db.scratch
            if old is not None:
                scratch.insert_one(copy.deepcopy(old))
                q = {'_id': old['_id']}
            (scratch.replace_one if repl else scratch.update_one)(q, u, upsert=old is None)
            return scratch.find_one()
        except Exception:
            return None

    def dup_error(self, coll, doc, check_id):
        """Turn mongomock's bare DuplicateKeyError into mongod's E11000 with the index."""
        ns = coll.full_name
        if doc is not None and check_id and coll.find_one({'_id': doc['_id']}) is not None:
            return self.e11000(ns, '_id_', {'_id': 1}, {'_id': doc['_id']})
        for name, index in coll._store.indexes.items() if doc is not None else ():
            values, pfe = self.index_values(doc, index['key']), index.get('partialFilterExpression')
            if not index.get('unique') or pfe and not filter_applies(pfe, doc) or \
                    index.get('sparse') and all(v is None for v in values.values()):
                continue
            if coll.find_one({'$and': [values, {'_id': {'$ne': doc['_id']}}, pfe or {}]}):
                return self.e11000(ns, name, dict(index['key']), values)
        return CmdError(11000, 'E11000 duplicate key error collection: %s' % ns)

    @staticmethod
    def e11000(ns, name, pattern, values):
        shown = ', '.join('%s: %s' % (k, fmt_value(v)) for k, v in values.items())
        return CmdError(11000, 'E11000 duplicate key error collection: %s index: %s dup key: '
                        '{ %s }' % (ns, name, shown), keyPattern=pattern, keyValue=values)

    @staticmethod
    def index_values(doc, key):
        values = {}
        for field, _ in key:
            try:
                values[field] = mm_helpers.get_value_by_dot(doc, field)
            except KeyError:
                values[field] = None
        return values

    # -- reads --

    def cmd_find(self, conn, db, cmd):
        coll = self.coll(db, cmd)
        skip = int(self.arg(cmd, 'skip', (int, float), 0))
        limit = int(self.arg(cmd, 'limit', (int, float), 0))
        batch, single = self.batch_size(cmd.get('batchSize')), bool(cmd.get('singleBatch'))
        if limit < 0:
            limit, single = -limit, True
        if skip < 0:
            raise CmdError(2, 'skip value must be non-negative, but received: %d' % skip)
        docs = [id_first(d) for d in coll.find(
            self.arg(cmd, 'filter', dict, {}), projection=self.arg(cmd, 'projection', dict) or None,
            sort=self.sort_spec(cmd.get('sort')), skip=skip, limit=limit)]
        if limit and batch is None:
            batch = limit
        return self.make_cursor(coll.full_name, docs, batch, single)

    def cmd_get_more(self, conn, db, cmd):
        cid, now = self.arg(cmd, 'getMore', int, required=True), time.monotonic()
        for stale in [k for k, c in self.cursors.items() if now - c['used'] > 600]:
            del self.cursors[stale]
        cursor = self.cursors.get(cid)
        if cursor is None:
            raise CmdError(43, 'cursor id %d not found' % cid)
        n = self.take(cursor['docs'], self.batch_size(cmd.get('batchSize')) or None)
        docs, cursor['docs'], cursor['used'] = cursor['docs'][:n], cursor['docs'][n:], now
        if not cursor['docs']:
            del self.cursors[cid]
            cid = 0
        return {'cursor': {'nextBatch': docs, 'id': Int64(cid), 'ns': cursor['ns']}}

    def cmd_kill_cursors(self, conn, db, cmd):
        killed, missing = [], []
        for cid in self.arg(cmd, 'cursors', list, []):
            (killed if self.cursors.pop(cid, None) else missing).append(cid)
        return {'cursorsKilled': killed, 'cursorsNotFound': missing, 'cursorsAlive': [],
                'cursorsUnknown': []}

    def cmd_count(self, conn, db, cmd):
        n = self.coll(db, cmd).count_documents(self.arg(cmd, 'query', dict, {}))
        n = max(0, n - int(self.arg(cmd, 'skip', (int, float), 0)))
        limit = abs(int(self.arg(cmd, 'limit', (int, float), 0)))
        return {'n': min(n, limit) if limit else n}

    def cmd_distinct(self, conn, db, cmd):
        coll, key = self.coll(db, cmd), self.arg(cmd, 'key', str, required=True)
        return {'values': coll.distinct(key, self.arg(cmd, 'query', dict, {}))}

    def cmd_aggregate(self, conn, db, cmd):
        if not isinstance(cmd.get('aggregate'), str) or cmd.get('explain'):
            raise CmdError(2, 'collection-less aggregate and explain are not supported by '
                           'mockmongod')
        coll = self.coll(db, cmd)
        pipeline = self.arg(cmd, 'pipeline', list, required=True)
        batch = self.batch_size(self.arg(cmd, 'cursor', dict, required=True).get('batchSize'))
        return self.make_cursor(coll.full_name, [id_first(d) for d in coll.aggregate(pipeline)],
                                batch)

    def cmd_find_and_modify(self, conn, db, cmd):
        coll, q = self.coll(db, cmd), self.arg(cmd, 'query', dict, {})
        u, remove = cmd.get('update'), bool(cmd.get('remove'))
        new, upsert = bool(cmd.get('new')), bool(cmd.get('upsert'))
        if not remove and u is None:
            raise CmdError(9, 'Either an update or remove=true must be specified')
        if remove and (u is not None or new or upsert):
            raise CmdError(9, 'remove=true cannot be combined with update, new or upsert')
        old = next(iter(coll.find(q, sort=self.sort_spec(cmd.get('sort')), limit=1)), None)
        last, value = {'n': int(old is not None)}, old
        if remove and old is not None:
            coll.delete_one({'_id': old['_id']})
        elif not remove:
            _, _, up = self.update(coll, q, u, False, upsert, cmd.get('arrayFilters'),
                                   docs=[] if old is None else [old])
            last['updatedExisting'] = old is not None
            if up is not MISSING:
                last.update(n=1, upserted=up)
            if new and (old is not None or up is not MISSING):
                value = coll.find_one({'_id': old['_id'] if old is not None else up})
        fields = self.arg(cmd, 'fields', dict)
        if value is not None and fields:
            value = coll._copy_only_fields(value, dict(fields), dict)
        return {'lastErrorObject': last, 'value': None if value is None else id_first(value)}

    # -- indexes and namespaces --

    def cmd_create_indexes(self, conn, db, cmd):
        coll = self.coll(db, cmd)
        specs, store = self.arg(cmd, 'indexes', list, required=True), coll._store
        existed, before = bool(store.is_created), len(store.indexes) + 1
        for spec in specs:
            if not isinstance(spec, dict) or not isinstance(spec.get('key'), dict) or \
                    not isinstance(spec.get('name'), str) or not spec['name']:
                raise CmdError(9, 'each index needs a key document and a name')
            key, name = list(spec['key'].items()), spec['name']
            if not key or not all(isinstance(d, str) or is_num(d) and d != 0 for _, d in key):
                raise CmdError(67, 'bad index key pattern %s' % spec['key'])
            if 'expireAfterSeconds' in spec and not is_num(spec['expireAfterSeconds']):
                raise CmdError(2, 'expireAfterSeconds must be a number')
            index = {k: v for k, v in spec.items() if k not in ('name', 'v', 'ns', 'background')}
            index['key'] = key
            if key == [('_id', 1)] or store.indexes.get(name) == index:
                continue
            if name in store.indexes:
                raise CmdError(85 if store.indexes[name]['key'] == key else 86, 'An existing '
                               'index has the same name as the requested index: %s' % name)
            for other, existing in store.indexes.items():
                if existing['key'] == key:
                    raise CmdError(85, 'Index already exists with a different name: %s' % other)
            if index.get('unique'):
                self.check_unique(coll, name, index)
            store.create_index(name, index)  # mongomock enforces unique, sparse, partial, TTL
        store.create()
        reply = {'numIndexesBefore': before if existed else 1,
                 'numIndexesAfter': len(store.indexes) + 1,
                 'createdCollectionAutomatically': not existed}
        if reply['numIndexesBefore'] == reply['numIndexesAfter']:
            reply['note'] = 'all indexes already exist'
        return reply

    def check_unique(self, coll, name, index):
        """Existing documents must satisfy a new unique index (honouring partial/sparse)."""
        seen = set()
        for doc in coll.find(index.get('partialFilterExpression') or {}):
            values = self.index_values(doc, index['key'])
            if index.get('sparse') and all(v is None for v in values.values()):
                continue
            packed = bson.encode({'k': list(values.values())}, codec_options=CODEC)
            if packed in seen:
                raise self.e11000(coll.full_name, name, dict(index['key']), values)
            seen.add(packed)

    def cmd_list_indexes(self, conn, db, cmd):
        coll = self.coll(db, cmd)
        if not coll._store.is_created:
            raise CmdError(26, 'ns does not exist: %s' % coll.full_name)
        out = [{'v': 2, 'key': {'_id': 1}, 'name': '_id_'}]
        for name, index in coll._store.indexes.items():
            out.append(dict({'v': 2, 'key': dict(index['key']), 'name': name},
                            **{k: v for k, v in index.items() if k != 'key'}))
        return self.make_cursor(coll.full_name, out,
                                self.batch_size((cmd.get('cursor') or {}).get('batchSize')))

    def cmd_drop_indexes(self, conn, db, cmd):
        coll = self.coll(db, cmd)
        store, target = coll._store, cmd.get('index')
        if not store.is_created:
            raise CmdError(26, 'ns not found %s' % coll.full_name)
        before = len(store.indexes) + 1
        if target == '*':
            names = list(store.indexes)
        elif isinstance(target, (str, list)):
            names = [target] if isinstance(target, str) else target
        elif isinstance(target, dict):
            key = list(target.items())
            names = ['_id_'] if key == [('_id', 1)] else \
                [n for n, ix in store.indexes.items() if ix['key'] == key]
            if not names:
                raise CmdError(27, "can't find index with key: %s" % target)
        else:
            raise CmdError(14, 'index must be a name, a list of names, a key pattern or "*"')
        for name in names:
            if name == '_id_':
                raise CmdError(72, 'cannot drop _id index')
            if name not in store.indexes:
                raise CmdError(27, 'index not found with name [%s]' % name)
        for name in names:
            store.drop_index(name)
        return {'nIndexesWas': before}

    def cmd_create(self, conn, db, cmd):
        coll = self.coll(db, cmd)  # options (capped, validator, ...) are ignored
        if coll._store.is_created:
            raise CmdError(48, 'Collection %s already exists.' % coll.full_name)
        coll._store.create()
        return {}

    def cmd_drop(self, conn, db, cmd):
        coll = self.coll(db, cmd)
        if not coll._store.is_created:
            raise CmdError(26, 'ns not found')
        was = len(coll._store.indexes) + 1
        coll._store.drop()
        self.kill_cursors(coll.full_name)
        return {'nIndexesWas': was, 'ns': coll.full_name}

    def kill_cursors(self, ns):
        for cid in [k for k, c in self.cursors.items() if c['ns'] == ns
                    or c['ns'].startswith(ns + '.')]:
            del self.cursors[cid]

    def cmd_drop_database(self, conn, db, cmd):
        self.client.drop_database(db)
        self.kill_cursors(db)
        return {'dropped': db}

    def cmd_list_collections(self, conn, db, cmd):
        out = []
        for name in sorted(self.client._store[db].list_created_collection_names()):
            entry = {'name': name, 'type': 'collection'}
            if not cmd.get('nameOnly'):
                entry.update(options={}, info={'readOnly': False},
                             idIndex={'v': 2, 'key': {'_id': 1}, 'name': '_id_'})
            if filter_applies(self.arg(cmd, 'filter', dict, {}), entry):
                out.append(entry)
        return self.make_cursor('%s.$cmd.listCollections' % db, out,
                                self.batch_size((cmd.get('cursor') or {}).get('batchSize')))

    def cmd_list_databases(self, conn, db, cmd):
        out, total = [], 0
        for name in sorted(self.client._store.list_created_database_names()):
            dbs = self.client._store[name]
            size = sum(len(bson.encode(d, codec_options=CODEC))
                       for c in dbs.list_created_collection_names() for d in dbs[c].documents)
            entry = {'name': name} if cmd.get('nameOnly') else \
                {'name': name, 'sizeOnDisk': Int64(size), 'empty': size == 0}
            if filter_applies(self.arg(cmd, 'filter', dict, {}), entry):
                out.append(entry)
                total += size
        return {'databases': out, 'totalSize': Int64(total)}


# ---- the server ----

class Server(mockupdb.MockupDB):
    """mockupdb's listener, accept thread and framing, with our own per-connection loop."""

    def __init__(self, engine, host, port):
        super().__init__(port=port, request_timeout=int(1e6))
        self._address, self.engine = (host, port), engine

    def _server_loop(self, client, client_addr):
        conn = Conn(client)
        try:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self._lock.acquire()
        try:
            while not self._stopped:
                try:
                    with self._unlock():  # other connections run while this one reads
                        req = mockupdb.mock_server_receive_request(client, self)
                except Exception:  # peer closed or reset, or an unparsable frame
                    break
                try:
                    if not self.engine.handle(conn, req, self._unlock):
                        break
                except Exception as exc:  # a bug in the reply path: drop only this connection
                    sys.stderr.write('mockmongod: dropping conn%d: %r\n' % (conn.id, exc))
                    break
        finally:
            self._lock.release()
            for call in (lambda: client.shutdown(socket.SHUT_RDWR), client.close):
                try:
                    call()
                except OSError:
                    pass

    def shutdown(self):
        self._stopped = True
        socks = []
        try:
            self._listening_sock.close()
            for _ in range(3):
                try:
                    socks = list(self._server_socks)
                    break
                except RuntimeError:  # the accept thread added a socket meanwhile
                    pass
        except (OSError, AttributeError):  # AttributeError: never started
            pass
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main(argv=None):
    parser = argparse.ArgumentParser(description='MongoDB-wire test server (mockupdb+mongomock)')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0, help='0 (default) picks a free port')
    parser.add_argument('--port-file', help='write the port number to this file')
    parser.add_argument('--rs', action='store_true', help='advertise replica set "rs0"')
    parser.add_argument('--verbose', action='store_true', help='log each command to stderr')
    args = parser.parse_args(argv)

    def on_signal(*_):
        raise Stop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    engine = Engine(rs=args.rs, verbose=args.verbose)
    server = Server(engine, args.host, args.port)
    try:
        try:
            port = server.run()
        except OSError as exc:
            sys.stderr.write('mockmongod: cannot listen on %s:%d: %s\n'
                             % (args.host, args.port, exc))
            return 1
        engine.me = '%s:%d' % ('127.0.0.1' if args.host in ('', '0.0.0.0') else args.host, port)
        if args.port_file:
            tmp = '%s.tmp%d' % (args.port_file, os.getpid())
            with open(tmp, 'w') as f:
                f.write('%d\n' % port)
            os.replace(tmp, args.port_file)
        print('READY %d' % port, flush=True)
        while True:
            time.sleep(3600)
    except Stop:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
    server.shutdown()
    if args.port_file:
        try:
            os.unlink(args.port_file)
        except OSError:
            pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # connection threads are daemons: do not wait for them


if __name__ == '__main__':
    sys.exit(main())
