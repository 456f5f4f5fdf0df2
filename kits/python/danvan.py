"""danvan — Python kit for libdanvan.so (ctypes, standard library only).

    from danvan import Plugin, InvalidInput, RetryLater
    with Plugin.load("/usr/lib/x86_64-linux-gnu/libdanvan.so.1",
                     {"instance": "mc-hp", "storage": {"path": "/var/lib/danvan/danvan.sqlite"}},
                     log=my_log) as p:
        p.start()
        r = p.submit({"kind": "petition", ...})        # SubmitResult; raises InvalidInput
        stats = p.query("stats")

Strings cross the ABI as UTF-8 bytes with their byte length (never len() of a str). Every call
takes the handle's lifecycle guard: close() waits for the calls under way and later calls raise
BadState. Callbacks are kept alive for the handle's life; an exception inside one is caught
(and counted in Plugin.callback_errors), never propagated into the plugin.
"""
from __future__ import annotations

import ctypes
import json
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

ABI_MAJOR = 1
ABI_MINOR = 1

OK, RETRY_LATER, INVALID_INPUT, NOT_FOUND, CONFLICT, IO_ERROR, INTERNAL, ABI_MISMATCH, BAD_STATE = range(9)

_LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_size_t)
_ALERT_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_NOW_FN = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p)
_SECRET_FN = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                              ctypes.c_size_t)


class _HostServices(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("user_data", ctypes.c_void_p),
                ("log", _LOG_FN), ("alert", _ALERT_FN), ("now_ms", _NOW_FN), ("secret", _SECRET_FN)]


_P = ctypes.c_void_p
_PP = ctypes.POINTER(ctypes.c_void_p)
_SZ = ctypes.POINTER(ctypes.c_size_t)


class _Api(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32), ("abi_major", ctypes.c_uint32), ("abi_minor", ctypes.c_uint32),
        ("plugin_name", ctypes.c_char_p), ("plugin_version", ctypes.c_char_p), ("build_id", ctypes.c_char_p),
        ("open", ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_char_p, ctypes.c_size_t,
                                  ctypes.POINTER(_HostServices), _PP, _PP)),
        ("start", ctypes.CFUNCTYPE(ctypes.c_int32, _P, _PP)),
        ("stop", ctypes.CFUNCTYPE(ctypes.c_int32, _P, ctypes.c_uint32, _PP)),
        ("close", ctypes.CFUNCTYPE(None, _P)),
        ("submit", ctypes.CFUNCTYPE(ctypes.c_int32, _P, ctypes.c_char_p, ctypes.c_size_t, _PP, _SZ, _PP)),
        ("submit_batch", ctypes.CFUNCTYPE(ctypes.c_int32, _P, ctypes.c_char_p, ctypes.c_size_t, _PP, _SZ, _PP)),
        ("query", ctypes.CFUNCTYPE(ctypes.c_int32, _P, ctypes.c_char_p, ctypes.c_size_t, _PP, _SZ, _PP)),
        ("free", ctypes.CFUNCTYPE(None, _P)),
        ("status_name", ctypes.CFUNCTYPE(ctypes.c_char_p, ctypes.c_int32)),
    ]


# ---- errors -------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldError:
    code: str
    path: str
    message: str
    message_en: str


class DanvanError(Exception):
    """A failed call: `status` (int), `errors` (FieldError list) and the raw `document`."""
    status = INTERNAL

    def __init__(self, status: int, document: Any, result: Optional[dict] = None):
        self.status = status
        self.document = document
        self.result = result
        errs = document.get("errors", []) if isinstance(document, dict) else []
        self.errors = [FieldError(e.get("code", ""), e.get("path", ""), e.get("message", ""),
                                  e.get("message_en", "")) for e in errs]
        text = "; ".join(f"{e.path or '-'} [{e.code}] {e.message}" for e in self.errors) or str(document)
        super().__init__(f"{_STATUS_NAMES.get(status, status)}: {text}")

    @property
    def codes(self) -> list:
        return [e.code for e in self.errors]


class RetryLater(DanvanError): pass
class InvalidInput(DanvanError): pass
class NotFound(DanvanError): pass
class Conflict(DanvanError): pass
class StorageError(DanvanError): pass
class InternalError(DanvanError): pass
class AbiMismatch(DanvanError): pass
class BadState(DanvanError): pass


_STATUS_NAMES = {OK: "ok", RETRY_LATER: "retry_later", INVALID_INPUT: "invalid_input", NOT_FOUND: "not_found",
                 CONFLICT: "conflict", IO_ERROR: "io_error", INTERNAL: "internal",
                 ABI_MISMATCH: "abi_mismatch", BAD_STATE: "bad_state"}
_EXCEPTIONS = {RETRY_LATER: RetryLater, INVALID_INPUT: InvalidInput, NOT_FOUND: NotFound, CONFLICT: Conflict,
               IO_ERROR: StorageError, INTERNAL: InternalError, ABI_MISMATCH: AbiMismatch, BAD_STATE: BadState}


def _raise(status: int, document: Any, result: Optional[dict] = None):
    raise _EXCEPTIONS.get(status, DanvanError)(status, document, result)


# ---- results ------------------------------------------------------------------------------

@dataclass
class SubmitResult:
    outcome: str                 # accepted | duplicate | stale | rejected
    key: dict
    errors: list = field(default_factory=list)   # FieldError list (rejected)
    raw: dict = field(default_factory=dict)

    @staticmethod
    def of(j: dict) -> "SubmitResult":
        return SubmitResult(j.get("outcome", ""), j.get("key", {}),
                            [FieldError(e.get("code", ""), e.get("path", ""), e.get("message", ""),
                                        e.get("message_en", "")) for e in j.get("errors", [])], j)


@dataclass
class BatchResult:
    results: list   # SubmitResult per input line (empty lines skipped)
    summary: dict


def _utf8(value: Any) -> bytes:
    """bytes as they are; str encoded to UTF-8; anything else as JSON (UTF-8, not ASCII-escaped)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ---- library ------------------------------------------------------------------------------

class Library:
    """libdanvan.so loaded and its function table checked (ABI major and table size)."""

    def __init__(self, path: str, abi_major: int = ABI_MAJOR):
        self.path = path
        self._cdll = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
        get_api = self._cdll.danvan_get_api
        get_api.restype = ctypes.POINTER(_Api)
        get_api.argtypes = [ctypes.c_uint32, ctypes.POINTER(ctypes.c_char_p)]
        reason = ctypes.c_char_p()
        api = get_api(abi_major, ctypes.byref(reason))
        if not api:
            msg = reason.value.decode("utf-8") if reason.value else "ABI mismatch"
            _raise(ABI_MISMATCH, {"status": "abi_mismatch",
                                  "errors": [{"code": "abi.mismatch", "path": "", "message": msg,
                                              "message_en": msg}]})
        if api.contents.struct_size < ctypes.sizeof(_Api):
            _raise(ABI_MISMATCH, {"status": "abi_mismatch", "errors": [{
                "code": "abi.table_size", "path": "",
                "message": f"bảng hàm {api.contents.struct_size} byte < {ctypes.sizeof(_Api)}",
                "message_en": f"function table {api.contents.struct_size} bytes < {ctypes.sizeof(_Api)}"}]})
        self.api = api.contents
        self.version = self.api.plugin_version.decode()
        self.abi = (self.api.abi_major, self.api.abi_minor)

    def take(self, ptr: ctypes.c_void_p, length: Optional[int] = None) -> Optional[bytes]:
        """Copies and frees a string the plugin returned."""
        if not ptr.value:
            return None
        try:
            return ctypes.string_at(ptr.value, length) if length is not None else ctypes.string_at(ptr.value)
        finally:
            self.api.free(ptr.value)


class Plugin:
    """One danvan handle. Thread-safe: any number of threads may submit/query at once."""

    def __init__(self, lib: Library, config: Any, *, log: Optional[Callable[[int, dict], None]] = None,
                 alert: Optional[Callable[[dict], None]] = None,
                 secret: Optional[Callable[[str], Optional[str]]] = None,
                 now_ms: Optional[Callable[[], int]] = None):
        self._lib = lib
        self._api = lib.api
        self._cond = threading.Condition()
        self._active = 0
        self._closed = False
        self.callback_errors = 0
        # The callbacks stay referenced by self for the handle's whole life (ctypes would
        # otherwise free the trampolines while the plugin still calls them).
        self._cb = []
        hs = _HostServices()
        hs.struct_size = ctypes.sizeof(_HostServices)
        if log:
            def _log(_u, level, msg, n):
                try:
                    log(level, json.loads(ctypes.string_at(msg, n).decode("utf-8")))
                except BaseException:  # never into the plugin
                    self.callback_errors += 1
            hs.log = _LOG_FN(_log)
            self._cb.append(hs.log)
        if alert:
            def _alert(_u, a, n):
                try:
                    alert(json.loads(ctypes.string_at(a, n).decode("utf-8")))
                except BaseException:
                    self.callback_errors += 1
            hs.alert = _ALERT_FN(_alert)
            self._cb.append(hs.alert)
        if now_ms:
            def _now(_u):
                try:
                    return int(now_ms())
                except BaseException:
                    self.callback_errors += 1
                    import time
                    return int(time.time() * 1000)
            hs.now_ms = _NOW_FN(_now)
            self._cb.append(hs.now_ms)
        if secret:
            def _secret(_u, name, buf, n):
                try:
                    v = secret(name.decode("utf-8"))
                    if v is None:
                        return -1
                    b = v.encode("utf-8")
                    ctypes.memmove(buf, b, min(len(b), n))
                    return len(b)
                except BaseException:
                    self.callback_errors += 1
                    return -1
            hs.secret = _SECRET_FN(_secret)
            self._cb.append(hs.secret)
        self._services = hs
        cfg = _utf8(config)
        handle = ctypes.c_void_p()
        err = ctypes.c_void_p()
        st = self._api.open(cfg, len(cfg), ctypes.byref(hs), ctypes.byref(handle), ctypes.byref(err))
        if st != OK:
            _raise(st, self._doc(err))
        self._handle = handle

    @classmethod
    def load(cls, library_path: str, config: Any, **callbacks) -> "Plugin":
        return cls(Library(library_path), config, **callbacks)

    # -- lifecycle guard: calls share, close is exclusive --------------------------------------
    def _enter(self):
        with self._cond:
            if self._closed:
                _raise(BAD_STATE, {"status": "bad_state", "errors": [{
                    "code": "state.bad", "path": "", "message": "handle đã đóng",
                    "message_en": "the handle is closed"}]})
            self._active += 1

    def _leave(self):
        with self._cond:
            self._active -= 1
            if self._active == 0:
                self._cond.notify_all()

    def _doc(self, err: ctypes.c_void_p) -> Any:
        raw = self._lib.take(err)
        if raw is None:
            return {}
        try:
            return json.loads(raw.decode("utf-8"))
        except ValueError:
            return {"errors": [{"code": "", "path": "", "message": raw.decode("utf-8", "replace"),
                                "message_en": ""}]}

    def _call_out(self, fn, payload: bytes):
        out, n, err = ctypes.c_void_p(), ctypes.c_size_t(), ctypes.c_void_p()
        st = fn(self._handle, payload, len(payload), ctypes.byref(out), ctypes.byref(n), ctypes.byref(err))
        body = self._lib.take(out, n.value)
        doc = self._doc(err)
        return st, (json.loads(body.decode("utf-8")) if body else None), doc

    def start(self):
        self._enter()
        try:
            err = ctypes.c_void_p()
            st = self._api.start(self._handle, ctypes.byref(err))
            if st != OK:
                _raise(st, self._doc(err))
        finally:
            self._leave()

    def stop(self, timeout_ms: int = 5000):
        self._enter()
        try:
            err = ctypes.c_void_p()
            st = self._api.stop(self._handle, timeout_ms, ctypes.byref(err))
            if st != OK:
                _raise(st, self._doc(err))
        finally:
            self._leave()

    def close(self):
        """Refuses new calls, waits for the calls under way, then closes. Idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            while self._active:
                self._cond.wait()
        self._api.close(self._handle)
        self._handle = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def submit(self, event: Any) -> SubmitResult:
        """One event (dict, str or UTF-8 bytes). Raises InvalidInput (with .errors and .result)
        when rejected, RetryLater on back-pressure."""
        self._enter()
        try:
            st, res, doc = self._call_out(self._api.submit, _utf8(event))
        finally:
            self._leave()
        if st != OK:
            _raise(st, doc, res)
        return SubmitResult.of(res)

    def submit_batch(self, events: Iterable[Any]) -> BatchResult:
        """Events as one JSON Lines payload (one transaction). Rejected lines are in the results."""
        if isinstance(events, (bytes, bytearray, str)):
            payload = _utf8(events)
        else:
            payload = b"\n".join(_utf8(e).replace(b"\n", b" ") for e in events)
        self._enter()
        try:
            st, res, doc = self._call_out(self._api.submit_batch, payload)
        finally:
            self._leave()
        if st != OK:
            _raise(st, doc, res)
        return BatchResult([SubmitResult.of(r) for r in res.get("results", [])], res.get("summary", {}))

    def query(self, op: str, **args) -> dict:
        req = dict(args)
        req["op"] = op
        self._enter()
        try:
            st, res, doc = self._call_out(self._api.query, _utf8(req))
        finally:
            self._leave()
        if st != OK:
            _raise(st, doc)
        return res
