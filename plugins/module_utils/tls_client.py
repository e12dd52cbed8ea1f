# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The client-side TLS context shared by kubesmith's standard-library HTTPS clients (etcd_client, kube_api).

Public interface::

    client_context(ca, client_cert, client_key, ca_option="ca_file") -> ssl.SSLContext
    TlsSetupError (ValueError): a file missing or unreadable, a bad CA bundle, a certificate and key that do not
                                load together; the message names the option (``ca_option`` for the CA)

Each client turns :class:`TlsSetupError` into its own error type (kind ``config``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import ssl


class TlsSetupError(ValueError):
    """The TLS files given cannot be used; the message names the option to fix."""


def check_readable(option, path):
    """Raise :class:`TlsSetupError` unless ``path`` is a file this user can read."""
    if not os.path.isfile(path):
        raise TlsSetupError("%s %s does not exist or is not a file" % (option, path))
    if not os.access(path, os.R_OK):
        raise TlsSetupError("%s %s is not readable by this user" % (option, path))


def client_context(ca=None, client_cert=None, client_key=None, ca_option="ca_file"):
    """An SSLContext that trusts ``ca`` (else the system store), checks host names and presents the client
    certificate when given (``client_cert`` and ``client_key`` go together)."""
    if bool(client_cert) != bool(client_key):
        raise TlsSetupError("client_cert and client_key must be given together")
    for option, path in ((ca_option, ca), ("client_cert", client_cert), ("client_key", client_key)):
        if path:
            check_readable(option, path)
    try:
        context = ssl.create_default_context(cafile=ca or None)
    except (ssl.SSLError, OSError) as exc:
        raise TlsSetupError("%s %s is not a PEM CA bundle: %s" % (ca_option, ca, exc)) from exc
    if client_cert:
        try:
            context.load_cert_chain(client_cert, client_key)
        except (ssl.SSLError, OSError) as exc:
            raise TlsSetupError(
                "cannot load client_cert %s with client_key %s (not PEM, or the key does not match the "
                "certificate): %s" % (client_cert, client_key, exc)
            ) from exc
    return context
