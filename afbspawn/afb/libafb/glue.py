"""What afb-libpython does not expose, reached through ctypes (re-check on a framework upgrade).

Each entry is a measured need (docs/hosts.md, "libafb beside asyncio"):

* keeping a request alive after its verb callback returned (`PyRqtAddref`/`PyRqtUnref` of
  the glue, on the glue handle behind the request capsule) so that asyncio replies later;
* waking libafb's event loop after a reply, push or call made from the asyncio thread
  (`afb_ev_mgr_wakeup`): otherwise it stays queued until some other activity;
* the job queue: `evtpush` drops pushes silently past its bound, so pushes wait below it
  (`afb_jobs_get_pending_count`) and the bound is raised (`afb_jobs_set_max_count`);
* the session cap of 10 that libafb-binder never raises (`afb_session_init`);
* error replies whose info is plain text: the glue turns every Python value into JSON, so
  a `str` would arrive quoted (`"\"invalid action\""`); the C spawn-binding replies a
  string datum, which libafb copies as-is into `info` (`afb_req_v4_reply_hookable`);
* a verb's arguments: the glue hands scalars over as their text (`5`, `"5"`, `true` and
  `null` all arrive as strings), so they are read from the request's data
  (`afb_req_v4_parameters`) as JSON;
* internal calls: `libafb.callasync` releases the call's arguments once more after libafb
  took them (a double release that crashes the called verb), so calls are made with
  `afb_api_v4_call_hookable` and JSON-text arguments;
* asking the permission backend directly (`afb_perm_check_async`) whether it denies a
  permission nobody holds: a framework built without a backend grants everything, and a
  permission it cannot enforce must not be served (docs/hosts.md, "Permissions");
* replacing the glue's implicit `info` verb by the API's own (the spawn `info` reply):
  the glue registers `info` itself and refuses a second one, so its verb record is pointed
  at the glue's ordinary verb trampoline with our handler (`afb_api_v4_verb_at`);
* verbs added by a live reload: libafb seals an API once the binder runs (`verbadd` then
  answers "permission denied"), and its dynamic verb table is sorted and reallocated without
  a lock while other threads look verbs up. The API's *static* table is scanned linearly
  and read through one pointer, so a reload builds a new table and stores that pointer
  (`set_static_verbs`); old tables are kept, a libafb thread may still be scanning one.
  Where libafb keeps the pointer is found on the first API: the API record is searched for
  the dynamic table whose entries `afb_api_v4_verb_at` returns; the static one precedes it.
"""
from __future__ import annotations

import ctypes
import itertools
import json
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

CAPSULE_NAME = b"#afb#"
API_RECORD_SEARCH = 256  # bytes of libafb's `struct afb_api_v4` searched for its static table pointer
REQUEST_REPLIED_OFFSET = 16  # GlueHandleT: magic, usage, then rqt {api *, int replied, afb_req_t afb}
REQUEST_AFB_OFFSET = 24


class VerbRecord(ctypes.Structure):
    """libafb's `struct afb_verb_v4` (afb-binding-v4.h)."""

    _fields_ = [("verb", ctypes.c_char_p), ("callback", ctypes.c_void_p), ("auth", ctypes.c_void_p),
                ("info", ctypes.c_void_p), ("vcbdata", ctypes.c_void_p), ("session", ctypes.c_uint16),
                ("glob", ctypes.c_uint16)]


class VerbData(ctypes.Structure):
    """libafb-binder's `AfbVcbDataT`: the glue's trampoline reads `magic` and `callback`."""

    _fields_ = [("magic", ctypes.c_void_p), ("configJ", ctypes.c_void_p), ("uid", ctypes.c_char_p),
                ("callback", ctypes.c_void_p), ("thread", ctypes.c_void_p), ("userdata", ctypes.c_void_p),
                ("state", ctypes.c_void_p)]


CallDone = Callable[[int, list[Any]], None]
CALL_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_uint,
                                 ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p)
CHECK_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int)


class Glue:
    """Typed access to the C functions above, bound once to the loaded libafb module."""

    def __init__(self, libafb: ModuleType) -> None:
        lib = ctypes.CDLL(libafb.__file__)  # its dependencies (libafb, libafb-binder) are searched too
        self._capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
        self._capsule_pointer.restype = ctypes.c_void_p
        self._capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
        self._addref = _function(lib.PyRqtAddref, None, ctypes.c_void_p)
        self._unref = _function(lib.PyRqtUnref, None, ctypes.c_void_p)
        self._api_of = _function(lib.GlueGetApi, ctypes.c_void_p, ctypes.c_void_p)
        self._wakeup = _function(lib.afb_ev_mgr_wakeup, ctypes.c_int)
        self._pending = _function(lib.afb_jobs_get_pending_count, ctypes.c_int)
        self._max_jobs = _function(lib.afb_jobs_get_max_count, ctypes.c_int)
        self._set_max_jobs = _function(lib.afb_jobs_set_max_count, None, ctypes.c_int)
        self._session_init = _function(lib.afb_session_init, ctypes.c_int, ctypes.c_int, ctypes.c_int)
        self._verb_count = _function(lib.afb_api_v4_verb_count, ctypes.c_uint, ctypes.c_void_p)
        self._verb_at = _function(lib.afb_api_v4_verb_at, ctypes.POINTER(VerbRecord), ctypes.c_void_p,
                                  ctypes.c_uint)
        self._create_copy = _function(lib.afb_data_create_copy, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                                      ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t)
        self._reply = _function(lib.afb_req_v4_reply_hookable, None, ctypes.c_void_p, ctypes.c_int,
                                ctypes.c_uint, ctypes.POINTER(ctypes.c_void_p))
        self._stringz = ctypes.addressof(ctypes.c_char.in_dll(lib, "afb_type_predefined_stringz"))
        self._json = ctypes.addressof(ctypes.c_char.in_dll(lib, "afb_type_predefined_json"))
        self._call = _function(lib.afb_api_v4_call_hookable, None, ctypes.c_void_p, ctypes.c_char_p,
                               ctypes.c_char_p, ctypes.c_uint, ctypes.POINTER(ctypes.c_void_p), CALL_CALLBACK,
                               ctypes.c_void_p)
        self._convert = _function(lib.afb_data_convert, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                  ctypes.POINTER(ctypes.c_void_p))
        self._data_pointer = _function(lib.afb_data_ro_pointer, ctypes.c_void_p, ctypes.c_void_p)
        self._data_unref = _function(lib.afb_data_unref, None, ctypes.c_void_p)
        self._parameters = _function(lib.afb_req_v4_parameters, ctypes.c_uint, ctypes.c_void_p,
                                     ctypes.POINTER(ctypes.POINTER(ctypes.c_void_p)))
        self._check = _function(lib.afb_perm_check_async, None, ctypes.c_char_p, ctypes.c_char_p,
                                ctypes.c_char_p, ctypes.c_char_p, CHECK_CALLBACK, ctypes.c_void_p)
        self._call_done = CALL_CALLBACK(self._called)  # one trampoline for the process's life
        self._check_done = CHECK_CALLBACK(self._checked)
        self._pending_calls: dict[int, CallDone] = {}
        self._pending_checks: dict[int, Callable[[int], None]] = {}
        self._call_ids = itertools.count(1)
        self._calls_lock = threading.Lock()
        self._statics_offset: int | None = None  # of `verbs.statics` in `struct afb_api_v4`
        self._verb_trampoline = ctypes.cast(lib.GlueApiVerbCb, ctypes.c_void_p).value
        self._info_callback = ctypes.cast(lib.GlueInfoCb, ctypes.c_void_p).value
        self._verbs_magic = ctypes.cast(lib.AfbAddVerbs, ctypes.c_void_p).value
        self._kept: list[Any] = []  # what libafb points at for the process's life

    def pointer(self, capsule: Any) -> int:
        """The glue handle a capsule (request, api) wraps."""
        return int(self._capsule_pointer(capsule, CAPSULE_NAME))

    def hold(self, request_handle: int) -> None:
        self._addref(request_handle)

    def release(self, request_handle: int) -> None:
        """Drop our reference; every Python reference to the request capsule must be gone."""
        self._unref(request_handle)

    def reply_text(self, request_handle: int, status: int, text: str) -> None:
        """Reply `status` with `text` as a string datum (the envelope's info, unquoted)."""
        replied = ctypes.c_int.from_address(request_handle + REQUEST_REPLIED_OFFSET)
        if replied.value:
            return
        replied.value = 1
        encoded = text.encode("utf-8", "replace") + b"\0"
        data = (ctypes.c_void_p * 1)()
        if self._create_copy(data, self._stringz, encoded, len(encoded)) < 0:
            raise MemoryError("libafb could not allocate the reply")
        request = ctypes.c_void_p.from_address(request_handle + REQUEST_AFB_OFFSET).value
        self._reply(request, status, 1, data)

    def arguments(self, request_capsule: Any) -> list[Any]:
        """The request's arguments as JSON values (None for one that is not JSON)."""
        request = ctypes.c_void_p.from_address(self.pointer(request_capsule) + REQUEST_AFB_OFFSET).value
        params = ctypes.POINTER(ctypes.c_void_p)()
        count = self._parameters(request, ctypes.byref(params))
        return [self._value(params[index]) for index in range(count)]

    def call(self, caller_capsule: Any, api: str, verb: str, args: Any, done: CallDone) -> None:
        """Call api/verb with one JSON argument; `done(status, replies)` runs on a libafb thread."""
        with self._calls_lock:
            key = next(self._call_ids)
            self._pending_calls[key] = done
        text = json.dumps(args).encode() + b"\0"
        params = (ctypes.c_void_p * 1)()
        if self._create_copy(params, self._json, text, len(text)) < 0:
            raise MemoryError("libafb could not allocate the call's argument")
        caller = self._api_of(self.pointer(caller_capsule))
        self._call(caller, api.encode(), verb.encode(), 1, params, self._call_done, key)  # takes params

    def _called(self, key: int, status: int, count: int, replies: Any, _api: int) -> None:
        with self._calls_lock:
            done = self._pending_calls.pop(key)
        done(status, [self._value(replies[index]) for index in range(count)])

    def check_permission(self, client: str, user: str, permission: str, done: Callable[[int], None]) -> None:
        """Ask the backend whether `user` (uid text) of `client` (label) holds `permission`;
        `done(status)` (> 0 granted) runs at once or later on a libafb thread."""
        with self._calls_lock:
            key = next(self._call_ids)
            self._pending_checks[key] = done
        self._check(client.encode(), user.encode(), b"", permission.encode(), self._check_done, key)

    def _checked(self, key: int, status: int) -> None:
        with self._calls_lock:
            done = self._pending_checks.pop(key)
        done(status)

    def _value(self, data: int | None) -> Any:
        """A reply datum as Python: converted to JSON text by libafb, then decoded."""
        converted = ctypes.c_void_p()
        if not data or self._convert(data, self._json, ctypes.byref(converted)) < 0:
            return None
        try:
            text = ctypes.string_at(self._data_pointer(converted)).decode("utf-8", "replace")
        finally:
            self._data_unref(converted)
        try:
            return json.loads(text)
        except ValueError:
            return text

    def wakeup(self) -> None:
        self._wakeup()

    def pending_jobs(self) -> int:
        return int(self._pending())

    def max_jobs(self) -> int:
        return int(self._max_jobs())

    def set_max_jobs(self, count: int) -> None:
        self._set_max_jobs(count)

    def set_sessions(self, count: int, timeout: int) -> None:
        if self._session_init(count, timeout) < 0:
            raise RuntimeError(f"libafb refused a session cap of {count}")

    def replace_info_verb(self, api_capsule: Any, handler: Callable[..., Any], info: str | None) -> None:
        """Point the glue's implicit `info` verb of this API at `handler` (a verb callback)."""
        api = self._api_of(self.pointer(api_capsule))
        for index in range(self._verb_count(api)):
            record = self._verb_at(api, index).contents
            if record.verb == b"info" and record.callback == self._info_callback:
                data = VerbData(magic=self._verbs_magic, uid=b"info", callback=id(handler))
                text = ctypes.create_string_buffer(info.encode()) if info is not None else None
                self._kept.extend((handler, data, text))
                record.vcbdata = ctypes.addressof(data)
                record.info = ctypes.addressof(text) if text is not None else None
                record.callback = self._verb_trampoline
                return
        raise RuntimeError("the glue's implicit info verb was not found (framework layout changed)")

    def locate_verb_tables(self, api_capsule: Any) -> None:
        """Find where libafb keeps an API's verb tables (once, on the first API created).

        `struct afb_api_v4` holds `verbs.statics`, `verbs.dynamics`, then the two counts;
        `dynamics` is the pointer whose entries are what `afb_api_v4_verb_at` returns."""
        if self._statics_offset is not None:
            return
        api = self._api_of(self.pointer(api_capsule))
        count = self._verb_count(api)
        records = [ctypes.addressof(self._verb_at(api, index).contents) for index in range(count)]
        size = ctypes.sizeof(ctypes.c_void_p)
        for offset in range(size, API_RECORD_SEARCH, size):
            table = ctypes.c_void_p.from_address(api + offset).value
            if not table or not records or ctypes.c_void_p.from_address(api + offset - size).value is not None:
                continue
            if (ctypes.c_uint16.from_address(api + offset + size).value,
                    ctypes.c_uint16.from_address(api + offset + size + 2).value) != (0, count):
                continue
            if [ctypes.c_void_p.from_address(table + index * size).value for index in range(count)] == records:
                self._statics_offset = offset - size
                return
        raise RuntimeError("libafb's verb tables were not found (framework layout changed)")

    def auth_of(self, api_capsule: Any, verb: str) -> int | None:
        """The `struct afb_auth` libafb compiled for a registered verb (to guard added verbs alike)."""
        api = self._api_of(self.pointer(api_capsule))
        for index in range(self._verb_count(api)):
            record = self._verb_at(api, index).contents
            if record.verb == verb.encode():
                return record.auth
        return None

    def set_static_verbs(self, api_capsule: Any, verbs: list[tuple[str, Callable[..., Any], str | None, int | None]]) -> None:
        """Make `verbs` (name, handler, info, auth) the API's static verbs; each call passes the
        previous call's verbs first, then the new ones."""
        assert self._statics_offset is not None, "locate_verb_tables first"
        table = (VerbRecord * (len(verbs) + 1))()
        for record, (name, handler, info, auth) in zip(table, verbs):
            data = VerbData(magic=self._verbs_magic, uid=name.encode(), callback=id(handler))
            text = ctypes.create_string_buffer(info.encode()) if info is not None else None
            self._kept.extend((handler, data, text))
            record.verb = name.encode()  # kept alive by the table
            record.info = ctypes.addressof(text) if text is not None else None
            record.callback = self._verb_trampoline
            record.auth = auth
            record.vcbdata = ctypes.addressof(data)
        self._kept.append(table)
        api = self._api_of(self.pointer(api_capsule))
        # the new table extends the old one: a reader sees the old or the new table, each whole,
        # and the count (read by afb_api_v4_verb_at only) never exceeds the table it reads
        ctypes.c_void_p.from_address(api + self._statics_offset).value = ctypes.addressof(table)
        count_offset = self._statics_offset + 2 * ctypes.sizeof(ctypes.c_void_p)  # sta_verb_count follows
        ctypes.c_uint16.from_address(api + count_offset).value = len(verbs)


def _function(symbol: Any, restype: Any, *argtypes: Any) -> Any:
    symbol.restype = restype
    symbol.argtypes = list(argtypes)
    return symbol
