#!/usr/bin/env python3
"""moto's S3 server, with authentication on, for pgsweep's tests and benchmarks.

Usage: moto-server.py PORT

moto 5.2 checks a request's signature against the URL its web layer rebuilt from the
already-decoded path and query, so a correctly signed request whose query holds '/', ':' or
',' (a listing with prefix=a/b/), or whose key holds '+', '=' or ':', is refused. Real S3
signs what was sent. This wrapper hands moto the raw request target (the server's RAW_URI)
as the request's URL, so the check sees the bytes the client signed. It also lets STS
AssumeRoleWithWebIdentity through unsigned, as AWS does.

The first INITIAL_NO_AUTH_ACTION_COUNT requests (default 4) are unauthenticated: ops/s3local
uses them to create an IAM user, its access key, its policy and a bucket.
"""
import os
import sys

os.environ.setdefault("INITIAL_NO_AUTH_ACTION_COUNT", "4")

import flask  # noqa: E402
from moto.server import main  # noqa: E402

_decoded_url = flask.Request.url


def _raw_url(self):
    raw = self.environ.get("RAW_URI") or self.environ.get("REQUEST_URI")
    if not raw:
        return _decoded_url.__get__(self)
    return f"{self.scheme}://{self.host}{raw}"


flask.Request.url = property(_raw_url)

# STS AssumeRoleWithWebIdentity is unsigned in AWS (the web identity token is the proof);
# moto with authentication on would demand a signature for it too.
from moto.core.authorization import ActionAuthenticatorMixin  # noqa: E402

_authenticate = ActionAuthenticatorMixin._authenticate_and_authorize_action


def _authenticate_unless_web_identity(self, iam_request_cls, resource="*"):
    if self._get_action() == "AssumeRoleWithWebIdentity":
        return
    return _authenticate(self, iam_request_cls, resource)


ActionAuthenticatorMixin._authenticate_and_authorize_action = _authenticate_unless_web_identity

if __name__ == "__main__":
    main(["-H", "127.0.0.1", "-p", sys.argv[1]])
