# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Readiness of a host's services, polled together under one deadline (the ``host_ready`` module).

A check is an HTTP(S) URL that must answer with an expected status (optionally with a client certificate), or a TCP
port that must accept a connection. ``wait(checks, timeout)`` polls every check not ready yet, once per
``interval``, on a monotonic clock, until all are ready or the deadline passes; it returns one result per check.
Standard library only: it runs on the managed host.
"""

from __future__ import absolute_import, annotations, division, print_function

import socket
import ssl
import time
from urllib.error import HTTPError, URLError
from urllib.request import HTTPSHandler, build_opener

from ansible_collections.kubesmith.cluster.plugins.module_utils.net.tls import TlsSetupError, client_context


class HostReadyError(Exception):
    pass


def _http(check, timeout):
    url = check["url"]
    if url.startswith("https://"):
        if check.get("validate_certs", True):
            context = client_context(check.get("ca_path"), check.get("client_cert"), check.get("client_key"),
                                     ca_option="ca_path")
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            if check.get("client_cert"):
                context.load_cert_chain(check["client_cert"], check.get("client_key"))
        opener = build_opener(HTTPSHandler(context=context))
    else:
        opener = build_opener()
    try:
        with opener.open(url, timeout=timeout) as response:
            status = response.status
    except HTTPError as exc:
        status = exc.code
    return status == check.get("status", 200), "HTTP %d" % status


def _tcp(check, timeout):
    with socket.create_connection((check["host"], int(check["port"])), timeout=timeout):
        return True, "connected"


def probe_once(check: dict, timeout: float = 5) -> tuple[bool, str]:
    """(ready, detail) of one attempt; network errors are 'not ready', set-up errors (bad TLS files) raise."""
    try:
        return _http(check, timeout) if check.get("url") else _tcp(check, timeout)
    except TlsSetupError as exc:
        raise HostReadyError("%s: %s" % (name_of(check), exc)) from None
    except (URLError, OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return False, str(reason)


def name_of(check: dict) -> str:
    return check.get("name") or check.get("url") or "%s:%s" % (check.get("host"), check.get("port"))


def validate(checks: list[dict]) -> None:
    if not checks:
        raise HostReadyError("no checks given")
    for check in checks:
        has_url, has_tcp = bool(check.get("url")), bool(check.get("host")) and check.get("port") is not None
        if has_url == has_tcp:
            raise HostReadyError("%s: give either url, or host and port" % name_of(check))
        if has_url and not check["url"].startswith(("http://", "https://")):
            raise HostReadyError("%s: the url must be http:// or https://" % name_of(check))


def wait(checks, timeout, interval=1.0, attempt_timeout=5.0, probe=probe_once, clock=time.monotonic,
         pause=time.sleep) -> list[dict]:
    """Poll until every check is ready or ``timeout`` seconds passed. Returns a list of dicts (name, ready, detail,
    attempts, seconds), in the order of ``checks``."""
    validate(checks)
    start = clock()
    deadline = start + timeout
    results = [dict(name=name_of(c), ready=False, detail="not tried", attempts=0, seconds=None) for c in checks]
    while True:
        for check, result in zip(checks, results):
            if result["ready"]:
                continue
            result["attempts"] += 1
            result["ready"], result["detail"] = probe(check, min(attempt_timeout, max(deadline - clock(), 0.1)))
            if result["ready"]:
                result["seconds"] = round(clock() - start, 1)
        if all(r["ready"] for r in results) or clock() >= deadline:
            return results
        pause(max(min(interval, deadline - clock()), 0))


def failure_message(results: list[dict], timeout: float) -> str:
    waiting = [r for r in results if not r["ready"]]
    return "not ready after %ss: %s" % (timeout, "; ".join("%s (%s, %d attempts)" % (r["name"], r["detail"],
                                                                                    r["attempts"]) for r in waiting))
